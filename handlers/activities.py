"""Activity plans on Telegram: directors' card presses and reasons, cards again, my plans."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, filters

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import local_date
from bot.i18n import t
from bot.models import Prompt, Staff
from bot.services import activities, audit
from bot.services.activities import APPROVE, REJECT, REQUEST_CHANGES, ActivityError
from bot.state import BotContext
from bot.states import PlanStatus
from handlers.access import staff_only
from handlers.reply import (
    acknowledge,
    answer_alert,
    answer_note,
    edit,
    reply,
    rows_of,
    send_rendered,
)

PRIVATE = filters.ChatType.PRIVATE
# /activity list shows the newest plans only, so the message stays far under 4,096 characters.
LIST_MAX = 20
# A plan's card again (from /pending in handlers/approvals.py), and the proposer's withdraw
# button (from /activity list and /mine).
SHOW_CARD = Action("act", "cd:{plan}", plan=ID)
WITHDRAW = Action("act", "wd:{plan}", plan=ID)


def explain(exc: ActivityError) -> dict:
    """The template context of an ActivityError."""
    return {"reason": exc.reason, **exc.details}


@staff_only()
async def approve_plan(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Approve at once. Directors and the deputies of directors on leave may decide; the
    service checks which."""
    plan_id, version = (int(v) for v in APPROVE.unpack(update.callback_query.data))
    today = local_date(clock.now(), context.settings.team.tz)
    try:
        plan = await activities.decide(
            session, plan_id, version, director, PlanStatus.APPROVED, today=today
        )
    except ActivityError as exc:
        await _refuse(update, session, director, exc)
        return
    await answer_note(update, director.locale, "activity_done.html.j2", plan=plan)


@staff_only()
async def reject_plan(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Reject: the director is asked why, and the reason typed next decides."""
    await _ask_reason(update, context, session, director, REJECT, PlanStatus.REJECTED)


@staff_only()
async def request_changes(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """Request changes: the director is asked what to change, and the reason decides."""
    decision = PlanStatus.CHANGES_REQUESTED
    await _ask_reason(update, context, session, director, REQUEST_CHANGES, decision)


async def _ask_reason(update, context, session, director: Staff, action: Action, decision) -> None:
    plan_id, version = (int(v) for v in action.unpack(update.callback_query.data))
    today = local_date(clock.now(), context.settings.team.tz)
    try:
        plan = await activities.get(session, plan_id)
        await activities.start_reason(session, director, plan_id, version, decision, today=today)
    except ActivityError as exc:
        await _refuse(update, session, director, exc)
        return
    await acknowledge(update)
    await reply(
        update, director.locale, "activity_reason_ask.html.j2", plan=plan, decision=decision
    )


async def _refuse(update, session, director: Staff, exc: ActivityError) -> None:
    if exc.reason == "not_director":  # someone without the right: refused and recorded
        await audit.record(
            session,
            director.telegram_id,
            "access.refused",
            update.callback_query.data,
            reason="not_director",
        )
    await answer_alert(update, director.locale, "activity_error.html.j2", **explain(exc))


async def take_reason(
    update: Update, context: BotContext, session: AsyncSession, director: Staff, prompt: Prompt
) -> None:
    """The reason for a Reject / Request changes (handlers/text.py routes it here): decide."""
    try:
        today = local_date(clock.now(), context.settings.team.tz)
        text = update.effective_message.text or ""
        plan = await activities.give_reason(session, director, text, today=today)
    except ActivityError as exc:
        await reply(update, director.locale, "activity_error.html.j2", **explain(exc))
        return
    await reply(update, director.locale, "activity_done.html.j2", plan=plan)


@staff_only("director")
async def resend_card(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """The plan's current card again, here."""
    (plan_id,) = SHOW_CARD.unpack(update.callback_query.data)
    plan = await activities.get(session, int(plan_id))
    if plan is None or plan.status != PlanStatus.PENDING:
        await answer_alert(update, director.locale, "activity_error.html.j2", reason="not_pending")
        return
    await acknowledge(update)
    text = await activities.card_text(session, plan, director.locale)
    await send_rendered(update, text, activities.card_buttons(plan, director.locale))


@staff_only()
async def list_mine(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/activity list: my plans and their states; the pending ones can be withdrawn."""
    await reply_my_plans(update, session, me)


async def reply_my_plans(update: Update, session: AsyncSession, me: Staff) -> None:
    """Send my plans (newest first) with withdraw buttons on the pending ones."""
    plans = (await activities.mine(session, me.id))[:LIST_MAX]
    await reply(
        update, me.locale, "activity_list.html.j2", _withdraw_buttons(plans, me), plans=plans
    )


def _withdraw_buttons(plans, me: Staff):
    pending = [p for p in plans if p.status == PlanStatus.PENDING]
    return rows_of(
        [(t(me.locale, "↩️ Withdraw #%(id)s", id=p.id), WITHDRAW.pack(p.id)) for p in pending]
    )


@staff_only()
async def withdraw_plan(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """The proposer takes back a plan still waiting for a decision."""
    (plan_id,) = WITHDRAW.unpack(update.callback_query.data)
    try:
        plan = await activities.withdraw(session, me, int(plan_id))
    except ActivityError as exc:
        await answer_alert(update, me.locale, "activity_error.html.j2", **explain(exc))
        return
    await answer_note(update, me.locale, "activity_done.html.j2", plan=plan)
    plans = (await activities.mine(session, me.id))[:LIST_MAX]
    await edit(
        update, me.locale, "activity_list.html.j2", _withdraw_buttons(plans, me), plans=plans
    )


def register(app) -> None:
    """Card buttons and withdraw buttons (a typed reason: handlers/text.py; /pending lists plans
    with every other kind waiting for a decision: handlers/approvals.py)."""
    # Ids of at most 18 ASCII digits: longer (forged) ones overflow BIGINT; stale_button takes them.
    app.add_handler(CallbackQueryHandler(approve_plan, pattern=APPROVE.pattern))
    app.add_handler(CallbackQueryHandler(reject_plan, pattern=REJECT.pattern))
    app.add_handler(CallbackQueryHandler(request_changes, pattern=REQUEST_CHANGES.pattern))
    app.add_handler(CallbackQueryHandler(resend_card, pattern=SHOW_CARD.pattern))
    app.add_handler(CallbackQueryHandler(withdraw_plan, pattern=WITHDRAW.pattern))
