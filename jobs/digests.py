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
from bot.forms.summary import FULL_TEXT, clipped_on_card, period_label
from bot.i18n import t
from bot.outbox import enqueue, enqueue_photo
from bot.render import clip, render
from bot.services import digest_schedule, digests, kpi, periods, roster, team
from bot.services import staff as staff_service
from bot.services.digest_schedule import Due
from bot.state import AppState
from bot.web import links


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
            if group is not None:
                queued += await queue_digest(
                    session, state.settings, state.calendar, due, group, now,
                    bot_username=state.bot_username,
                )  # fmt: skip
            if due.kind == "daily":  # the directors' own, with or without a group
                queued += await problems_to_directors(session, state.settings, state.calendar, due)
                queued += await overdue_tasks_to_directors(session, state.settings, due)
    return queued


async def queue_digest(
    session: AsyncSession,
    settings: Settings,
    cal: WorkCalendar,
    due: Due,
    group: int,
    now: datetime,
    *,
    bot_username: str = "",
) -> int:
    """Queue one digest: its text, at most one chart, and the directors' private scores; a
    📊 button under the text opens the dashboard (web.public_url)."""
    locale = (await team.get(session)).locale
    label = periods.label(due.period, locale)
    button = links.group(settings, bot_username, locale)
    if due.kind == "daily":
        digest = await digests.daily(session, settings, cal, due.period.start, now)
        text = render("digest_daily.html.j2", locale, digest=digest, day_label=label)
        return int(await enqueue(session, due.key, group, text, button))
    digest = await digests.period_digest(session, settings, cal, due.kind, due.period, now)
    show = settings.kpi.show_scores_in_group
    text = render("digest_period.html.j2", locale, digest=digest, period_label=label,
                  show_scores=show)  # fmt: skip
    # The chart is drawn before the first write: on SQLite a write holds the database's one
    # write lock until commit, and matplotlib takes a second or more on a busy machine, which
    # every update and a second replica would wait out (or fail on, after the busy timeout).
    chart = digests.team_chart(digest, locale)
    png = await charts.render(chart) if chart is not None else None
    queued = int(await enqueue(session, due.key, group, text, button))
    if png is not None:
        caption = digests.chart_caption(digest, locale)
        queued += await enqueue_photo(session, f"{due.key}:chart", group, png, caption)
    if not show and digest.now.cards:
        queued += await _scores_to_directors(session, settings, due, digest)
    return queued


async def _scores_to_directors(session: AsyncSession, settings: Settings, due: Due, digest) -> int:
    queued = 0
    team_score = kpi.weighted_score(digest.now.team)
    for director in await staff_service.directors(session):
        text = render("digest_scores.html.j2", director.locale, cards=digest.now.cards,
                      team_score=team_score,
                      period_label=periods.label(due.period, director.locale))  # fmt: skip
        queued += await enqueue(session, f"{due.key}:scores:{director.id}", director.telegram_id,
                                text, links.private(settings, director.locale))  # fmt: skip
    return queued


async def problems_to_directors(
    session: AsyncSession, settings: Settings, cal: WorkCalendar, due: Due
) -> int:
    """Problems and help asked for in the daily reports, one message to each director, none
    when nobody raised anything."""
    since, until = digests.raised_window(cal, settings.team.tz, due.fired_at)
    raised = await digests.raised(session, settings, since, until)
    if not raised:
        return 0
    queued = 0
    for director in await staff_service.directors(session):
        text, buttons = _problems_text(raised, due, director.locale)
        queued += await enqueue(session, f"{due.key}:problems:{director.id}",
                                director.telegram_id, text, buttons)  # fmt: skip
    return queued


async def overdue_tasks_to_directors(session: AsyncSession, settings: Settings, due: Due) -> int:
    """The team's overdue tasks, by name, one message to each director; none when none are."""
    tasks = await roster.open_tasks(session, due.fired_at)
    if not tasks.overdue:
        return 0
    queued = 0
    for director in await staff_service.directors(session):
        text = render("digest_tasks.html.j2", director.locale, tasks=tasks, tz=settings.team.tz,
                      day_label=periods.label(due.period, director.locale))  # fmt: skip
        queued += await enqueue(session, f"{due.key}:tasks:{director.id}", director.telegram_id,
                                text)  # fmt: skip
    return queued


def _problems_text(raised: list[digests.Raised], due: Due, locale: str) -> tuple[str, list]:
    # The question is named only when a form has more than one that holds problems.
    labelled = len({r.field_key for r in raised}) > 1
    rows, buttons = [], []
    for r in raised:
        when = None if r.period_key == due.period.key else period_label(r.period_key, locale)
        label = r.label.get(locale) if labelled else None
        rows.append((r.name, when, label, r.text))
        if clipped_on_card(r.text):
            who = f"{r.name} · {label}" if label else r.name
            buttons.append((t(locale, "📄 %(label)s in full", label=clip(who, 30)),
                            FULL_TEXT.pack("r", r.report_id, r.field_key)))  # fmt: skip
    text = render("digest_problems.html.j2", locale, rows=rows,
                  day_label=periods.label(due.period, locale))  # fmt: skip
    return text, [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
