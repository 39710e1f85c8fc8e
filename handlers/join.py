"""A director's press on a join card: approve or reject, exactly once."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.models import Staff
from bot.services import joining
from bot.services.joining import APPROVE, REJECT, JoinError
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import answer_alert, answer_note
from handlers.start import explain, owe_from_now


@staff_only("director")
async def approve_join(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Approve the request named in the button."""
    (request_id,) = APPROVE.unpack(update.callback_query.data)
    await _decide(update, context, session, director, int(request_id), approve=True)


@staff_only("director")
async def reject_join(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Reject the request named in the button."""
    (request_id,) = REJECT.unpack(update.callback_query.data)
    await _decide(update, context, session, director, int(request_id), approve=False)


async def _decide(update, context, session, director, request_id: int, approve: bool) -> None:
    try:
        decision = await joining.decide(session, request_id, approve, director)
    except JoinError as exc:
        await answer_alert(
            update, director.locale, "join_error.html.j2", **explain(exc, director.locale)
        )
        return
    if decision.staff is not None:
        await owe_from_now(session, context)
    await answer_note(
        update,
        director.locale,
        "join_decided_note.html.j2",
        approved=decision.staff is not None,
        name=decision.request.display_name,
    )


def register(app) -> None:
    """Join-card buttons."""
    # At most 18 ASCII digits: a longer (forged) id overflows BIGINT, and goes to stale_button.
    app.add_handler(CallbackQueryHandler(approve_join, pattern=APPROVE.pattern))
    app.add_handler(CallbackQueryHandler(reject_join, pattern=REJECT.pattern))
