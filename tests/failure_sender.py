"""A sender process for the failure tests: delivers the outbox until nothing is due (or killed).

    python failure_sender.py DB_URL BASE_URL TOKEN HOLDER CLOCK_AT RATE

CLOCK_AT starts the process clock there (ISO 8601, aware), so a restarted sender can stand past
the dead one's claims; RATE is messages per second through PTB's AIORateLimiter (0: no limiter).
"""

import asyncio
import sys
from datetime import datetime

from telegram.ext import AIORateLimiter, ExtBot

from bot import clock, sender
from bot.db import make_engine, make_sessionmaker
from bot.telegram_io import TelegramTransport


async def main(db_url: str, base_url: str, token: str, holder: str, at: str, rate: str) -> None:
    clock.start_at(datetime.fromisoformat(at))
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    per_second = float(rate)
    limiter = (
        AIORateLimiter(overall_max_rate=1, overall_time_period=1 / per_second)
        if per_second
        else None
    )
    bot = ExtBot(token, base_url=base_url, rate_limiter=limiter)
    await bot.initialize()
    print("ready", flush=True)
    total = 0
    while sent := await sender.deliver(sessions, TelegramTransport(bot), holder=holder):
        total += sent
    print(f"sent {total}", flush=True)
    await bot.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
