"""The "whole text" button under a card: one answer in full, sent to the person who pressed it."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import clock
from bot.calendar import local_date
from bot.forms.summary import FULL_TEXT
from bot.models import Staff
from bot.render import render
from bot.services import fulltext
from bot.state import BotContext
from handlers.access import staff_only, stale_data
from handlers.reply import acknowledge, reply, send_private


@staff_only()
async def show_full_text(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """Send the answer in full; a gone object or a stranger's press is refused."""
    kind, object_id, key = FULL_TEXT.unpack(update.callback_query.data)
    today = local_date(clock.now(), context.settings.team.tz)
    found = await fulltext.answer(
        session, me, kind, int(object_id), key, context.settings.reports, today
    )
    if found is None:
        await stale_data(update, session, me)
        return
    await acknowledge(update)
    label, text = found
    if update.effective_chat.type == "private":
        await reply(update, me.locale, "form_full_text.html.j2", label=label, text=text)
        return
    # Pressed in the team group: the text goes to the presser's private chat, not the group.
    body = render("form_full_text.html.j2", me.locale, label=label, text=text)
    await send_private(update, me.telegram_id, body)


def register(app) -> None:
    """The "whole text" buttons of report, draft and plan cards."""
    app.add_handler(CallbackQueryHandler(show_full_text, pattern=FULL_TEXT.pattern))
