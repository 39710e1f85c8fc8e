"""The one scheduler tick: what is due now? Enqueue it, then deliver the outbox."""

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot

from bot import clock, metrics
from bot.calendar import local_date
from bot.db import transaction
from bot.sender import deliver
from bot.services import (
    approval_followups,
    approvals,
    calendar_notice,
    dashboard_menu,
    obligations,
    reminders,
    task_reminders,
    task_series,
    team,
)
from bot.services.obligations import clock_time
from bot.state import AppState, BotContext
from bot.telegram_io import TelegramTransport
from jobs import digests

log = logging.getLogger(__name__)
UPDATE_MEMORY = timedelta(days=2)


@dataclass(frozen=True)
class TickReport:
    """What one tick did."""

    at: datetime
    enqueued: int
    sent: int


# Opens the transaction one part of the tick runs in and yields its session.
Step = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@metrics.timed_tick
async def tick(state: AppState, bot: Bot) -> TickReport:
    """Run every duty that is due now on the process clock, then send.

    To tick at another moment, start the clock there first (as `opsbot jobs run tick --at` does).
    """
    at = clock.now()
    enqueued = await enqueue_due(state, at, partial(transaction, state.sessions))
    sent = await deliver(state.sessions, TelegramTransport(bot))
    state.last_tick = at
    return TickReport(at=at, enqueued=enqueued, sent=sent)


async def enqueue_due(state: AppState, at: datetime, step: Step) -> int:
    """Decide what is due at `at` and write it (obligations, outbox rows); returns how many queued.

    Each part runs in a transaction from `step()`: the tick commits each one; the dry run
    (`opsbot jobs due`) nests them all in one transaction it rolls back, so it shows exactly
    what this code would do.
    """
    async with step() as session:
        enqueued = await _duties(session, state, at)
    return enqueued + await _digests(state, at, step)


async def _duties(session: AsyncSession, state: AppState, at: datetime) -> int:
    tz = state.settings.team.tz
    today = local_date(at, tz)
    enqueued = await calendar_notice.notify_if_fallback(session, state.calendar, today)
    await obligations.create_ahead(
        session, state.settings.reports.forms, state.calendar, tz, complete=state.owers_complete
    )
    await obligations.excuse_on_leave(session, tz)
    missed = await obligations.close_expired(session)
    cfg, forms = state.settings.reminders, state.settings.reports
    enqueued += await reminders.escalate(session, missed, forms, cfg.escalate_after_misses)
    nags = await reminders.due_nags(session, state.calendar, tz, cfg)
    enqueued += await reminders.send_nags(session, nags, forms)
    morning = clock_time(cfg.next_day_time)
    enqueued += await task_series.create_due(session, state.calendar, tz, morning)
    enqueued += await task_reminders.remind(session, state.calendar, tz, cfg)
    # Every request's current step (an activity plan's too): its deadline, reminders and
    # escalation, worded by its form's presenter (decision 65).
    days = state.settings.approvals.decision_working_days
    await approvals.set_deadlines(session, state.calendar, tz, forms, days)
    # approved -> running on its start day (an activity plan's too: decision 65)
    await approvals.start_due(session, today)
    before = timedelta(minutes=cfg.approval_before_minutes)
    hush = partial(reminders.quiet, tz=tz, cfg=cfg)
    enqueued += await approvals.remind(session, state.calendar, tz, before, hush)
    # What approved requests still owe: a published link, figures, results (decision 63), an
    # activity plan's results too (decision 65).
    enqueued += await approval_followups.run(session, state.calendar, tz, cfg, forms)
    # Everyone's menu button opens the dashboard (nothing to do without web.public_url).
    enqueued += await dashboard_menu.enqueue_missing(
        session, state.settings.web.public_url, complete=state.menus_complete
    )
    await team.forget_updates_before(session, at - UPDATE_MEMORY)
    return enqueued


async def _digests(state: AppState, at: datetime, step: Step) -> int:
    # A digest that cannot be built must not stop reminders from going out; the next tick retries.
    try:
        return await digests.run_due(state, at, step)
    except Exception:
        log.exception("digest failed")
        return 0


async def tick_job(context: BotContext) -> None:
    """JobQueue callback; a failing tick is logged and the next minute tries again."""
    try:
        await tick(context.state, context.bot)
    except Exception:
        log.exception("tick failed")
