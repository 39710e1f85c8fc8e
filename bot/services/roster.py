"""Who has filed what today (this week, this month …), who is late, who is away — for /team."""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period, WorkCalendar, local_date
from bot.forms.spec import LONG_CADENCES, FormSpec
from bot.models import Obligation, Staff, Task
from bot.services import leave, obligations
from bot.states import FILED, TASK_OPEN, ObligationStatus

# /team names at most this many overdue tasks (the oldest deadline first); the rest are a count.
OVERDUE_SHOWN = 10


@dataclass(frozen=True)
class Line:
    """One person's state for one form's current period."""

    name: str
    state: str  # filed | late | waiting | overdue | away
    at: datetime | None  # when filed, or when due
    staff_id: int | None = None  # whose line (the dashboard shows a person their own only)


async def current(
    session: AsyncSession,
    forms: tuple[FormSpec, ...],
    today: date,
    cal: WorkCalendar,
    tz: ZoneInfo,
) -> list[tuple[FormSpec, str, list[Line]]]:
    """For each owed form: its current period key and everyone who owes it, by state."""
    now = clock.now()
    away_today = await leave.away_ids(session, today)
    result = []
    for form in forms:
        if form.cadence not in obligations.PERIOD_KIND:
            continue
        shown = shown_period(form, today, cal, tz, now)
        period = shown.key
        # A month's report is owed by whoever is at work on its due day, not today.
        plan = obligations.schedule(form, shown, cal, tz)
        away = away_today
        if form.cadence in LONG_CADENCES and plan is not None:
            away = await leave.away_ids(session, local_date(plan.due_at, tz))
        rows = await session.execute(
            select(Obligation, Staff)
            .join(Staff, Staff.id == Obligation.staff_id)
            .where(Obligation.form_key == form.key, Obligation.period_key == period)
            .order_by(Staff.display_name)
        )
        pairs = list(rows)
        owing = {s.id for _, s in pairs}
        lines = [_line(o, s, now) for o, s in pairs]
        # People on leave have no obligation for the period: list them as away.
        lines += [
            Line(s.display_name, "away", None, s.id)
            for s in await obligations.owers(session, form)
            if s.id in away and s.id not in owing
        ]
        if not lines and form.cadence in LONG_CADENCES:
            # A quarter's or year's plan nobody owes now is not news on a daily card; a daily
            # or weekly form owed by nobody is (someone may be missing from it).
            continue
        result.append((form, period, lines))
    return result


def shown_period(
    form: FormSpec, today: date, cal: WorkCalendar, tz: ZoneInfo, now: datetime
) -> Period:
    """The period /team shows: the current one; for monthly, quarterly and yearly forms the one
    before while it still takes reports (on 1 December, November's report is what is chased)."""
    current = obligations.period_of(form, today)
    if form.cadence not in LONG_CADENCES:
        return current
    before = obligations.schedule(form, current.previous(), cal, tz)
    return before.period if before is not None and before.closes_at > now else current


def _line(obligation: Obligation, staff: Staff, now: datetime) -> Line:
    if obligation.status in FILED:
        return Line(staff.display_name, obligation.status, obligation.filed_at, staff.id)
    if obligation.status == ObligationStatus.EXCUSED:
        return Line(staff.display_name, "away", None, staff.id)
    state = "overdue" if obligation.due_at <= now else "waiting"
    return Line(staff.display_name, state, obligation.due_at, staff.id)


@dataclass(frozen=True)
class TeamTasks:
    """The team's open tasks for /team: how many, and the overdue ones by name."""

    open: int
    overdue: int
    # (assignee's name, title, deadline), oldest deadline first, at most OVERDUE_SHOWN
    late: list[tuple[str, str, datetime]]


async def open_tasks(session: AsyncSession, now: datetime) -> TeamTasks:
    """Everyone's open tasks (with the assignee, postponement asked or not) and the overdue ones."""
    rows = list(
        await session.execute(
            select(Task, Staff)
            .join(Staff, Staff.id == Task.assignee_id)
            .where(Task.status.in_(TASK_OPEN))
            .order_by(Task.deadline, Task.id)
        )
    )
    late = [(staff.display_name, task.title, task.deadline) for task, staff in rows
            if task.deadline < now]  # fmt: skip
    return TeamTasks(len(rows), len(late), late[:OVERDUE_SHOWN])
