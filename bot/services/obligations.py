"""Obligations: who owes which form for which period, when it is due and when it closes."""

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period, WorkCalendar, at_local, local_date
from bot.db import insert_for_dialect
from bot.forms.spec import LONG_CADENCES, WEEKDAYS, FormSpec
from bot.models import Leave, Obligation, Report, Staff, StaffRole
from bot.services import leave, roster_version
from bot.services import staff as staff_service
from bot.states import FILED, ObligationStatus

# Rows per run of the INSERT (SQLAlchemy pages them within the bound parameters SQLite allows).
INSERT_CHUNK = 2000

PERIOD_KIND = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
}
# How far back a leave may end and still cover the due day of an obligation not yet closed
# (close_workdays ≤ 10 working days, plus the longest run of holidays).
LEAVE_LOOKBACK = timedelta(days=60)
# PostgreSQL advisory locks (two-key form) of "obligations of one form and period"; the first
# key sets them apart from other locks of the application.
PERIOD_LOCK_SPACE = 7_215_038


@dataclass(frozen=True)
class Schedule:
    """When one period of a form is due, and when it stops taking reports."""

    period: Period
    due_at: datetime
    closes_at: datetime


def clock_time(text: str) -> time:
    """A config time such as "18:00" as a time of day."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def schedule(form: FormSpec, period: Period, cal: WorkCalendar, tz: ZoneInfo) -> Schedule | None:
    """Due and close times of `period`; None when nobody works in it (holiday, golden week)."""
    days = _due_and_close_days(form, period, cal)
    if days is None:
        return None
    due_day, close_day = days
    due_at = at_local(due_day, clock_time(form.due_time), tz) + timedelta(
        minutes=form.grace_minutes
    )
    return Schedule(period, due_at, at_local(close_day, clock_time(form.close_time), tz))


def _due_and_close_days(
    form: FormSpec, period: Period, cal: WorkCalendar
) -> tuple[date, date] | None:
    """Each cadence's rule on the working calendar, in one place."""
    if form.cadence == "daily":
        if not cal.is_workday(period.start):
            return None
        return period.start, cal.next_workday(period.start)
    if form.cadence == "weekly":
        wanted = period.start + timedelta(days=WEEKDAYS.index(form.due_weekday))
        due_day = wanted if cal.is_workday(wanted) else cal.last_workday_of_week(period.start)
        if due_day is None:
            return None
        return due_day, period.end + timedelta(days=1)  # the Monday after
    # Monthly, quarterly, yearly: a working day of the period (-1: its last, a 调休 Saturday
    # included), open until close_workdays working days later (-1, 2: the next period's second).
    due_day = cal.nth_workday(period.start, period.end, form.due_workday)
    if due_day is None:
        return None
    return due_day, cal.add_workdays(due_day, form.close_workdays)


def periods_ahead(form: FormSpec, today: date) -> tuple[Period, ...]:
    """The periods whose obligations the tick keeps: daily and weekly this one and the next;
    longer cadences only this one (a year ahead the calendar may not be published yet, and a
    leave or a config change would have to be applied to a row made months before)."""
    current = period_of(form, today)
    return (current,) if form.cadence in LONG_CADENCES else (current, current.next())


def period_of(form: FormSpec, day: date) -> Period:
    """The period of `form` that contains `day`."""
    return Period.containing(PERIOD_KIND[form.cadence], day)


async def owers(session: AsyncSession, form: FormSpec) -> list[Staff]:
    """Active people who must file `form` (by role)."""
    query = (
        select(Staff)
        .join(StaffRole)
        .where(Staff.active.is_(True), StaffRole.role.in_(form.roles))
        .distinct()
        .order_by(Staff.id)
    )
    return list(await session.scalars(query))


async def create_ahead(
    session: AsyncSession,
    forms: tuple[FormSpec, ...],
    cal: WorkCalendar,
    tz: ZoneInfo,
    *,
    complete: dict | None = None,
) -> int:
    """Create this period's and the next period's obligations; returns how many were new.
    (One person who joined a moment ago: `create_for_newcomer`.) `complete`: the tick's memory
    (AppState.owers_complete) of the periods whose owers all had their rows at a roster version;
    they are not looked for again until the version moves."""
    now = clock.now()
    version = await roster_version.read(session) if complete is not None else None
    found = {}  # this call's complete periods, remembered once its transaction commits
    created = 0
    for form, plan in _open_plans(forms, cal, tz, now):
        key = (form.key, tuple(form.roles), plan.period.key, plan.due_at)
        if version is None or complete.get(key) != version:
            missing = await _owing_without_row(session, form, plan)
            if missing:
                created += await _create_missing(session, form.key, plan, missing, tz, now)
        found[key] = version
    if version is not None:
        roster_version.remember_on_commit(session, complete, found)
    return created


def _open_plans(
    forms: tuple[FormSpec, ...],
    cal: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    roles: set[str] | None = None,
) -> Iterator[tuple[FormSpec, Schedule]]:
    """Each owed form's periods ahead that are still open (of forms owed by `roles`, if given)."""
    today = local_date(now, tz)
    for form in forms:
        if form.cadence not in PERIOD_KIND:
            continue  # adhoc forms (activity plans) are filed when wanted, never owed
        if roles is not None and not roles & set(form.roles):
            continue
        for period in periods_ahead(form, today):
            plan = schedule(form, period, cal, tz)
            # A form added mid-period whose due day is long past owes nothing for it.
            if plan is not None and plan.closes_at > now:
                yield form, plan


async def _owing_without_row(session: AsyncSession, form: FormSpec, plan: Schedule) -> list:
    """Active owers of `form` who joined before the due time and have no row for the period
    (id and joined_at): asked of the database, so a minute with nothing to create loads no
    person and no obligation (loading them all cost 1.5 s a tick at 10,000 staff)."""
    has_row = exists().where(
        Obligation.staff_id == Staff.id,
        Obligation.form_key == form.key,
        Obligation.period_key == plan.period.key,
    )
    query = (
        select(Staff.id, Staff.joined_at)
        .where(
            Staff.active.is_(True),
            Staff.joined_at < plan.due_at,
            Staff.id.in_(select(StaffRole.staff_id).where(StaffRole.role.in_(form.roles))),
            ~has_row,
        )
        .order_by(Staff.id)
    )
    return list(await session.execute(query))


async def _create_missing(
    session: AsyncSession, form_key: str, plan: Schedule, missing: list, tz, now: datetime
) -> int:
    # Insert only what is missing, in one statement per chunk (one INSERT per person per minute
    # cost 25 s a tick at 10,000 staff).
    away = await leave.away_ids(session, local_date(plan.due_at, tz))
    # A person owes the first period whose due time is after they joined, and nothing for a
    # period whose due day they are on leave.
    rows = [
        _row(p.id, form_key, plan, now)
        for p in missing
        if plan.due_at > p.joined_at and p.id not in away
    ]
    if not rows:
        return 0
    await lock_period(session, form_key, plan.period.key, exclusive=True)
    created = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        created += await _insert_new(session, rows[start : start + INSERT_CHUNK])
    # Someone may have filed this period before it was owed (the first minute after joining,
    # a tick that had not run yet): such a new obligation is settled by that report at once.
    await settle_filed(session, form_key, plan.period.key, [row["staff_id"] for row in rows])
    return created


def _row(staff_id: int, form_key: str, plan: Schedule, now: datetime) -> dict:
    """An open obligation row of one person for `plan`'s period."""
    return dict(staff_id=staff_id, form_key=form_key, period_key=plan.period.key,
                due_at=plan.due_at, closes_at=plan.closes_at, status=ObligationStatus.OPEN,
                reminder_step=0, created_at=now)  # fmt: skip


async def _insert_new(session: AsyncSession, rows: list[dict]) -> int:
    """Insert the rows no other process inserted meanwhile; how many were new."""
    # The rows as parameters (SQLAlchemy's "insertmanyvalues" sends them as one statement a
    # page): with the rows in the statement (.values(rows)) it was compiled afresh at every
    # run, as SQLAlchemy caches no multi-row VALUES (tests/test_sql_counts.py checks).
    statement = _insert_new_statement(session.bind.dialect.name == "postgresql")
    return len((await session.execute(statement, rows)).all())


@cache
def _insert_new_statement(postgresql: bool):
    table = Obligation.__table__
    return (
        insert_for_dialect(postgresql)(table)
        .on_conflict_do_nothing(index_elements=["staff_id", "form_key", "period_key"])
        .returning(table.c.id)
    )


async def lock_period(
    session: AsyncSession, form_key: str, period_key: str, *, exclusive: bool
) -> None:
    """Serialise creating a period's obligations (exclusive) with filing in it (shared).

    Each side looks for the other's row only after taking this lock, and holds it until its
    transaction ends, so a report and its obligation never both miss each other on PostgreSQL
    (READ COMMITTED sees neither uncommitted row). SQLite needs nothing: one writer at a time,
    and both sides look after their first write.
    """
    if session.bind.dialect.name != "postgresql":
        return
    key = zlib.crc32(f"{form_key}:{period_key}".encode()) - 2**31  # a signed 32-bit int
    how = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(
        text(f"SELECT {how}(:space, :key)"), {"space": PERIOD_LOCK_SPACE, "key": key}
    )


async def settle_filed(
    session: AsyncSession, form_key: str | None, period_key: str | None, staff_ids: list[int]
) -> None:
    """Open obligations of these people whose period already has a report become filed or late
    as of the report's first filing, and each such report is linked to its obligation. With no
    form and period: every form and period of theirs."""
    settle, link = _settle_filed_statements(form_key is not None)
    period = {} if form_key is None else {"form": form_key, "period": period_key}
    for start in range(0, len(staff_ids), INSERT_CHUNK):
        params = {"ids": staff_ids[start : start + INSERT_CHUNK], **period}
        await session.execute(settle, params)
        await session.execute(link, params)


@cache
def _settle_filed_statements(one_period: bool) -> tuple:
    # Built once per shape (one form's period, or all of them), on the tables: the ORM would
    # annotate its own UPDATEs afresh on every run (approving a newcomer runs both).
    o, r = Obligation.__table__.c, Report.__table__.c
    its_report = and_(
        r.staff_id == o.staff_id, r.form_key == o.form_key, r.period_key == o.period_key
    )
    filed_at = select(r.filed_at).where(its_report).scalar_subquery()
    settle = (
        update(Obligation.__table__)
        .where(o.staff_id.in_(bindparam("ids", expanding=True)), o.status == ObligationStatus.OPEN)
        .where(exists().where(its_report))
        .values(
            status=case((filed_at > o.due_at, ObligationStatus.LATE), else_=ObligationStatus.FILED),
            filed_at=filed_at,
        )
    )
    owed = select(o.id).where(its_report)
    link = (
        update(Report.__table__)
        .where(r.staff_id.in_(bindparam("ids", expanding=True)))
        .where(r.obligation_id.is_(None), exists(owed))
        .values(
            obligation_id=owed.scalar_subquery(),
            late=select(o.status == ObligationStatus.LATE).where(its_report).scalar_subquery(),
        )
    )
    if one_period:  # parameters not named after the columns (an UPDATE keeps those for SET)
        settle = settle.where(o.form_key == bindparam("form"), o.period_key == bindparam("period"))
        link = link.where(r.form_key == bindparam("form"), r.period_key == bindparam("period"))
    return settle, link


async def settle(
    session: AsyncSession, staff_id: int, form_key: str, period_key: str, at: datetime
) -> Obligation | None:
    """A report of the period was filed at `at`: its obligation, if still open, becomes filed or
    late. Returns the period's obligation (whatever its status), None when nothing is owed."""
    await lock_period(session, form_key, period_key, exclusive=False)
    params = {"who": staff_id, "form": form_key, "period": period_key, "at": at}
    settled = await session.scalar(_SETTLE, params)
    if settled is not None:
        return settled
    return await session.scalar(_THE_PERIODS, params)


# Built once, each run with new parameters: every report filed runs them (SQLAlchemy memoizes
# a statement's cache key; see staff._BY_TELEGRAM_ID).
_MINE = (  # not named after the columns: an UPDATE keeps those names for its SET clause
    Obligation.staff_id == bindparam("who"),
    Obligation.form_key == bindparam("form"),
    Obligation.period_key == bindparam("period"),
)
_SETTLE = (
    update(Obligation)
    .where(*_MINE, Obligation.status == ObligationStatus.OPEN)
    .values(
        status=case(
            (Obligation.due_at < bindparam("at"), ObligationStatus.LATE),
            else_=ObligationStatus.FILED,
        ),
        filed_at=bindparam("at"),
    )
    .returning(Obligation)  # the open one, settled: no second statement to read it
    .execution_options(synchronize_session=False, populate_existing=True)
)
_FOR_PERIOD = select(Obligation).where(*_MINE)
_THE_PERIODS = _FOR_PERIOD.execution_options(populate_existing=True)


async def excuse_on_leave(session: AsyncSession, tz: ZoneInfo) -> int:
    """Open obligations whose due day falls on a leave recorded after they were created are
    excused (a month's report is created weeks before its due day); returns how many."""
    now = clock.now()
    # The few recent leaves first, then only their people's obligations (by the index that
    # starts with staff_id): joined in one statement, SQLite walked every open obligation each
    # minute to probe the leaves (18 ms at 10,000 staff with no leave at all).
    leaves = list(
        await session.execute(
            select(Leave.staff_id, Leave.start_date, Leave.end_date).where(
                Leave.end_date >= local_date(now, tz) - LEAVE_LOOKBACK
            )
        )
    )
    if not leaves:
        return 0
    away: dict[int, list[tuple[date, date]]] = {}
    for staff_id, start, end in leaves:
        away.setdefault(staff_id, []).append((start, end))
    people, ids = sorted(away), []
    for start in range(0, len(people), INSERT_CHUNK):  # bound parameters per statement
        rows = await session.execute(
            select(Obligation.id, Obligation.staff_id, Obligation.due_at).where(
                Obligation.staff_id.in_(people[start : start + INSERT_CHUNK]),
                Obligation.status == ObligationStatus.OPEN,
                Obligation.closes_at > now,
            )
        )
        ids += [
            oid
            for oid, staff_id, due in rows
            if any(first <= local_date(due, tz) <= last for first, last in away[staff_id])
        ]
    if not ids:
        return 0
    excused = await session.execute(
        update(Obligation)
        .where(Obligation.id.in_(sorted(ids)), Obligation.status == ObligationStatus.OPEN)
        .values(status=ObligationStatus.EXCUSED)
        .execution_options(synchronize_session=False)
    )
    return excused.rowcount


async def close_expired(session: AsyncSession) -> list[Obligation]:
    """Obligations past their closing time without a report become missed; returns them."""
    expired = list(
        await session.scalars(
            select(Obligation).where(
                Obligation.status == ObligationStatus.OPEN, Obligation.closes_at <= clock.now()
            )
        )
    )
    # One with a report is filed, not missed (a report filed before reports settled their
    # obligation whatever the order); the UPDATE below then leaves it alone.
    periods: dict[tuple[str, str], list[int]] = {}
    for obligation in expired:
        periods.setdefault((obligation.form_key, obligation.period_key), []).append(
            obligation.staff_id
        )
    for (form_key, period_key), staff_ids in periods.items():
        await settle_filed(session, form_key, period_key, staff_ids)
    closed = []
    for obligation in expired:
        # Conditional, so two processes ticking together close (and escalate) each once.
        changed = await session.execute(
            update(Obligation)
            .where(Obligation.id == obligation.id, Obligation.status == ObligationStatus.OPEN)
            .values(status=ObligationStatus.MISSED)
            # The session holds every loaded obligation; matching each against this UPDATE
            # made closing N rows cost N² (we set the one object's status ourselves).
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:
            obligation.status = ObligationStatus.MISSED
            closed.append(obligation)
    return closed


async def oldest_open(
    session: AsyncSession, staff_id: int, form_key: str, today: date
) -> tuple[Obligation | None, bool]:
    """The obligation a report filed now counts for: the oldest still open whose period began,
    and whether a report of its period is on file already (read with it: one filed before its
    obligation was made, say), so a new draft need not look again.

    So /daily at 00:30 still files yesterday's report while yesterday is open, and tomorrow's
    obligation (created ahead) cannot be filed before tomorrow.
    """
    params = {"who": staff_id, "form": form_key, "now": clock.now()}
    candidates = await session.execute(_OPEN_NOW, params)
    found = (row for row in candidates if Period.parse(row[0].period_key).start <= today)
    obligation, filed = next(found, (None, False))
    return obligation, bool(filed)


async def editable(
    session: AsyncSession, staff_id: int, form_key: str, today: date
) -> Obligation | None:
    """The newest filed obligation that has not closed yet (its report may still be edited)."""
    params = {"who": staff_id, "form": form_key, "now": clock.now()}
    candidates = await session.scalars(_FILED_OPEN, params)
    return next((o for o in candidates if Period.parse(o.period_key).start <= today), None)


async def for_period(
    session: AsyncSession, staff_id: int, form_key: str, period_key: str
) -> Obligation | None:
    """The obligation of one person, form and period, if any."""
    params = {"who": staff_id, "form": form_key, "period": period_key}
    return await session.scalar(_FOR_PERIOD, params)


# Built once: starting a report asks for these (see staff._BY_TELEGRAM_ID).
_REPORT_OF_IT = exists().where(
    Report.staff_id == Obligation.staff_id,
    Report.form_key == Obligation.form_key,
    Report.period_key == Obligation.period_key,
)
_OPEN_NOW = (
    select(Obligation, _REPORT_OF_IT)
    .where(
        *_MINE[:2],  # the person's and the form's
        Obligation.status == ObligationStatus.OPEN,
        Obligation.closes_at > bindparam("now"),
    )
    .order_by(Obligation.due_at)
)
_FILED_OPEN = (
    select(Obligation)
    .where(
        *_MINE[:2],
        Obligation.status.in_(FILED),
        Obligation.closes_at > bindparam("now"),
    )
    .order_by(Obligation.due_at.desc())
)


def mark_filed(obligation: Obligation, at: datetime) -> None:
    """A report arrived: on time or late, and the reminders stop."""
    obligation.status = ObligationStatus.LATE if at > obligation.due_at else ObligationStatus.FILED
    obligation.filed_at = at


# Built once: approving a newcomer reads what they owe already.
_PERIODS_OWED = select(Obligation.form_key, Obligation.period_key).where(
    Obligation.staff_id == bindparam("who")
)


async def create_for_newcomer(
    session: AsyncSession,
    forms: tuple[FormSpec, ...],
    cal: WorkCalendar,
    tz: ZoneInfo,
    person: Staff,
) -> int:
    """What `create_ahead` would create for one person who joined (or came back) a moment ago,
    in this transaction: their forms' obligations for this period and the next, in four
    statements whatever the number of forms (one anti-join, leave read, INSERT and settle per
    form and period made approving a newcomer 58 statements). Returns how many were new.

    No period lock (lock_period): nobody else can file as this person, or see them, before the
    transaction commits; a tick that creates their rows meanwhile is absorbed by ON CONFLICT.
    """
    now = clock.now()
    plans = [
        (form, plan)
        for form, plan in _open_plans(forms, cal, tz, now, person.role_names)
        if plan.due_at > person.joined_at
    ]
    if not plans or not person.active:
        return 0
    # A row made in this transaction has nothing referring to it yet: no obligations, leave or
    # reports to read (four statements of approving a newcomer).
    first_time = staff_service.made_here(session, person)
    have = set() if first_time else set(await session.execute(_PERIODS_OWED, {"who": person.id}))
    away = (
        _never_away
        if first_time
        else await leave.days_away(session, person.id, local_date(now, tz))
    )
    rows = [
        _row(person.id, form.key, plan, now)
        for form, plan in plans
        if (form.key, plan.period.key) not in have and not away(local_date(plan.due_at, tz))
    ]
    if not rows:
        return 0
    created = await _insert_new(session, rows)
    if not first_time:  # someone back may have filed a period before leaving: settled by it
        await settle_filed(session, None, None, [person.id])
    return created


def _never_away(day: date) -> bool:
    return False
