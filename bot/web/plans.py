"""The one place the dashboard treats activity plans apart from every other approval.

Plans are moving onto the approval engine (decision 65); when `approvals.waiting_for` and
`approvals.decide` take them, this module goes and the dashboard's callers lose one branch.
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ActivityPlan, Staff
from bot.services import activities, approvals
from bot.states import Decision, PlanStatus

# The page's decisions in the activity plan's words.
_STATUS = {
    Decision.APPROVE: PlanStatus.APPROVED,
    Decision.REJECT: PlanStatus.REJECTED,
    Decision.CHANGES: PlanStatus.CHANGES_REQUESTED,
}


async def waiting(session: AsyncSession, person: Staff, day: date) -> list[ActivityPlan]:
    """Activity plans `person` decides on `day`, as /pending lists them."""
    return await approvals.plans_waiting(session, person, day)


async def card_text(session: AsyncSession, plan: ActivityPlan, locale: str) -> str:
    """The plan's card as the chat shows it."""
    return await activities.card_text(session, plan, locale)


async def decide(
    session: AsyncSession, plan_id: int, version: int, person: Staff, decision: str,
    reason: str | None, *, today: date,
) -> ActivityPlan:  # fmt: skip
    """The one decision on a plan, exactly as the card's buttons make it (ActivityError if not)."""
    if decision not in _STATUS:
        raise activities.ActivityError("bad_decision")
    return await activities.decide(
        session, plan_id, version, person, _STATUS[decision], reason, today=today
    )
