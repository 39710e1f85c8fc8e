"""After an activity: its results filed (asked through approval_followups), the plan closed,
the review card sent."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.models import ActivityPlan, ApprovalFollowup, ApprovalRequest, Staff
from bot.outbox import enqueue
from bot.render import render
from bot.services import audit, team
from bot.services import staff as staff_service
from bot.services.activities import ActivityError, yuan
from bot.services.approval_followups import OPEN, FollowupKind, FollowupStatus
from bot.states import PlanStatus


@dataclass(frozen=True)
class Effect:
    """One target of a plan against what was achieved (ratio None when the target is 0)."""

    indicator: str
    unit: str
    target: Decimal
    actual: Decimal | None
    ratio: Decimal | None


async def awaiting_results(
    session: AsyncSession, staff_id: int, today: date
) -> ActivityPlan | None:
    """The person's oldest running plan that has ended with its results still owed (its open
    results follow-up: approval_followups)."""
    return await session.scalar(
        select(ActivityPlan)
        .join(ApprovalFollowup, ApprovalFollowup.request_id == ActivityPlan.id)
        .where(
            ApprovalFollowup.staff_id == staff_id,
            ApprovalFollowup.kind == FollowupKind.RESULTS,
            ApprovalFollowup.status.in_(OPEN),
            ActivityPlan.status == PlanStatus.RUNNING,
            ActivityPlan.end_date < today,
        )
        .order_by(ActivityPlan.end_date, ActivityPlan.id)
        .limit(1)
    )


def targets_as_actuals(plan: ActivityPlan) -> list[dict[str, Any]]:
    """The plan's targets as the results form's starting answer (actual 0, to be overwritten)."""
    return [
        {k: v for k, v in (("indicator", t.get("indicator")), ("actual", "0"),
                           ("unit", t.get("unit"))) if v is not None}
        for t in plan.answers.get("targets") or []
    ]  # fmt: skip


async def complete(
    session: AsyncSession, proposer: Staff, plan_id: int, answers: dict[str, Any]
) -> ActivityPlan:
    """Close a running plan with its results; every director gets the review card."""
    plan = await session.get(ActivityPlan, plan_id)
    if plan is None:
        raise ActivityError("not_found")
    if plan.proposer_id != proposer.id:
        raise ActivityError("not_yours")
    now = clock.now()
    # Conditional on the request's status (an UPDATE of ActivityPlan cannot set it: decision 65);
    # the plan's own columns follow on the instance.
    closed = await session.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.id == plan_id, ApprovalRequest.status == PlanStatus.RUNNING)
        .values(status=PlanStatus.COMPLETED, updated_at=now)
    )
    if closed.rowcount != 1:
        raise ActivityError("not_running")
    await session.refresh(plan)
    plan.results, plan.completed_at = dict(answers), now
    plan.actual_cost_fen = int(answers.get("actual_cost") or 0)
    await session.flush()
    # Its results are no longer owed (a plan built by hand in a test has no follow-up row).
    await session.execute(
        update(ApprovalFollowup)
        .where(
            ApprovalFollowup.request_id == plan.id,
            ApprovalFollowup.kind == FollowupKind.RESULTS,
            ApprovalFollowup.status.in_(OPEN),
        )
        .values(status=FollowupStatus.DONE, done_at=now, answer={"plan": plan.id})
    )
    await audit.record(session, proposer.telegram_id, "activity.completed", f"activity:{plan.id}")
    await _review_cards(session, plan, proposer)
    return plan


def effects(plan: ActivityPlan) -> list[Effect]:
    """Each target against its actual, matched by indicator (the KPI engine reads these)."""
    actuals = {
        a.get("indicator"): a.get("actual") for a in (plan.results or {}).get("actuals") or []
    }
    found = []
    for target in plan.answers.get("targets") or []:
        goal = _number(target.get("target")) or Decimal(0)
        actual = _number(actuals.get(target.get("indicator")))
        ratio = actual / goal if actual is not None and goal else None
        found.append(
            Effect(target.get("indicator", ""), target.get("unit") or "", goal, actual, ratio)
        )
    return found


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


async def _review_cards(session: AsyncSession, plan: ActivityPlan, proposer: Staff) -> None:
    rows = effects(plan)
    for director in await staff_service.directors(session):
        await enqueue(
            session, f"act:{plan.id}:review:{director.telegram_id}", director.telegram_id,
            _review(plan, proposer, rows, director.locale),
        )  # fmt: skip
    group = await team.get(session)
    if group.group_chat_id is not None:
        await enqueue(
            session,
            f"act:{plan.id}:completed",
            group.group_chat_id,
            _review(plan, proposer, rows, group.locale, summary=True),
        )


def number_text(value: Decimal | None, unit: str = "") -> str:
    """1,234 or 1,234.5 (never 1.2E+3), with the unit when there is one."""
    if value is None:
        return "—"
    text = f"{int(value):,}" if value == value.to_integral_value() else f"{value.normalize():,f}"
    return f"{text} {unit}" if unit else text


def _review(
    plan: ActivityPlan, proposer: Staff, rows: list[Effect], locale: str, summary: bool = False
) -> str:
    results = plan.results or {}
    lines = [
        (e.indicator, number_text(e.target, e.unit), number_text(e.actual),
         f"{e.ratio:.0%}" if e.ratio is not None else "")
        for e in rows
    ]  # fmt: skip
    return render(
        "activity_review.html.j2", locale, plan=plan, proposer=proposer.display_name,
        effects=lines, budget=yuan(plan.budget_fen), cost=yuan(plan.actual_cost_fen),
        over=(plan.actual_cost_fen or 0) > plan.budget_fen, summary=summary,
        worked=results.get("what_worked") or "", improvements=results.get("improvements") or "",
    )  # fmt: skip
