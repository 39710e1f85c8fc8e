"""What an approved request still asks of its proposer, on Telegram: the published link typed
after the bot asked for it (handlers/text.py routes it here)."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.models import Prompt, Staff
from bot.services import approval_followups
from bot.services.approval_followups import FollowupError
from bot.state import BotContext
from handlers.reply import reply


async def take_link(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, prompt: Prompt
) -> None:
    """The published link: kept and passed on; anything but a link is answered with what to
    send."""
    text = update.effective_message.text or ""
    try:
        row = await approval_followups.give_link(session, me, prompt, text)
    except FollowupError as exc:
        await reply(update, me.locale, "approval_followup_error.html.j2", reason=exc.reason)
        return
    request = await approval_followups.request_of(session, row)
    await reply(
        update, me.locale, "approval_followup_done.html.j2", kind=row.kind, title=request.title,
        figures_days=approval_followups.figures_days(request),
        next_title=await approval_followups.next_link(session, me),
    )  # fmt: skip
