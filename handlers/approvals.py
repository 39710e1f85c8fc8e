"""Approvals on Telegram: deciders' card presses, reasons and comments, /pending and /mine."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import local_date
from bot.i18n import t
from bot.models import ACTIVITY_FORM, Prompt, Staff
from bot.services import approval_followups, approvals, audit
from bot.services import staff as staff_service
from bot.services.approvals import APPROVE, CHANGES, COMMENT, NOTE, REJECT, ApprovalError
from bot.state import BotContext
from bot.states import Decision, PlanStatus, RequestStatus
from handlers import activities as plan_handlers
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
LIST_MAX = 20  # /mine lists the newest only, so the message stays far under 4,096 characters
# A request's card again (from /pending), and the proposer's withdraw button (from /mine).
SHOW_CARD = Action("apr", "cd:{req}", req=ID)
WITHDRAW = Action("apr", "wd:{req}", req=ID)
# Refusals written to the audit log: a press by someone who may not decide (forged or foreign).
AUDITED = ("not_decider", "own_request")


def _today(context: BotContext) -> date:
    return local_date(clock.now(), context.settings.team.tz)


def _explain(exc: ApprovalError) -> dict:
    return {"reason": exc.reason, **exc.details}


async def _refuse(update: Update, session: AsyncSession, me: Staff, exc: ApprovalError) -> None:
    if exc.reason in AUDITED:
        await audit.record(
            session, me.telegram_id, "access.refused", update.callback_query.data,
            reason=exc.reason,
        )  # fmt: skip
    await answer_alert(update, me.locale, "approval_error.html.j2", **_explain(exc))


@staff_only()
async def approve_request(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """✅ Approve: at once; the service checks that this step is the presser's to decide."""
    request_id, version = (int(v) for v in APPROVE.unpack(update.callback_query.data))
    try:
        request = await approvals.decide(
            session, request_id, version, me, Decision.APPROVE,
            reports=context.settings.reports, today=_today(context), pressed=True,
        )  # fmt: skip
    except ApprovalError as exc:
        await _refuse(update, session, me, exc)
        return
    await answer_note(update, me.locale, "approval_done.html.j2", **_done(request))


@staff_only()
async def approve_with_comment(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """💬 Approve with a comment: the comment typed next approves."""
    await _ask(update, context, session, me, COMMENT, Decision.APPROVE)


@staff_only()
async def request_changes(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """✏️ Request changes: what to change is asked for (when the form requires a reason)."""
    await _ask(update, context, session, me, CHANGES, Decision.CHANGES)


@staff_only()
async def reject_request(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """✖ Reject: the reason is asked for (when the form requires one)."""
    await _ask(update, context, session, me, REJECT, Decision.REJECT)


@staff_only()
async def note_request(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """📝 Noted (a suggestion): read and kept on file, with a reply typed next."""
    await _ask(update, context, session, me, NOTE, Decision.NOTE)


def _done(request) -> dict:
    """What approval_done.html.j2 says after a decision (a suggestion's answers differ)."""
    return {"request": request, "suggestion": approvals.style(request) == "suggestion"}


async def _ask(update, context, session, me: Staff, action: Action, decision: Decision) -> None:
    request_id, version = (int(v) for v in action.unpack(update.callback_query.data))
    reports, today = context.settings.reports, _today(context)
    try:
        request = await approvals.on_card(session, request_id)  # a card from before 0018 too
        request_id = request.id if request is not None else request_id
        form = reports.form(request.form_key) if request else None
        if decision != Decision.APPROVE and not approvals.needs_reason(form, decision):
            request = await approvals.decide(
                session, request_id, version, me, decision, reports=reports, today=today
            )
            await answer_note(update, me.locale, "approval_done.html.j2", **_done(request))
            return
        await approvals.start_reason(session, me, request_id, version, decision, today=today)
    except ApprovalError as exc:
        await _refuse(update, session, me, exc)
        return
    await acknowledge(update)
    await reply(
        update, me.locale, "approval_reason_ask.html.j2", request=request, decision=decision,
        suggestion=approvals.style(request) == "suggestion",
    )  # fmt: skip


async def take_reason(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, prompt: Prompt
) -> None:
    """The reason or comment typed after a press (handlers/text.py routes it here): decide."""
    text = update.effective_message.text or ""
    try:
        request = await approvals.give_reason(
            session, me, prompt, text, reports=context.settings.reports, today=_today(context)
        )
    except ApprovalError as exc:
        await reply(update, me.locale, "approval_error.html.j2", **_explain(exc))
        return
    await reply(update, me.locale, "approval_done.html.j2", **_done(request))


# ---- /pending ---------------------------------------------------------------------------------


@staff_only()
async def show_pending(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/pending: everything waiting for my decision, oldest first, grouped by kind: activity
    plans (directors and their deputies), then each approvable form's requests."""
    today = _today(context)
    # Activity plans are requests the engine decides (decision 65); they keep a list of their own.
    waiting = await approvals.waiting_for(session, me, today)
    plans = [r for r in waiting if r.form_key == ACTIVITY_FORM]
    plan_items = [
        (p, (await staff_service.get(session, p.proposer_id)).display_name) for p in plans
    ]
    groups: dict[str, list] = {}
    requests = [r for r in waiting if r.form_key != ACTIVITY_FORM]
    for request in requests:
        proposer = await staff_service.get(session, request.proposer_id)
        where = approvals.where_is(request, me.locale)
        step = t(me.locale, "step %(current)s/%(total)s", **where)
        groups.setdefault(where["form"], []).append((request, proposer.display_name, step))
    buttons = rows_of(
        [(f"📄 #{plan.id}", plan_handlers.SHOW_CARD.pack(plan.id)) for plan in plans]
        + [(f"📋 #{r.id}", SHOW_CARD.pack(r.id)) for r in requests],
        width=4,
    )
    await reply(
        update, me.locale, "approval_pending.html.j2", buttons, plans=plan_items,
        groups=list(groups.items()), tz=context.settings.team.tz,
    )  # fmt: skip


@staff_only()
async def resend_card(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """The request's current card again, here, for whoever may decide its step."""
    (request_id,) = SHOW_CARD.unpack(update.callback_query.data)
    request = await approvals.on_card(session, int(request_id))
    waiting = await approvals.waiting_for(session, me, _today(context))
    if request is None or request not in waiting:
        exc = ApprovalError("not_pending" if request is not None else "not_found")
        await answer_alert(update, me.locale, "approval_error.html.j2", **_explain(exc))
        return
    await acknowledge(update)
    shown = approvals.presenter(request)
    text = await shown.card(session, request, me.locale)
    await send_rendered(update, text, shown.buttons(request, me.locale))


# ---- /mine ------------------------------------------------------------------------------------


@staff_only()
async def show_mine(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/mine: everything I proposed and where each is; what still waits can be withdrawn."""
    await reply_mine(update, session, me)


async def _mine(session: AsyncSession, me: Staff) -> tuple:
    # Plans are requests too; they keep their own lines (their words, their withdraw button).
    mine = await approvals.mine(session, me.id, 2 * LIST_MAX)
    requests = [r for r in mine if r.form_key != ACTIVITY_FORM][:LIST_MAX]
    plans = [r for r in mine if r.form_key == ACTIVITY_FORM][:LIST_MAX]
    buttons = rows_of(
        [
            (t(me.locale, "↩️ Withdraw #%(id)s", id=r.id), WITHDRAW.pack(r.id))
            for r in requests
            if r.status == RequestStatus.PENDING
        ]
        + [
            (t(me.locale, "↩️ Withdraw #%(id)s", id=p.id), plan_handlers.WITHDRAW.pack(p.id))
            for p in plans
            if p.status == PlanStatus.PENDING
        ]
    )
    listed = [(r, approvals.where_is(r, me.locale)) for r in requests]
    followups = await approval_followups.of_requests(session, [r.id for r in requests])
    return buttons, {"requests": listed, "plans": plans, "followups": followups}


async def reply_mine(update: Update, session: AsyncSession, me: Staff) -> None:
    """Send /mine's list (a form's "list" word shows it too)."""
    buttons, ctx = await _mine(session, me)
    await reply(update, me.locale, "approval_mine.html.j2", buttons, **ctx)


@staff_only()
async def withdraw_request(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """The proposer takes back a request still waiting for a decision."""
    (request_id,) = WITHDRAW.unpack(update.callback_query.data)
    try:
        found = await approvals.on_card(session, int(request_id))
        request_id = found.id if found is not None else int(request_id)
        request = await approvals.withdraw(session, me, request_id)
    except ApprovalError as exc:
        await answer_alert(update, me.locale, "approval_error.html.j2", **_explain(exc))
        return
    await answer_note(update, me.locale, "approval_done.html.j2", **_done(request))
    buttons, ctx = await _mine(session, me)
    await edit(update, me.locale, "approval_mine.html.j2", buttons, **ctx)


def register(app) -> None:
    """Card buttons, /pending (every kind) and /mine (a typed reason: handlers/text.py)."""
    app.add_handler(CallbackQueryHandler(approve_request, pattern=APPROVE.pattern))
    app.add_handler(CallbackQueryHandler(approve_with_comment, pattern=COMMENT.pattern))
    app.add_handler(CallbackQueryHandler(request_changes, pattern=CHANGES.pattern))
    app.add_handler(CallbackQueryHandler(reject_request, pattern=REJECT.pattern))
    app.add_handler(CallbackQueryHandler(note_request, pattern=NOTE.pattern))
    app.add_handler(CallbackQueryHandler(resend_card, pattern=SHOW_CARD.pattern))
    app.add_handler(CallbackQueryHandler(withdraw_request, pattern=WITHDRAW.pattern))
    app.add_handler(CommandHandler("pending", show_pending, filters=PRIVATE))
    app.add_handler(CommandHandler("mine", show_mine, filters=PRIVATE))
