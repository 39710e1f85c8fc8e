"""/synonyms: the words a person taught the sentence reader (拉新 = registrations), each with
a button to forget it."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import ID, Action
from bot.i18n import t
from bot.models import PersonalSynonym, Staff
from bot.services import synonyms
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import acknowledge, edit, reply, rows_of

FORGET = Action("syn", "rm:{id}", id=ID)


@staff_only()
async def show_synonyms(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/synonyms: my own words, by form."""
    rows = await synonyms.mine(session, me.id)
    await reply(update, me.locale, "synonyms.html.j2", _buttons(rows, me.locale),
                **_view(rows, context, me.locale))  # fmt: skip


@staff_only()
async def forget_synonym(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """🗑 under /synonyms: forget one of my words (someone else's id changes nothing)."""
    (synonym_id,) = FORGET.unpack(update.callback_query.data)
    removed = await synonyms.remove(session, me.id, int(synonym_id))
    await acknowledge(update)
    rows = await synonyms.mine(session, me.id)
    gone = removed.phrase if removed else None
    await edit(update, me.locale, "synonyms.html.j2", _buttons(rows, me.locale), removed=gone,
               **_view(rows, context, me.locale))  # fmt: skip


def _view(rows: list[PersonalSynonym], context: BotContext, locale: str) -> dict:
    reports = context.settings.reports
    items = []
    for row in rows:
        form = reports.form(row.form_key)
        field = form.field(row.field) if form else None
        items.append({
            "phrase": row.phrase,
            "form": form.name.get(locale) if form else row.form_key,
            "field": field.label.get(locale) if field else row.field,
        })  # fmt: skip
    return {"items": items}


def _buttons(rows: list[PersonalSynonym], locale: str):
    labels = [(t(locale, "🗑 %(phrase)s", phrase=row.phrase[:30]), FORGET.pack(row.id))
              for row in rows[:50]]  # fmt: skip
    return rows_of(labels, 3)


def register(app) -> None:
    """/synonyms in private chats, and its 🗑 buttons."""
    app.add_handler(CommandHandler("synonyms", show_synonyms, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(forget_synonym, pattern=FORGET.pattern))
