"""Every typed private message, in one place: what the bot is waiting for from the sender
(services/prompts.py decides) names the one function that takes it, in one transaction."""

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.models import Prompt, Staff
from bot.services import prompts
from bot.services.prompts import Kind
from bot.state import BotContext
from handlers import activities, approval_followups, approvals, kpi_target, reports, tasks
from handlers.access import staff_only
from handlers.basics import unexpected_text_reply

Answer = Callable[[Update, BotContext, AsyncSession, Staff, Prompt | None], Awaitable[None]]

# A new "the next message is X" flow is one prompt kind and one entry here. Kinds answered by
# buttons only (prompts.BUTTONS_ONLY) never get a text.
ANSWERS: dict[Kind, Answer] = {
    Kind.FORM_ANSWER: reports.take_answer,
    Kind.DECISION_REASON: activities.take_reason,
    Kind.TARGET_VALUE: kpi_target.take_value,
    Kind.TASK_REPLY: tasks.take_reply,
    Kind.APPROVAL_REASON: approvals.take_reason,
    Kind.PUBLISHED_LINK: approval_followups.take_link,
}


@staff_only()
async def take_text(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """A typed message: the answer to the open prompt or to the form, else the polite fallback."""
    found = await prompts.answering(session, me.id, _reply_to(update))
    if found is None:
        await unexpected_text_reply(update, me)
        return
    await ANSWERS[found.kind](update, context, session, me, found.prompt)


def _reply_to(update: Update) -> int | None:
    """The bot's message this one replies to, if any (a reply names the prompt it answers)."""
    replied = update.effective_message.reply_to_message
    by_bot = replied is not None and replied.from_user is not None and replied.from_user.is_bot
    return replied.message_id if by_bot else None


def register(app) -> None:
    """The one handler of typed text in private chats (forwards stay with /feedback)."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    typed = private & filters.TEXT & ~filters.COMMAND & ~filters.FORWARDED
    app.add_handler(MessageHandler(typed, take_text))
