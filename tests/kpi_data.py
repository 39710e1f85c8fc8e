"""Rows for KPI tests, written straight into the tables the KPI engine reads."""

from datetime import date, time
from decimal import Decimal
from itertools import count

from support import TZ, local

from bot.calendar import Period, at_local
from bot.models import (
    ActivityPlan,
    Channel,
    ChannelStageChange,
    Metric,
    Obligation,
    Report,
    Staff,
    StaffRole,
)

_ids = count(5000)


async def person(session, name: str, *roles: str, joined: str = "2026-01-05") -> Staff:
    """An active member of the team with these roles, joined on that day."""
    staff = Staff(
        telegram_id=next(_ids), display_name=name, locale="zh", joined_at=local(f"{joined}T09:00"),
        roles=[StaffRole(role=r) for r in roles],
    )  # fmt: skip
    session.add(staff)
    await session.flush()
    return staff


async def report(session, staff: Staff, form: str, period_key: str, **values) -> Report:
    """A filed report with its numeric answers as metric rows."""
    period = Period.parse(period_key)
    row = Report(staff_id=staff.id, form_key=form, period_key=period_key, answers=dict(values),
                 fields={}, filed_at=at_local(period.start, time(17), TZ),
                 updated_at=at_local(period.start, time(17), TZ))  # fmt: skip
    session.add(row)
    await session.flush()
    for key, value in values.items():
        session.add(Metric(report_id=row.id, staff_id=staff.id, form_key=form, field_key=key,
                           period_key=period_key, period_start=period.start,
                           value=Decimal(str(value))))  # fmt: skip
    await session.flush()
    return row


async def channel(session, name: str) -> Channel:
    """A channel in the library."""
    at = local("2026-09-01T09:00")
    row = Channel(name=name, norm_name=name, industry="property", region="shenyang",
                  created_at=at, updated_at=at)  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def move(session, ch: Channel, by: Staff, old: str | None, new: str, day: str) -> None:
    """A recorded stage change of a channel."""
    session.add(ChannelStageChange(channel_id=ch.id, from_stage=old, to_stage=new,
                                   by_staff_id=by.id, at=local(f"{day}T10:00"),
                                   day=date.fromisoformat(day)))  # fmt: skip
    await session.flush()


async def plan(
    session,
    by: Staff,
    targets: list[tuple[str, str]],
    actuals: list[tuple[str, str]] | None,
    completed: str | None,
    status: str = "completed",
) -> ActivityPlan:
    """An activity plan with targets (indicator, target) and, when completed, its actuals."""
    row = ActivityPlan(
        proposer_id=by.id, status=status, title="活动", fields={},
        answers={"targets": [{"indicator": i, "target": t} for i, t in targets]},
        start_date=date(2026, 10, 8), end_date=date(2026, 10, 9), budget_period="2026-10",
        submitted_at=local("2026-10-01T09:00"), created_at=local("2026-10-01T09:00"),
        updated_at=local("2026-10-01T09:00"),
        results=None if actuals is None
        else {"actuals": [{"indicator": i, "actual": a} for i, a in actuals]},
        completed_at=local(completed) if completed else None,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def obligation(session, staff: Staff, form: str, due: str, status: str) -> Obligation:
    """One owed report, due at that team-local time, in that state."""
    due_at = local(due)
    row = Obligation(staff_id=staff.id, form_key=form, period_key=due[:10], due_at=due_at,
                     closes_at=due_at, status=status, created_at=due_at)  # fmt: skip
    session.add(row)
    await session.flush()
    return row
