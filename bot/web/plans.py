"""The one place the dashboard treats activity plans apart from every other approval.

Plans are approval requests on the engine (decision 65): `approvals.waiting_for` returns them
too, and the dashboard keeps them apart here only for their own card and words (decided
through activities.decide, which hands them to the engine).
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ACTIVITY_FORM, ActivityPlan, ApprovalRequest, Staff
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
    return [r for r in await approvals.waiting_for(session, person, day) if is_plan(r)]


def is_plan(request: ApprovalRequest) -> bool:
    """Whether this request is an activity plan (listed and decided as one)."""
    return request.form_key == ACTIVITY_FORM


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
