"""An approver's press on a join card (a director's, unless [roles] says otherwise): approve or
reject, exactly once."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.models import Staff
from bot.services import audit, joining
from bot.services.joining import APPROVE, REJECT, JoinError
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import answer_alert, answer_note
from handlers.start import explain, owe_from_now


# Any staff: who approves depends on the role asked for (joining.decide checks it).
@staff_only()
async def approve_join(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Approve the request named in the button."""
    (request_id,) = APPROVE.unpack(update.callback_query.data)
    await _decide(update, context, session, director, int(request_id), approve=True)


@staff_only()
async def reject_join(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Reject the request named in the button."""
    (request_id,) = REJECT.unpack(update.callback_query.data)
    await _decide(update, context, session, director, int(request_id), approve=False)


async def _decide(update, context, session, director, request_id: int, approve: bool) -> None:
    roles = context.settings.roles
    try:
        decision = await joining.decide(
            session, request_id, approve, director, roles, context.settings.reports.forms
        )
    except JoinError as exc:
        if exc.reason == "not_approver":
            await _refuse(update, session, director, roles, exc.details["approvers"])
            return
        why = explain(exc, director.locale, roles)
        await answer_alert(update, director.locale, "join_error.html.j2", **why)
        return
    if decision.staff is not None:
        await owe_from_now(session, context, decision.staff)
    await answer_note(
        update,
        director.locale,
        "join_decided_note.html.j2",
        approved=decision.staff is not None,
        name=decision.request.display_name,
    )


async def _refuse(update, session, me: Staff, roles, approvers: tuple[str, ...]) -> None:
    """The same refusal and audit entry staff_only gives a press without the right."""
    data = update.callback_query.data[:128]
    await audit.record(session, me.telegram_id, "access.refused", data, reason="forbidden")
    needed = ["director"] if approvers == ("director",) else roles.labels(set(approvers), me.locale)
    await answer_alert(update, me.locale, "refused.html.j2", reason="forbidden", roles=needed)


def register(app) -> None:
    """Join-card buttons."""
    # At most 18 ASCII digits: a longer (forged) id overflows BIGINT, and goes to stale_button.
    app.add_handler(CallbackQueryHandler(approve_join, pattern=APPROVE.pattern))
    app.add_handler(CallbackQueryHandler(reject_join, pattern=REJECT.pattern))
