"""Benchmark: sending a queued burst through the outbox against the simulator's flood limits."""

import argparse
import asyncio
import itertools
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import (
    BOT_USERNAME,
    TOKEN,
    LogCount,
    bench_settings,
    check_db_option,
    describe_db,
    fresh_database,
    peak_rss_mb,
    revision,
)
from telegram.ext import Application

from bot import clock
from bot.app import build_application, shutdown, startup
from bot.models import Outbox
from bot.outbox import SendResult, deliver, enqueue
from bot.simulator import Persona, TelegramSimulator
from bot.telegram_io import TelegramTransport

FIRST_CHAT_ID = 300_000
TELEGRAM_OVERALL_LIMIT = 30  # messages per second to different users, per Telegram's bot FAQ
LIMITER_LOGGER = "telegram.ext.AIORateLimiter"


def recipients(sim: TelegramSimulator, chats: int) -> list[Persona]:
    """People who have opened a private chat with the bot, so it may write to them."""
    people = []
    for i in range(chats):
        person = sim.user(FIRST_CHAT_ID + i, f"员工{i}", username=f"staff{i}", language_code="zh")
        person.started = True
        people.append(person)
    return people


def order(people: list[Persona], messages: int, how: str) -> list[Persona]:
    """Whom each queued message goes to: chats taking turns, or each chat's messages together."""
    if how == "round-robin":
        return [people[i % len(people)] for i in range(messages)]
    per_chat = -(-messages // len(people))
    return [p for p in people for _ in range(per_chat)][:messages]


async def pending(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, float | None]:
    """Rows not yet finished, and seconds until the earliest of them is due (None: none left)."""
    async with sessions() as s:
        waiting = await s.scalar(
            select(func.count()).where(Outbox.status.in_(("pending", "sending")))
        )
        due = await s.scalar(
            select(func.min(Outbox.next_attempt_at)).where(Outbox.status == "pending")
        )
    if not waiting:
        return 0, None
    return waiting, max((due - clock.now()).total_seconds(), 0.0) if due else 0.0


class TimedTransport:
    """TelegramTransport that notes when each send finished and what the outbox was told."""

    def __init__(self, inner: TelegramTransport) -> None:
        self.inner = inner
        self.started = time.perf_counter()
        self.results: list[tuple[float, SendResult]] = []

    async def send(self, row: Outbox, target_message_id: int | None) -> SendResult:
        result = await self.inner.send(row, target_message_id)
        self.results.append((time.perf_counter(), result))
        return result

    @property
    def sent(self) -> int:
        """Sends that succeeded so far."""
        return sum(1 for _, r in self.results if r.error is None)

    def longest_stall(self) -> float:
        """Longest time without a successful send, from the start to the last one."""
        times = [self.started] + [at for at, r in self.results if r.error is None]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


class LimiterLog:
    """Counts what PTB's AIORateLimiter logs: each retry at INFO, each give-up at ERROR."""

    def __init__(self) -> None:
        self.retries = LogCount(logging.INFO, "Rate limit hit. Retrying")
        self.gave_up = LogCount(logging.ERROR, "Rate limit hit after maximum")
        log = logging.getLogger(LIMITER_LOGGER)
        log.setLevel(logging.INFO)
        log.propagate = False  # counted here rather than printed a thousand times
        log.addHandler(self.retries)
        log.addHandler(self.gave_up)


async def run(args: argparse.Namespace, limiter: LimiterLog) -> None:
    """Queue the messages, deliver until done or out of time, print the figures."""
    async with (
        TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim,
        fresh_database(args.db) as db_url,
    ):
        app = build_application(bench_settings(sim, db_url))
        await app.initialize()
        await startup(app)
        try:
            await measure(args, sim, app, limiter)
        finally:
            await shutdown(app)
            await app.shutdown()


@dataclass
class Delivery:
    """How the deliver passes went."""

    passes: list[int] = field(default_factory=list)  # rows sent by each pass
    first_pass_seconds: float = 0.0
    seconds: float = 0.0
    asleep: float = 0.0
    cut_off: bool = False


async def measure(
    args: argparse.Namespace, sim: TelegramSimulator, app: Application, limiter: LimiterLog
) -> None:
    """Queue the messages in one transaction, deliver them with flood limits on, report."""
    sessions = app.bot_data.sessions
    people = recipients(sim, args.chats)
    started = time.perf_counter()
    async with sessions() as s, s.begin():
        for i, person in enumerate(order(people, args.messages, args.order)):
            text = f"提醒 {i + 1}：请在 <b>18:00</b> 前提交今日日报 &amp; 数据。"
            await enqueue(s, f"bench:{i}", person.id, text)
    enqueue_seconds = time.perf_counter() - started

    sim.flood_limits = True
    calls_before = len(sim.calls)
    transport = TimedTransport(TelegramTransport(app.bot))
    delivery = await deliver_all(sessions, transport, args.budget)

    sends = [c for c in sim.calls[calls_before:] if c.method == "sendMessage"]
    async with sessions() as s:
        rows = await s.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
        statuses = dict(sorted(rows.all()))
    per_chat = [sim.delivered(p.id) for p in people]
    delivered = sum(per_chat)
    told_to_wait = sum(1 for _, r in transport.results if r.retry_after is not None)
    flooded = sum(1 for c in sends if c.error_code == 429)
    other_errors = Counter(c.error_code for c in sends if not c.ok and c.error_code != 429)
    rate = delivered / delivery.seconds

    print(f"opsbot outbox send benchmark, database {describe_db(args.db)}")
    print(f"opsbot {revision()}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(
        f"{args.messages} messages to {args.chats} private chats, queued {args.order}; "
        "simulator flood limits on (30/s overall, 1/s per chat after a burst of 3)"
    )
    print(f"enqueue (one transaction): {enqueue_seconds:.2f} s")
    print(f"messages delivered: {delivered} of {args.messages}; outbox rows: {statuses}")
    print(
        f"wall time from the first deliver pass to the last: {delivery.seconds:.1f} s "
        f"({delivery.asleep:.1f} s of it asleep until retries were due)"
    )
    print(
        f"achieved: {rate:.1f} msg/s = {rate / TELEGRAM_OVERALL_LIMIT:.0%} of Telegram's "
        f"~{TELEGRAM_OVERALL_LIMIT} msg/s overall limit"
    )
    errors = f"; other errors: {dict(other_errors)}" if other_errors else ""
    print(f"sendMessage calls: {len(sends)}; 429 Too Many Requests: {flooded}{errors}")
    print(
        f"AIORateLimiter: {limiter.retries.count} retries after a 429, gave up "
        f"{limiter.gave_up.count} times; rows the outbox was told to retry later: {told_to_wait}"
    )
    print(f"deliver passes: {len(delivery.passes)} (sent per pass: {delivery.passes})")
    print(
        f"first pass: {delivery.passes[0]} sent in {delivery.first_pass_seconds:.1f} s; "
        f"per chat delivered min {min(per_chat)}, max {max(per_chat)}"
    )
    print(f"longest time without a successful send: {transport.longest_stall():.2f} s")
    print(f"peak RSS of the whole process (bot + simulator): {peak_rss_mb():.0f} MB")
    if delivered < args.messages:
        how = "; the last pass was cut off mid-way" if delivery.cut_off else ""
        print(f"NOT FINISHED within the {args.budget:.0f} s budget{how}")


async def deliver_all(
    sessions: async_sessionmaker[AsyncSession], transport: TimedTransport, budget: float
) -> Delivery:
    """Call deliver until nothing is left or `budget` seconds have passed."""
    d = Delivery()
    transport.started = started = time.perf_counter()
    while True:
        pass_started, sent_before = time.perf_counter(), transport.sent
        try:
            # One pass sends every due row, however long that takes: the budget must cut it.
            await asyncio.wait_for(deliver(sessions, transport), budget - (pass_started - started))
        except TimeoutError:
            d.cut_off = True
        d.passes.append(transport.sent - sent_before)
        if len(d.passes) == 1:
            d.first_pass_seconds = time.perf_counter() - pass_started
        left, due_in = await pending(sessions)
        elapsed = time.perf_counter() - started
        if not left or d.cut_off or elapsed >= budget:
            d.seconds = elapsed
            return d
        # The outbox leaves a refused row for later (next_attempt_at); sleep until it is due.
        pause = min(due_in or 0.0, budget - elapsed, 5.0) + 0.01
        d.asleep += pause
        await asyncio.sleep(pause)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="rows to queue (default 1000)")
    parser.add_argument("--chats", type=int, default=50, help="private chats (default 50)")
    parser.add_argument(
        "--order",
        choices=("round-robin", "per-chat"),
        default="round-robin",
        help="queue chats taking turns (default), or each chat's messages one after another",
    )
    parser.add_argument(
        "--budget", type=float, default=120.0, help="stop delivering after this many seconds"
    )
    parser.add_argument(
        "--db",
        help="a postgresql+asyncpg:// URL to use instead of SQLite; a throw-away database is "
        "created on that server and dropped after the run (needs CREATE DATABASE)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    args = parse_args(argv)
    check_db_option(args.db)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args, LimiterLog()))


if __name__ == "__main__":
    main()
