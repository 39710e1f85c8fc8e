"""Approvals on Telegram: deciders' card presses, reasons and comments, /pending and /mine."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import local_date
from bot.i18n import t
from bot.models import ACTIVITY_FORM, ApprovalRequest, Prompt, Staff
from bot.services import activities, approval_followups, approvals, audit
from bot.services import staff as staff_service
from bot.services.approvals import APPROVE, CHANGES, COMMENT, NOTE, REJECT, ApprovalError
from bot.services.errors import ServiceError
from bot.state import BotContext
from bot.states import Decision, PlanStatus, RequestStatus
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


def _today(context: BotContext) -> date:
    return local_date(clock.now(), context.settings.team.tz)


# ---- card presses, for every prefix -------------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    """One prefix of card buttons and the service its presses go through: `apr` (any request)
    here, `act` (an activity plan's, decision 65) in handlers/activities.py. The handlers below
    are the same for both; what a press answers is the presenters' (approvals.Presenter)."""

    words: approvals.Presenter  # refusals; a request's own presenter words the rest
    # (button, the decision it makes, True when it decides at once without a reason or comment)
    presses: tuple[tuple[Action, str, bool], ...]
    show_card: Action
    withdraw: Action
    # (session, id, version, me, decision, context) -> the request decided
    decide: Callable[..., Awaitable[ApprovalRequest]]
    # (session, id, version, me, decision, context) -> (the request, True when a reason is asked
    # for; False: decided at once)
    ask: Callable[..., Awaitable[tuple[ApprovalRequest, bool]]]
    # (session, me, prompt, text, context) -> the request decided with the typed reason
    give: Callable[..., Awaitable[ApprovalRequest]]
    # (session, me, id) -> the request withdrawn
    take_back: Callable[..., Awaitable[ApprovalRequest]]
    # (session, id, me, context) -> the request whose card `me` may have again
    waiting: Callable[..., Awaitable[ApprovalRequest]]
    # (session, me) -> (template, buttons, context) of the list a withdraw button sat on
    listing: Callable[..., Awaitable[tuple]]
    show_roles: tuple[str, ...] = ()  # who may have a card again (the service checks the rest)


def _explain(exc: ServiceError) -> dict:
    return {"reason": exc.reason, **exc.details}


async def _refuse(update: Update, session: AsyncSession, me: Staff, desk: Desk, exc) -> None:
    if exc.reason in desk.words.audited:  # someone who may not decide (forged or foreign)
        await audit.record(
            session, me.telegram_id, "access.refused", update.callback_query.data,
            reason=exc.reason,
        )  # fmt: skip
    await answer_alert(update, me.locale, desk.words.refusal_template, **_explain(exc))


def _pressed(desk: Desk, button: Action, decision: str, at_once: bool) -> Callable:
    """The handler of one decision button of `desk`: ✅ decides at once; the others ask for the
    reason or comment first (when the form wants one)."""

    @staff_only()
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        data = update.callback_query.data
        request_id, version = (int(v) for v in button.unpack(data))
        try:
            if at_once:
                request = await desk.decide(session, request_id, version, me, decision, context)
                asked = False
            else:
                request, asked = await desk.ask(session, request_id, version, me, decision, context)
        except ServiceError as exc:
            await _refuse(update, session, me, desk, exc)
            return
        if not asked:
            template, ctx = approvals.presenter(request).done(request)
            await answer_note(update, me.locale, template, **ctx)
            return
        await acknowledge(update)
        template, ctx = approvals.presenter(request).reason_question(request, decision)
        await reply(update, me.locale, template, **ctx)

    press.__name__ = press.__qualname__ = f"press_{_named(button)}"
    return press


async def answer_reason(
    desk: Desk, update: Update, context: BotContext, session: AsyncSession, me: Staff,
    prompt: Prompt,
) -> None:  # fmt: skip
    """The reason or comment typed after a press (handlers/text.py routes it): decide."""
    text = update.effective_message.text or ""
    try:
        request = await desk.give(session, me, prompt, text, context)
    except ServiceError as exc:
        await reply(update, me.locale, desk.words.refusal_template, **_explain(exc))
        return
    template, ctx = approvals.presenter(request).done(request)
    await reply(update, me.locale, template, **ctx)


def _card_again(desk: Desk) -> Callable:
    """The request's current card again, here, for whoever may decide it."""

    @staff_only(*desk.show_roles)
    async def resend(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        (request_id,) = desk.show_card.unpack(update.callback_query.data)
        try:
            request = await desk.waiting(session, int(request_id), me, context)
        except ServiceError as exc:
            await answer_alert(update, me.locale, desk.words.refusal_template, **_explain(exc))
            return
        await acknowledge(update)
        shown = approvals.presenter(request)
        text = await shown.card_again(session, request, me.locale)
        await send_rendered(update, text, shown.buttons(request, me.locale))

    resend.__name__ = resend.__qualname__ = f"resend_{_named(desk.show_card)}"
    return resend


def _withdraw(desk: Desk) -> Callable:
    """The proposer takes back a request still waiting for a decision; the list is redrawn."""

    @staff_only()
    async def withdraw(
        update: Update, context: BotContext, session: AsyncSession, me: Staff
    ) -> None:
        (request_id,) = desk.withdraw.unpack(update.callback_query.data)
        try:
            request = await desk.take_back(session, me, int(request_id))
        except ServiceError as exc:
            await answer_alert(update, me.locale, desk.words.refusal_template, **_explain(exc))
            return
        template, ctx = approvals.presenter(request).done(request)
        await answer_note(update, me.locale, template, **ctx)
        template, buttons, ctx = await desk.listing(session, me)
        await edit(update, me.locale, template, buttons, **ctx)

    withdraw.__name__ = withdraw.__qualname__ = f"withdraw_{_named(desk.withdraw)}"
    return withdraw


def _named(button: Action) -> str:
    # The handler's name in logs and tracebacks: press_act_ap, press_apr_rj, resend_act_cd …
    return f"{button.prefix}_{button.template.split(':')[0]}"


def register_desk(app, desk: Desk) -> None:
    """The callback handlers of `desk`'s buttons."""
    for button, decision, at_once in desk.presses:
        handler = _pressed(desk, button, decision, at_once)
        app.add_handler(CallbackQueryHandler(handler, pattern=button.pattern))
    app.add_handler(CallbackQueryHandler(_card_again(desk), pattern=desk.show_card.pattern))
    app.add_handler(CallbackQueryHandler(_withdraw(desk), pattern=desk.withdraw.pattern))


# ---- the engine's own desk (apr) ----------------------------------------------------------------


async def _decide(session, request_id: int, version: int, me: Staff, decision, context):
    return await approvals.decide(
        session, request_id, version, me, decision,
        reports=context.settings.reports, today=_today(context), pressed=True,
    )  # fmt: skip


async def _ask(session, request_id: int, version: int, me: Staff, decision, context):
    reports, today = context.settings.reports, _today(context)
    request = await approvals.on_card(session, request_id)  # a card from before 0018 too
    request_id = request.id if request is not None else request_id
    form = reports.form(request.form_key) if request else None
    if decision != Decision.APPROVE and not approvals.needs_reason(form, decision):
        request = await approvals.decide(
            session, request_id, version, me, decision, reports=reports, today=today
        )
        return request, False
    await approvals.start_reason(session, me, request_id, version, decision, today=today)
    return request, True


async def _give(session, me: Staff, prompt: Prompt, text: str, context):
    reports, today = context.settings.reports, _today(context)
    return await approvals.give_reason(session, me, prompt, text, reports=reports, today=today)


async def _take_back(session, me: Staff, request_id: int):
    found = await approvals.on_card(session, request_id)
    return await approvals.withdraw(session, me, found.id if found is not None else request_id)


async def _waiting(session, request_id: int, me: Staff, context):
    request = await approvals.on_card(session, request_id)
    if request is None or request not in await approvals.waiting_for(session, me, _today(context)):
        raise ApprovalError("not_pending" if request is not None else "not_found")
    return request


async def _listing(session, me: Staff) -> tuple:
    buttons, ctx = await _mine(session, me)
    return "approval_mine.html.j2", buttons, ctx


REQUESTS = Desk(
    words=approvals.GENERIC,
    presses=(
        (APPROVE, Decision.APPROVE, True),
        (COMMENT, Decision.APPROVE, False),  # 💬 approves with the comment typed next
        (CHANGES, Decision.CHANGES, False),
        (REJECT, Decision.REJECT, False),
        (NOTE, Decision.NOTE, False),  # 📝 a suggestion noted, with the reply typed next
    ),
    show_card=SHOW_CARD,
    withdraw=WITHDRAW,
    decide=_decide,
    ask=_ask,
    give=_give,
    take_back=_take_back,
    waiting=_waiting,
    listing=_listing,
)


async def take_reason(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, prompt: Prompt
) -> None:
    """The reason or comment typed after a press on a request's card: decide."""
    await answer_reason(REQUESTS, update, context, session, me, prompt)


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
        [(f"📄 #{plan.id}", activities.SHOW_CARD.pack(plan.id)) for plan in plans]
        + [(f"📋 #{r.id}", SHOW_CARD.pack(r.id)) for r in requests],
        width=4,
    )
    await reply(
        update, me.locale, "approval_pending.html.j2", buttons, plans=plan_items,
        groups=list(groups.items()), tz=context.settings.team.tz,
    )  # fmt: skip


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
            (t(me.locale, "↩️ Withdraw #%(id)s", id=p.id), activities.WITHDRAW.pack(p.id))
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


def register(app) -> None:
    """Card buttons, /pending (every kind) and /mine (a typed reason: handlers/text.py)."""
    register_desk(app, REQUESTS)
    app.add_handler(CommandHandler("pending", show_pending, filters=PRIVATE))
    app.add_handler(CommandHandler("mine", show_mine, filters=PRIVATE))
