"""Digests to the team group when services/digest_schedule.py says so, each once per period."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from bot import charts
from bot.calendar import WorkCalendar
from bot.config import Settings
from bot.db import transaction
from bot.outbox import enqueue, enqueue_photo
from bot.render import render
from bot.services import digest_schedule, digests, kpi, periods, team
from bot.services import staff as staff_service
from bot.services.digest_schedule import Due
from bot.state import AppState


async def run_due(
    state: AppState,
    now: datetime,
    step: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None,
) -> int:
    """Build and queue every due digest not queued before; returns how many messages.

    Each digest is one transaction from `step()` (default: a new one, committed at its end).
    """
    queued = 0
    for due in digest_schedule.due_now(state.settings, state.calendar, now):
        async with (step or partial(transaction, state.sessions))() as session:
            if await digest_schedule.already_queued(session, due):
                continue
            group = (await team.get(session)).group_chat_id
            if group is None:
                continue
            queued += await queue_digest(session, state.settings, state.calendar, due, group, now)
    return queued


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
    chart = digests.team_chart(digest, locale)
    if chart is not None:
        png = await charts.render(chart)
        caption = digests.chart_caption(digest, locale)
        queued += await enqueue_photo(session, f"{due.key}:chart", group, png, caption)
    if not show and digest.now.cards:
        queued += await _scores_to_directors(session, due, digest)
    return queued


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
