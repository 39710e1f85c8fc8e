"""When each digest is due: its cron schedule, the period it covers, and whether it went out."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import Period, WorkCalendar, local_date
from bot.config import Settings
from bot.models import Outbox

KINDS = ("daily", "weekly", "monthly", "quarterly")
# The period a digest firing on a day is about: the day itself, or the one that just ended.
ABOUT = {"daily": ("day", 0), "weekly": ("week", 1), "monthly": ("month", 1),
         "quarterly": ("quarter", 1)}  # fmt: skip
# Ticks come once a minute at any second: a fire is caught if it fell within this much before.
MIN_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class Due:
    """A digest whose scheduled time has come: which one and the period it covers."""

    kind: str
    period: Period
    fired_at: datetime

    @property
    def key(self) -> str:
        """The outbox key that makes it once per period, whatever the number of processes."""
        return f"digest:{self.kind}:{self.period.key}"


def last_fire(expr: str, tz: ZoneInfo, now: datetime, grace: timedelta) -> datetime | None:
    """The latest scheduled time of a cron expression within `grace` before now, if any."""
    trigger = CronTrigger.from_crontab(expr, timezone=tz)
    fire = trigger.get_next_fire_time(None, now - max(grace, MIN_GRACE))
    found = None
    while fire is not None and fire <= now:
        found = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return found


def due_now(settings: Settings, cal: WorkCalendar, now: datetime) -> list[Due]:
    """The digests whose time has come (daily ones only on working days)."""
    tz, schedule = settings.team.tz, settings.kpi.digests
    found = []
    for kind in KINDS:
        expr = getattr(schedule, kind)
        fired = last_fire(expr, tz, now, timedelta(hours=schedule.grace_hours)) if expr else None
        if fired is None:
            continue
        day = local_date(fired, tz)
        if kind == "daily" and not _daily_still_useful(settings, cal, day, now):
            continue
        period_kind, back = ABOUT[kind]
        period = Period.containing(period_kind, day)
        found.append(Due(kind, period.previous() if back else period, fired))
    return found


def _daily_still_useful(settings: Settings, cal: WorkCalendar, day, now: datetime) -> bool:
    # Working days only; and a day's digest caught late goes out that evening or not at all —
    # never in the night, never the next morning beside the next day's news.
    tz, quiet = settings.team.tz, settings.reminders.quiet_start
    local_now = now.astimezone(tz)
    return cal.is_workday(day) and local_now.date() == day and local_now.strftime("%H:%M") < quiet


async def already_queued(session: AsyncSession, due: Due) -> bool:
    """Whether this digest for this period is in the outbox (queued, sent or given up) already."""
    return await session.scalar(select(Outbox.id).where(Outbox.dedup_key == due.key)) is not None
