"""Photos and documents sent in a private chat: the answer to the file question of the form
being filled, else a short note on what the bot does with files."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.ext import MessageHandler, filters

from bot import clock
from bot.calendar import local_date
from bot.forms import flow
from bot.forms.flow import FlowContext
from bot.forms.spec import FILE_TYPES, FormSpec
from bot.models import Staff
from bot.services import prompts, tasks
from bot.state import BotContext
from handlers import tasks as task_handlers
from handlers.access import staff_only
from handlers.reply import reply, send_rendered
from handlers.report_view import keyboard, render_step


@staff_only()
async def take_file(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """A photo or document (one message of an album each): added to the draft's file question."""
    prompt = await prompts.current(session, me.id)
    if prompt is not None and tasks.takes_file(prompt):  # 📝 a task done with a file
        await task_handlers.take_file(
            update, context, session, me, prompt, incoming(update.effective_message)
        )
        return
    draft = await flow.draft_of(session, me.id)
    form = context.settings.reports.form(draft.form_key) if draft else None
    if draft is None or form is None:
        forms = [f"/{f.command} {f.name.get(me.locale)}" for f in _file_forms(context, me)]
        await reply(update, me.locale, "file_unexpected.html.j2", forms=forms)
        return
    ctx = FlowContext(
        staff=me,
        form=form,
        reports=context.settings.reports,
        today=local_date(clock.now(), context.settings.team.tz),
        team_locale=context.settings.team.locale,
        pools=context.settings.budgets.pools,
    )
    step = await flow.answer_file(session, draft, ctx, incoming(update.effective_message))
    await send_rendered(update, render_step(step, ctx), keyboard(step, ctx))


def incoming(message: Message) -> dict[str, Any]:
    """What a message carries, as bot/forms/fields.check_file reads it (a photo: its largest
    size, the one worth keeping; Telegram sends several)."""
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return {"kind": "photo", "file_id": largest.file_id, "name": "", "mime": "image/jpeg",
                "file_unique_id": largest.file_unique_id, "size": largest.file_size}  # fmt: skip
    doc = message.document
    return {"kind": "document", "file_id": doc.file_id, "name": doc.file_name or "",
            "file_unique_id": doc.file_unique_id, "size": doc.file_size,
            "mime": doc.mime_type or ""}  # fmt: skip


def _file_forms(context: BotContext, me: Staff) -> list[FormSpec]:
    return [
        f
        for f in context.settings.reports.forms
        if me.role_names & set(f.roles) and any(x.type in FILE_TYPES for x in f.fields)
    ]


def register(app) -> None:
    """Photos and documents in private chats (forwarded ones are feedback: handlers/feedback)."""
    sent = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.FORWARDED
    app.add_handler(MessageHandler(sent & (filters.PHOTO | filters.Document.ALL), take_file))
