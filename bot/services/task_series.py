"""Recurring tasks (/assign @王伟 周报汇总 每周一 10:00): a series confirmed like a task, then one
task per occurrence on working days, created by the tick on the morning of its day, until the
assigner (or a director) stops it (docs/decisions.md 62).

The series row's `next_on` is the next day with an occurrence; the tick moves it on with one
conditional UPDATE, so two processes ticking at once create each occurrence once. An occurrence
whose deadline passed while nothing ran is skipped, not created late.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import ONE_DAY, WorkCalendar, at_local, local_date
from bot.i18n import t
from bot.models import Staff, TaskSeries
from bot.outbox import Buttons, enqueue
from bot.render import render
from bot.services import audit, recurrence, tasks
from bot.services.recurrence import Rule
from bot.services.tasks import TaskError
from bot.states import SeriesStatus

SEND = Action("task", "ss:{series}:{version}", series=ID, version=ID)
CANCEL = Action("task", "sx:{series}:{version}", series=ID, version=ID)
STOP = Action("task", "st:{series}:{version}", series=ID, version=ID)
# A tick after a long outage walks at most this many skipped days per series.
MAX_STEPS = 400


@dataclass(frozen=True)
class Occurrence:
    """One day of a series: when its task is created and when it is due."""

    day: date
    opens_at: datetime
    deadline: datetime


def rule_of(series: TaskSeries) -> Rule:
    """The series' recurrence."""
    return Rule.from_json(series.rule)


def occurrence(series: TaskSeries, day: date, cal: WorkCalendar, tz, morning: time) -> Occurrence:
    """The task of `day`: created that morning, or the working morning before when it is due
    before the morning comes."""
    rule = rule_of(series)
    deadline = at_local(day, rule.at, tz)
    opens_day = day if rule.at > morning else cal.previous_workday(day)
    return Occurrence(day, at_local(opens_day, morning, tz), deadline)


async def draft(
    session: AsyncSession, assigner: Staff, assignee: Staff, title: str, rule: Rule, *, tz,
    cal: WorkCalendar,
) -> TaskSeries:  # fmt: skip
    """The series as understood, not started: the assigner confirms it on a card."""
    title = " ".join((title or "").split())
    if not title:
        raise TaskError("no_title")
    if len(title) > tasks.TITLE_MAX:
        raise TaskError("title_too_long", max=tasks.TITLE_MAX, length=len(title))
    if not assignee.active:
        raise TaskError("inactive", name=assignee.display_name)
    now = clock.now()
    await tasks.may_assign(session, assigner, assignee, local_date(now, tz))
    first = _first_day(rule, now, cal, tz)
    if first is None:
        raise TaskError("never_due")
    series = TaskSeries(
        assigner_id=assigner.id, assignee_id=assignee.id, title=title, rule=rule.as_json(),
        status=SeriesStatus.DRAFT, version=1, next_on=first, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(series)
    await session.flush()
    return series


def _first_day(rule: Rule, now: datetime, cal: WorkCalendar, tz) -> date | None:
    """Today when today's occurrence is still ahead, else the next one."""
    today = local_date(now, tz)
    first = rule.next_on(today, cal)
    if first == today and at_local(today, rule.at, tz) <= now:
        first = rule.next_on(today + ONE_DAY, cal)
    return first


async def start(
    session: AsyncSession, series_id: int, version: int, actor: Staff, *, tz, cal: WorkCalendar,
    morning: time,
) -> TaskSeries:  # fmt: skip
    """✅ 发送: the series starts; an occurrence already due (today's) is created at once."""
    series = await _get(session, series_id)
    if series.assigner_id != actor.id:
        raise TaskError("not_yours")
    series = await _step(session, series, version, SeriesStatus.DRAFT, SeriesStatus.ACTIVE)
    await _audit(session, series, actor, "started")
    await _create_due(session, series, cal, tz, morning)
    return series


async def cancel(session: AsyncSession, series_id: int, version: int, actor: Staff) -> TaskSeries:
    """✖ 取消: the draft series is dropped."""
    series = await _get(session, series_id)
    if series.assigner_id != actor.id:
        raise TaskError("not_yours")
    return await _step(session, series, version, SeriesStatus.DRAFT, SeriesStatus.CANCELLED)


async def stop(
    session: AsyncSession, series_id: int, version: int, actor: Staff, *, tz
) -> TaskSeries:
    """⏹ 停止: no more occurrences (open ones stay); the assignee is told."""
    series = await _get(session, series_id)
    await tasks.may_decide(session, series.assigner_id, actor, tz)
    series = await _step(session, series, version, SeriesStatus.ACTIVE, SeriesStatus.STOPPED)
    await _audit(session, series, actor, "stopped")
    assignee = await session.get(Staff, series.assignee_id)
    if assignee.id != actor.id:
        text = render("task_series.html.j2", assignee.locale, series=series, event="stopped",
                      by=actor.display_name, repeat=rule_text(series, assignee.locale))  # fmt: skip
        await enqueue(session, f"series:{series.id}:stopped", assignee.telegram_id, text)
    return series


async def create_due(session: AsyncSession, cal: WorkCalendar, tz, morning: time) -> int:
    """The tick: create every occurrence whose morning has come; returns how many tasks."""
    # An occurrence due before the morning opens the working day before: look one day ahead.
    horizon = cal.next_workday(local_date(clock.now(), tz))
    series = await session.scalars(
        select(TaskSeries)
        .where(TaskSeries.status == SeriesStatus.ACTIVE, TaskSeries.next_on <= horizon)
        .order_by(TaskSeries.id)
    )
    created = 0
    for one in list(series):
        created += await _create_due(session, one, cal, tz, morning)
    return created


async def _create_due(
    session: AsyncSession, series: TaskSeries, cal: WorkCalendar, tz, morning: time
) -> int:
    now, created = clock.now(), 0
    for _ in range(MAX_STEPS):
        if series.status != SeriesStatus.ACTIVE:
            break
        due = occurrence(series, series.next_on, cal, tz, morning)
        if due.opens_at > now:
            break
        following = rule_of(series).next_on(due.day + ONE_DAY, cal)
        if following is None:  # nothing within a year: the series has run out
            await _step(session, series, series.version, SeriesStatus.ACTIVE, SeriesStatus.STOPPED)
            break
        moved = await session.execute(
            update(TaskSeries)
            .where(TaskSeries.id == series.id, TaskSeries.next_on == due.day,
                   TaskSeries.status == SeriesStatus.ACTIVE)
            .values(next_on=following, updated_at=now)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        await session.refresh(series)
        if moved.rowcount != 1:
            continue  # another process took this day; look again from where it left the row
        if due.deadline > now:
            await tasks.open_occurrence(session, series, due.deadline, tz)
            created += 1
    return created


async def _step(
    session: AsyncSession, series: TaskSeries, version: int, before: str, after: str
) -> TaskSeries:
    changed = await session.execute(
        update(TaskSeries)
        .where(TaskSeries.id == series.id, TaskSeries.version == version,
               TaskSeries.status == before)
        .values(status=after, version=version + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    await session.refresh(series)
    if changed.rowcount != 1:
        reason = "outdated" if series.version != version else "wrong_state"
        raise TaskError(reason, status=series.status)
    return series


async def _audit(session: AsyncSession, series: TaskSeries, actor: Staff, kind: str) -> None:
    await audit.record(session, actor.telegram_id, f"task.series_{kind}", f"series:{series.id}",
                       version=series.version, rule=series.rule)  # fmt: skip


async def _get(session: AsyncSession, series_id: int) -> TaskSeries:
    series = await session.get(TaskSeries, series_id, populate_existing=True)
    if series is None:
        raise TaskError("not_found")
    return series


def rule_text(series: TaskSeries, locale: str) -> str:
    """每周一 10:00 (the series' recurrence, for cards and lists)."""
    return recurrence.text_of(rule_of(series), locale)


def confirm_buttons(series: TaskSeries, locale: str) -> Buttons:
    """✅ 发送 / ✖ 取消 on a draft; ⏹ 停止 once it runs."""
    ids = (series.id, series.version)
    if series.status == SeriesStatus.DRAFT:
        return [
            [(t(locale, "✅ Send"), SEND.pack(*ids)), (t(locale, "✖ Cancel"), CANCEL.pack(*ids))]
        ]
    if series.status == SeriesStatus.ACTIVE:
        return [[(t(locale, "⏹ Stop repeating"), STOP.pack(*ids))]]
    return []


async def running(session: AsyncSession, me: Staff) -> list[TaskSeries]:
    """Series still running that I assigned or that come to me, oldest first."""
    rows = await session.scalars(
        select(TaskSeries)
        .where(TaskSeries.status == SeriesStatus.ACTIVE,
               (TaskSeries.assigner_id == me.id) | (TaskSeries.assignee_id == me.id))
        .order_by(TaskSeries.id)
        .limit(tasks.LIST_MAX)
    )  # fmt: skip
    return list(rows)


def stop_buttons(series: list[TaskSeries], me: Staff, locale: str) -> Buttons:
    """One ⏹ button per series I may stop (the ones I assigned)."""
    rows = []
    for one in series:
        if one.assigner_id == me.id or me.has_role("director"):
            label = t(locale, "⏹ Stop: %(title)s", title=one.title[:20])
            rows.append([(label, STOP.pack(one.id, one.version))])
    return rows


async def hand_over(session: AsyncSession, source_id: int, target_id: int) -> int:
    """A departed person's running series go to their successor (as assignee or assigner)."""
    moved = 0
    for column in (TaskSeries.assignee_id, TaskSeries.assigner_id):
        changed = await session.execute(
            update(TaskSeries)
            .where(column == source_id, TaskSeries.status == SeriesStatus.ACTIVE)
            .values({column.key: target_id, "updated_at": clock.now()})
            .execution_options(synchronize_session=False)
        )
        moved += changed.rowcount
    return moved
