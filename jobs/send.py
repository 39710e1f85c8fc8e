"""The sender job: every few seconds, send what the outbox has due (retries included)."""

import asyncio
import logging

from bot.sender import deliver
from bot.state import BotContext
from bot.telegram_io import TelegramTransport

log = logging.getLogger(__name__)
# Per round; a backlog is sent over the following runs, each a few seconds apart.
ROWS_PER_RUN = 300


async def send_job(context: BotContext) -> None:
    """JobQueue callback: one sending pass; cheap (one indexed read) when nothing is due."""
    # A long pass (1,000 reminders at 30/s) outlives many 2-second runs; they return at once
    # instead of APScheduler warning "maximum number of running instances" every 2 s.
    busy = context.state.extras.setdefault("sending", asyncio.Lock())
    if busy.locked():
        return
    async with busy:
        try:
            await deliver(context.db, TelegramTransport(context.bot), limit=ROWS_PER_RUN, rounds=3)
        except Exception:
            log.exception("sending failed; the next run tries again")
