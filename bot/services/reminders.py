"""Reminders: the ladder each open obligation walks and escalation.

Everything is derived from rows plus the calendar at the moment asked ("what is due now?"), so
a restart, a second process or a day of downtime changes nothing: each step has an outbox key,
and after downtime only the latest step that applies is sent.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import WorkCalendar, at_local, local_date
from bot.config import ReminderSettings
from bot.forms.spec import ReportsConfig
from bot.forms.summary import period_label
from bot.i18n import t
from bot.models import Obligation, Staff
from bot.outbox import Row, enqueue, enqueue_many
from bot.render import render
from bot.services import leave
from bot.services import staff as staff_service
from bot.services.obligations import clock_time
from bot.services.periods import WEEKDAY_NAMES, short_date
from bot.states import ObligationStatus

log = logging.getLogger(__name__)
# The ladder: 1 gentle (before due), 2 overdue (at due + grace), 3 the next working morning.
GENTLE, OVERDUE, NEXT_DAY = 1, 2, 3
STEP_NAMES = {GENTLE: "gentle", OVERDUE: "overdue", NEXT_DAY: "next_day"}
CLAIM_CHUNK = 500  # ids per UPDATE (SQLite and asyncpg cap a statement's parameters)


@dataclass(frozen=True)
class Nag:
    """One reminder that is due now, and why."""

    obligation: Obligation
    staff: Staff
    step: int
    at: datetime  # when the step became due
    tz: ZoneInfo  # the team's zone, in which the reminder says when

    @property
    def key(self) -> str:
        o = self.obligation
        return f"nag:{o.staff_id}:{o.form_key}:{o.period_key}:{self.step}"


def step_times(
    obligation: Obligation, cal: WorkCalendar, tz: ZoneInfo, cfg: ReminderSettings
) -> dict[int, datetime]:
    """When each step of the ladder falls due for this obligation."""
    due_day = local_date(obligation.due_at, tz)
    return {
        GENTLE: obligation.due_at - timedelta(minutes=cfg.before_due_minutes),
        OVERDUE: obligation.due_at,
        NEXT_DAY: at_local(cal.next_workday(due_day), clock_time(cfg.next_day_time), tz),
    }


def quiet(moment: datetime, tz: ZoneInfo, cfg: ReminderSettings) -> bool:
    """True inside quiet hours (team-local), when private reminders wait."""
    now = moment.astimezone(tz).time()
    start, end = clock_time(cfg.quiet_start), clock_time(cfg.quiet_end)
    return (start <= now or now < end) if start > end else (start <= now < end)


async def due_nags(
    session: AsyncSession, cal: WorkCalendar, tz: ZoneInfo, cfg: ReminderSettings
) -> list[Nag]:
    """For each open obligation, the latest ladder step that is due and not yet sent."""
    now = clock.now()
    if quiet(now, tz, cfg):
        return []
    # The ladder's first step falls `before_due_minutes` before the due time and its last is
    # NEXT_DAY: only rows past that first moment and not at the last step can have one due, so
    # the index on (status, due_at) finds them and a minute with nothing due reads nothing, at
    # any team size (loading every open obligation cost 2 s a tick at 10,000 staff).
    earliest = now + timedelta(minutes=cfg.before_due_minutes)
    rows = await session.scalars(
        select(Obligation).where(
            Obligation.status == ObligationStatus.OPEN,
            Obligation.due_at <= earliest,
            Obligation.closes_at > now,
            Obligation.reminder_step < NEXT_DAY,
        )
    )
    reached_by = []
    for obligation in rows:
        times = step_times(obligation, cal, tz, cfg)
        reached = [
            step for step, at in times.items() if at <= now and step > obligation.reminder_step
        ]
        if reached:
            step = max(reached)  # after downtime: only the latest step that applies
            reached_by.append((obligation, step, times[step]))
    if not reached_by:
        return []
    # Everyone concerned, and who is away today, in two statements (not two per reminder).
    people = await staff_service.by_ids(session, {o.staff_id for o, _, _ in reached_by})
    away = await leave.away_ids(session, local_date(now, tz))
    return [
        Nag(obligation, people[obligation.staff_id], step, at, tz)
        for obligation, step, at in reached_by
        if obligation.staff_id in people
        and people[obligation.staff_id].active
        and obligation.staff_id not in away
    ]


async def send_nags(session: AsyncSession, nags: list[Nag], reports: ReportsConfig) -> int:
    """Queue each nag once and record the step reached; returns how many were queued.

    In bulk (one statement per step, then one per chunk of rows: a statement, a savepoint and
    an INSERT per reminder took 5 s for 1,000): the steps are claimed first, so another process
    that got there keeps its own; a nag whose text fails is logged and stays pushed past that
    step, and the others go out."""
    claimed = await _claim_steps(session, nags)
    rows = []
    for nag in nags:
        if nag.obligation.id not in claimed:
            continue  # another process got there
        try:
            row = await _send_nag(session, nag, reports)
        except Exception:
            log.exception("reminder %s failed; pushed past that step", nag.key)
            continue
        if row is not None:
            rows.append(row)
    return await enqueue_many(session, rows)


async def _claim_steps(session: AsyncSession, nags: list[Nag]) -> set[int]:
    """Move each obligation to its nag's step where it is still below it; the ids moved."""
    by_step: dict[int, list[int]] = {}
    for nag in nags:
        by_step.setdefault(nag.step, []).append(nag.obligation.id)
    claimed: set[int] = set()
    for step, ids in by_step.items():
        for start in range(0, len(ids), CLAIM_CHUNK):
            moved = await session.execute(
                update(Obligation)
                .where(
                    Obligation.id.in_(ids[start : start + CLAIM_CHUNK]),
                    Obligation.reminder_step < step,
                )
                .values(reminder_step=step)
                .returning(Obligation.id)
                # Without this, each UPDATE is matched against every obligation in the session:
                # queuing N reminders cost N² (4,000 took 128 s instead of 18 s).
                .execution_options(synchronize_session=False)
            )
            claimed.update(moved.scalars())
    return claimed


async def _send_nag(session: AsyncSession, nag: Nag, reports: ReportsConfig) -> Row | None:
    """The outbox row of one claimed nag (None when its form left the config)."""
    form = reports.form(nag.obligation.form_key)
    if form is None:
        return None
    locale, now = nag.staff.locale, clock.now()
    text = render(
        "reminder.html.j2", locale, step=STEP_NAMES[nag.step],
        form_name=form.name.get(locale), command=form.command,
        period=period_label(nag.obligation.period_key, locale),
        due=when(nag.obligation.due_at, now, nag.tz, locale),
        closes=when(nag.obligation.closes_at, now, nag.tz, locale),
    )  # fmt: skip
    return Row(nag.key, nag.staff.telegram_id, text, about=f"obl:{nag.obligation.id}")


def when(moment: datetime, now: datetime, tz: ZoneInfo, locale: str) -> str:
    """A moment as people say it, seen from `now` in the team's zone: "今天 18:00",
    "明天 12:00", "昨天 18:00", "周一 12:00" within the week ahead, else "12月7日（周一）12:00"."""
    local = moment.astimezone(tz)
    days = (local.date() - now.astimezone(tz).date()).days
    clock_text = local.strftime("%H:%M")
    weekday = t(locale, WEEKDAY_NAMES[local.weekday()])
    if days == 0:
        return t(locale, "today %(time)s", time=clock_text)
    if days == 1:
        return t(locale, "tomorrow %(time)s", time=clock_text)
    if days == -1:
        return t(locale, "yesterday %(time)s", time=clock_text)
    if 1 < days < 7:
        return t(locale, "%(weekday)s %(time)s", weekday=weekday, time=clock_text)
    day = short_date(local.date(), locale)
    return t(locale, "%(weekday)s %(date)s %(time)s", weekday=weekday, date=day, time=clock_text)


async def reminder_still_wanted(session: AsyncSession, about: str) -> bool:
    """The sender's check: a reminder whose report was filed meanwhile (quiet hours too)
    is dropped."""
    obligation = await session.get(Obligation, int(about.split(":", 1)[1]))
    return obligation is not None and obligation.status == ObligationStatus.OPEN


async def escalate(
    session: AsyncSession, missed: list[Obligation], reports: ReportsConfig, misses: int
) -> int:
    """One message per director listing who has now missed `misses` periods of a form in a row."""
    lines: list[tuple[str, str, int, str]] = []
    seen: set[tuple[int, str]] = set()
    for obligation in sorted(missed, key=lambda o: o.due_at, reverse=True):
        if (obligation.staff_id, obligation.form_key) in seen:
            continue  # several periods closed in one tick: one line per person and form (latest)
        seen.add((obligation.staff_id, obligation.form_key))
        streak = await _missed_streak(session, obligation.staff_id, obligation.form_key)
        staff = await session.get(Staff, obligation.staff_id)
        form = reports.form(obligation.form_key)
        if streak >= misses and staff is not None and staff.active and form is not None:
            lines.append((staff.display_name, obligation.form_key, streak, obligation.period_key))
    if not lines:
        return 0
    batch = "-".join(str(o.id) for o in sorted(missed, key=lambda o: o.id))
    queued = 0
    for director in await staff_service.directors(session):
        rows = [
            (name, reports.form(key).name.get(director.locale), n, period_label(p, director.locale))
            for name, key, n, p in lines
        ]
        queued += await enqueue(
            session, f"escalate:{batch}:{director.telegram_id}", director.telegram_id,
            render("escalation.html.j2", director.locale, rows=rows),
        )  # fmt: skip
    return queued


async def _missed_streak(session: AsyncSession, staff_id: int, form_key: str) -> int:
    recent = await session.scalars(
        select(Obligation.status)
        .where(Obligation.staff_id == staff_id, Obligation.form_key == form_key,
               Obligation.status != ObligationStatus.OPEN)
        .order_by(Obligation.due_at.desc())
        .limit(30)
    )  # fmt: skip
    streak = 0
    for status in recent:
        if status != ObligationStatus.MISSED:
            break
        streak += 1
    return streak
