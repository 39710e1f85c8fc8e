"""A request's money in a budget pool ([forms.approval.budget]): held while it waits, charged
when approved, released when rejected, sent back or withdrawn; its card shows what the pool has
left and warns when the request does not fit (decision 64).

The pool is chosen when the request is filed (a fixed pool, or the filer's choice of one) and
kept with the request in `steps["budget"]`, so a decision later reads the same pool and period
whatever the configuration says by then.
"""

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.spec import FormSpec
from bot.models import ACTIVITY_FORM, ApprovalRequest
from bot.services import approvals, budgets
from bot.states import RequestStatus


def snapshot(
    form: FormSpec, answers: dict[str, Any], pools: tuple, today: date
) -> dict[str, Any] | None:
    """The pool, period and amount (fen) a filing draws on; None when the form names no budget
    or the filing gives no amount or no known pool."""
    spec = form.approval.budget if form.approval else None
    amount = answers.get(spec.amount) if spec else None
    if spec is None or isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        return None
    key = spec.pool or answers.get(spec.pool_field)
    pool = next((p for p in pools or budgets.DEFAULT_POOLS if p.key == key), None)
    if pool is None:
        return None
    day = answers.get(spec.date) if spec.date else None
    day = date.fromisoformat(day) if isinstance(day, str) else today
    return {"pool": pool.model_dump(mode="json"), "period": budgets.period_key(pool, day),
            "amount": amount}  # fmt: skip


# A request that will not be paid (or not as filed) gives its amount back.
RELEASED = (RequestStatus.REJECTED, RequestStatus.CHANGES_REQUESTED, RequestStatus.WITHDRAWN,
            RequestStatus.NOTED)  # fmt: skip


def _kept(request: ApprovalRequest) -> tuple[budgets.Pool, str, int] | None:
    kept = request.steps.get("budget")
    if not kept:
        return None
    return budgets.Pool.model_validate(kept["pool"]), kept["period"], int(kept["amount"])


def about(request: ApprovalRequest) -> str:
    """The key of the request's hold or charge in budget_charges."""
    return f"req:{request.id}"


async def follow(session: AsyncSession, request: ApprovalRequest, event: str) -> None:
    """Held when (re)submitted, charged when approved, released otherwise."""
    if request.form_key == ACTIVITY_FORM:  # a plan's charge follows its row (decision 65)
        await budgets.follow_plan(session, request)
        return
    kept = _kept(request)
    if event in RELEASED or (kept is None and event == "submitted"):
        await budgets.release(session, about(request))
        return
    if kept is None or event not in (RequestStatus.APPROVED, "submitted"):
        return  # a step approved, the next one open: still held
    pool, period, fen = kept
    step = budgets.charge if event == RequestStatus.APPROVED else budgets.hold
    await step(session, pool, period, fen, about(request), request.proposer_id)


async def card_line(session: AsyncSession, request: ApprovalRequest, locale: str) -> str | None:
    """费用预算（2026年12月）：剩余 ¥5,000.00；本单 ¥6,000.00，超出 ¥1,000.00 ⚠️"""
    kept = _kept(request)
    if kept is None:
        return None
    pool, period, fen = kept
    view = await budgets.remainder(session, pool, period, about=about(request))
    return budgets.card_line(replace(view, item=view.item or fen), locale)


approvals.LISTENERS.append(follow)
approvals.CARD_LINES.append(card_line)
