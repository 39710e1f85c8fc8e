"""Digests to the team group on their cron schedules, each once per period (restarts included)."""

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import charts
from bot.calendar import Period, WorkCalendar, local_date
from bot.config import Settings
from bot.db import transaction
from bot.models import Outbox
from bot.outbox import enqueue, enqueue_photo
from bot.render import render
from bot.services import digests, kpi, periods, team
from bot.services import staff as staff_service
from bot.state import AppState

log = logging.getLogger(__name__)
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


async def run_due(
    state: AppState,
    now: datetime,
    step: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None,
) -> int:
    """Build and queue every due digest not queued before; returns how many messages.

    Each digest is one transaction from `step()` (default: a new one, committed at its end).
    """
    queued = 0
    for due in due_now(state.settings, state.calendar, now):
        async with (step or partial(transaction, state.sessions))() as session:
            if await _already(session, due.key):
                continue
            group = (await team.get(session)).group_chat_id
            if group is None:
                continue
            queued += await queue_digest(session, state.settings, state.calendar, due, group, now)
    return queued


async def _already(session: AsyncSession, key: str) -> bool:
    return await session.scalar(select(Outbox.id).where(Outbox.dedup_key == key)) is not None


async def queue_digest(
    session: AsyncSession,
    settings: Settings,
    cal: WorkCalendar,
    due: Due,
    group: int,
    now: datetime,
) -> int:
    """Queue one digest: its text, at most one chart, and the directors' private scores."""
    locale = (await team.get(session)).locale
    label = periods.label(due.period, locale)
    if due.kind == "daily":
        digest = await digests.daily(session, settings, cal, due.period.start, now)
        text = render("digest_daily.html.j2", locale, digest=digest, day_label=label)
        return int(await enqueue(session, due.key, group, text))
    digest = await digests.period_digest(session, settings, cal, due.kind, due.period, now)
    show = settings.kpi.show_scores_in_group
    text = render("digest_period.html.j2", locale, digest=digest, period_label=label,
                  show_scores=show)  # fmt: skip
    queued = int(await enqueue(session, due.key, group, text))
    chart = team_chart(digest, locale)
    if chart is not None:
        png = await charts.render(chart)
        caption = digests.chart_caption(digest, locale)
        queued += await enqueue_photo(session, f"{due.key}:chart", group, png, caption)
    if not show and digest.now.cards:
        queued += await _scores_to_directors(session, due, digest)
    return queued


def team_chart(digest: digests.PeriodDigest, locale: str) -> charts.BarChart | None:
    """The digest's chart (bot/services/digests.py): every team KPI, this period and the last."""
    return digests.team_chart(digest, locale)


async def _scores_to_directors(session: AsyncSession, due: Due, digest) -> int:
    queued = 0
    team_score = kpi.weighted_score(digest.now.team)
    for director in await staff_service.directors(session):
        text = render("digest_scores.html.j2", director.locale, cards=digest.now.cards,
                      team_score=team_score,
                      period_label=periods.label(due.period, director.locale))  # fmt: skip
        queued += await enqueue(session, f"{due.key}:scores:{director.id}", director.telegram_id,
                                text)  # fmt: skip
    return queued
