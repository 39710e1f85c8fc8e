"""A sender process of its own (crash tests, re-checks): delivers the outbox until empty or killed.

It imports the sender, the database and the transport only: what the sender needs it must bring.
"""

import asyncio
import sys

from telegram.ext import AIORateLimiter, ExtBot

from bot import sender
from bot.db import make_engine, make_sessionmaker
from bot.telegram_io import TelegramTransport


async def main(db_url: str, base_url: str, token: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    # Telegram's overall limit (30/s) keeps the fan-out slow enough to be killed half-way.
    bot = ExtBot(token, base_url=base_url, rate_limiter=AIORateLimiter())
    await bot.initialize()
    print("ready", flush=True)
    total = 0
    while sent := await sender.deliver(sessions, TelegramTransport(bot), holder="crash-victim"):
        total += sent
    print(f"sent {total}", flush=True)
    await bot.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
