"""States are StrEnums over the stored strings (decision 51); a draft's key says what it files."""

from datetime import timedelta

import pytest
from sqlalchemy import case, select, text, update

from bot import clock
from bot.forms.flow import Mode, StepKind
from bot.models import Obligation
from bot.services import filing
from bot.services import staff as staff_service
from bot.services.filing import DraftFor, Outcome
from bot.services.staff import Person
from bot.states import FILED, JoinStatus, ObligationStatus, OutboxStatus, PlanStatus

ENUMS = (PlanStatus, ObligationStatus, OutboxStatus, JoinStatus, StepKind, Mode, DraftFor, Outcome)


@pytest.mark.parametrize(
    "key, kind, plan_id",
    [
        ("2026-11-26", DraftFor.PERIOD, None),
        ("2026-W48", DraftFor.PERIOD, None),
        (filing.NEW_PLAN, DraftFor.NEW_PLAN, None),
        (filing.plan_key(7), DraftFor.PLAN, 7),
        (filing.results_key(9), DraftFor.RESULTS, 9),
    ],
)
def test_a_draft_key_says_what_it_files(key, kind, plan_id):
    assert filing.subject(key) == filing.Subject(kind, plan_id)


def test_a_state_is_its_string():
    # Templates name files after a step's kind (form_{kind}.html.j2) and audit actions after a
    # decision: both need the bare string, not "StepKind.FILED".
    for enum in ENUMS:
        for member in enum:
            assert member == member.value and f"{member}" == member.value == str(member)


def test_every_filing_outcome_is_a_step_the_conversation_shows():
    assert {o.value for o in Outcome} <= {k.value for k in StepKind}


@pytest.mark.databases  # how a driver binds a str subclass is the point
async def test_states_are_stored_and_matched_as_their_strings(sessions):
    now = clock.now()
    async with sessions() as s, s.begin():
        me = await staff_service.add(s, Person(9100, "Wang", None, "zh"), ["channel"], None)
        s.add(Obligation(staff_id=me.id, form_key="daily_channel", period_key="2026-11-26",
                         due_at=now + timedelta(hours=1), closes_at=now + timedelta(days=1),
                         created_at=now))  # fmt: skip
    async with sessions() as s, s.begin():
        stored = await s.scalar(text("SELECT status FROM obligations"))
        assert stored == "open" and type(stored) is str  # the default, written as the string
        # A member inside case(), where no column gives its type, binds as its string too.
        late = case((Obligation.due_at < now + timedelta(days=2), ObligationStatus.LATE),
                    else_=ObligationStatus.FILED)  # fmt: skip
        await s.execute(
            update(Obligation).where(Obligation.status == ObligationStatus.OPEN).values(status=late)
        )
    async with sessions() as s:
        assert await s.scalar(text("SELECT status FROM obligations")) == "late"
        found = await s.scalar(select(Obligation).where(Obligation.status.in_(FILED)))
        assert found is not None and found.status == ObligationStatus.LATE
