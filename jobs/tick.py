"""The one scheduler tick: what is due now? Enqueue it, then deliver the outbox."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Bot

from bot import clock, metrics
from bot.calendar import local_date
from bot.outbox import deliver
from bot.services import (
    activities,
    activity_results,
    calendar_notice,
    obligations,
    reminders,
    team,
)
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


@metrics.timed_tick
async def tick(state: AppState, bot: Bot) -> TickReport:
    """Run every duty that is due now on the process clock, then send.

    To tick at another moment, start the clock there first (as `opsbot jobs run tick --at` does).
    """
    at = clock.now()
    today = local_date(at, state.settings.team.tz)
    tz = state.settings.team.tz
    async with state.sessions() as session, session.begin():
        enqueued = await calendar_notice.notify_if_fallback(session, state.calendar, today)
        await obligations.create_ahead(session, state.settings.reports.forms, state.calendar, tz)
        missed = await obligations.close_expired(session)
        cfg, forms = state.settings.reminders, state.settings.reports
        enqueued += await reminders.escalate(session, missed, forms, cfg.escalate_after_misses)
        nags = await reminders.due_nags(session, state.calendar, tz, cfg)
        enqueued += await reminders.send_nags(session, nags, forms)
        await activities.start_due(session, today)
        days = state.settings.approvals.decision_working_days
        await activities.set_deadlines(session, state.calendar, tz, days)
        enqueued += await reminders.approval_nags(session, state.calendar, tz, cfg)
        enqueued += await activity_results.ask_for_results(session, today)
        await team.forget_updates_before(session, at - UPDATE_MEMORY)
    enqueued += await _digests(state, at)
    sent = await deliver(state.sessions, TelegramTransport(bot))
    state.last_tick = at
    return TickReport(at=at, enqueued=enqueued, sent=sent)


async def _digests(state: AppState, at: datetime) -> int:
    # A digest that cannot be built must not stop reminders from going out; the next tick retries.
    try:
        return await digests.run_due(state, at)
    except Exception:
        log.exception("digest failed")
        return 0


async def tick_job(context: BotContext) -> None:
    """JobQueue callback; a failing tick is logged and the next minute tries again."""
    try:
        await tick(context.state, context.bot)
    except Exception:
        log.exception("tick failed")
