"""Benchmark: sending through the outbox against the simulator's flood limits.

Three cases: `reminders` (1,000 staff whose daily report is overdue; one minute tick queues a
reminder each, and the tick plus the sender job deliver them), `burst` (1,000 rows queued
straight into the outbox, then `deliver` passes until all are sent) and `joins` (30 people ask
to join at the same moment: 30 join cards for one director's private chat, sent by the handlers'
flushes and the sender job).
"""

import argparse
import asyncio
import itertools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import (
    BOT_USERNAME,
    DIRECTOR_ID,
    TOKEN,
    LogCount,
    bench_settings,
    check_db_option,
    fresh_database,
    header,
    peak_rss_mb,
)
from telegram import Update
from telegram.ext import Application

from bot import clock
from bot.app import build_application, shutdown, startup
from bot.models import Obligation, Outbox, Staff, StaffRole
from bot.outbox import enqueue
from bot.sender import SendResult, deliver
from bot.simulator import Persona, TelegramSimulator
from bot.telegram_io import TelegramTransport
from jobs import SEND_SECONDS
from jobs.tick import tick

FIRST_CHAT_ID = 300_000
# A Thursday, a working day: at 10:00 the tick creates today's daily-report obligations (due at
# 18:00); at 18:05 the report is overdue and the tick queues the "overdue" reminder for each.
SETUP_AT = "2026-11-26 10:00"
OVERDUE_AT = "2026-11-26 18:05"
DAILY_FORM = "daily_channel"
TELEGRAM_OVERALL_LIMIT = 30  # messages per second to different users, per Telegram's bot FAQ
LIMITER_LOGGER = "telegram.ext.AIORateLimiter"
PACER_LOGGER = "bot.pacing"  # opsbot's own limiter (decision 43); absent before it
FIRST_JOINER_ID = 700_000
JOIN_ROLE = "渠道拓展经理"


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
        # opsbot's pacer: one INFO line per 429; anything at ERROR would be a regression.
        self.told_to_wait = LogCount(logging.INFO, "Telegram asked to wait")
        self.errors = LogCount(logging.ERROR)
        pacer = logging.getLogger(PACER_LOGGER)
        pacer.setLevel(logging.INFO)
        pacer.propagate = False
        pacer.addHandler(self.told_to_wait)
        logging.getLogger().addHandler(self.errors)

        # APScheduler warns each time the sender job is due while its last run still sends.
        self.job_skipped = LogCount(logging.WARNING, "Execution of job")
        scheduler = logging.getLogger("apscheduler.scheduler")
        scheduler.propagate = False
        scheduler.addHandler(self.job_skipped)

    def reset(self) -> None:
        """Start counting again (each case)."""
        self.retries.count = self.gave_up.count = self.job_skipped.count = 0
        self.told_to_wait.count = self.errors.count = 0


async def run(args: argparse.Namespace, limiter: LimiterLog) -> bool:
    """Each chosen case with a fresh simulator and database; False when reminders went wrong."""
    print(await header("opsbot outbox send benchmark", args.db), flush=True)
    ok = True
    cases = ("reminders", "burst", "joins") if args.case == "all" else (args.case,)
    for case in cases:
        limiter.reset()
        async with (
            TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim,
            fresh_database(args.db) as db_url,
        ):
            app = build_application(bench_settings(sim, db_url))
            await app.initialize()
            await startup(app)
            try:
                if case == "reminders":
                    ok = await measure_reminders(args, sim, app, limiter) and ok
                elif case == "joins":
                    ok = await measure_joins(args, sim, app, limiter) and ok
                else:
                    await measure(args, sim, app, limiter)
            finally:
                await shutdown(app)
                await app.shutdown()
    return ok


async def add_staff(sessions: async_sessionmaker[AsyncSession], people: list[Persona]) -> None:
    """Channel managers on the team directly (joining is not this benchmark's subject)."""
    async with sessions() as s, s.begin():
        s.add_all(
            Staff(
                telegram_id=p.id,
                display_name=p.first_name,
                username=p.username,
                locale="zh",
                active=True,
                joined_at=clock.now(),
                roles=[StaffRole(role="channel")],
            )
            for p in people
        )


async def measure_reminders(
    args: argparse.Namespace, sim: TelegramSimulator, app: Application, limiter: LimiterLog
) -> bool:
    """One tick past the due time queues a reminder per person; the tick and the sender job
    deliver them with flood limits on. Returns whether each arrived exactly once."""
    state, tz = app.bot_data, app.bot_data.settings.team.tz
    people = recipients(sim, args.staff)
    try:
        clock.start_at(clock.parse_local(SETUP_AT, tz))
        started = time.perf_counter()
        await add_staff(state.sessions, people)
        await tick(state, app.bot)  # creates today's obligations; nothing is due yet
        setup_seconds = time.perf_counter() - started
        async with state.sessions() as s:
            owed = await s.scalar(
                select(func.count()).where(
                    Obligation.form_key == DAILY_FORM, Obligation.period_key == "2026-11-26"
                )
            )

        # The real sender job (jobs/send.py, every SEND_SECONDS) runs beside the tick, as it
        # does in production; the minute tick job is replaced by the one tick called below.
        for job in app.job_queue.get_jobs_by_name("tick"):
            job.schedule_removal()
        clock.start_at(clock.parse_local(OVERDUE_AT, tz))
        sim.flood_limits = app.bot.rate_limiter.per_chat = True
        calls_before = len(sim.calls)
        await app.start()
        try:
            at = clock.now()
            started = time.perf_counter()
            report = await tick(state, app.bot)
            tick_seconds = time.perf_counter() - started
            while not all(sim.delivered(p.id) for p in people):
                if time.perf_counter() - started > args.budget:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(SEND_SECONDS + 0.5)  # time for a stray duplicate to show up
        finally:
            await app.stop()
    finally:
        clock.reset()

    async with state.sessions() as s:
        rows = (
            await s.execute(
                select(Outbox.status, Outbox.created_at, Outbox.sent_at, Outbox.attempts).where(
                    Outbox.dedup_key.like("nag:%")
                )
            )
        ).all()
    sends = [c for c in sim.calls[calls_before:] if c.method == "sendMessage"]
    flooded = sum(1 for c in sends if c.error_code == 429)
    other_errors = Counter(c.error_code for c in sends if not c.ok and c.error_code != 429)
    per_person = Counter(sim.delivered(p.id) for p in people)
    # The "overdue" step of the ladder (templates/reminder.html.j2), naming the command.
    reminders = sum(
        1 for p in people for m in p.inbox if m.plain.startswith("⚠️") and "/daily" in m.plain
    )
    statuses = Counter(r.status for r in rows)
    sent_at = sorted(r.sent_at for r in rows if r.sent_at is not None)
    queued = (max(r.created_at for r in rows) - at).total_seconds() if rows else 0.0
    first = (sent_at[0] - at).total_seconds() if sent_at else 0.0
    last = (sent_at[-1] - at).total_seconds() if sent_at else 0.0
    spread = last - first
    rate = len(sent_at) / spread if spread > 0 else 0.0

    print(f"\n== reminders: {args.staff} staff, daily report overdue, one tick + sender job ==")
    print(
        f"setup (not timed): {args.staff} channel managers added, a 10:00 tick created "
        f"{owed} daily-report obligations, in {setup_seconds:.1f} s"
    )
    print(
        f"the 18:05 tick queued {len(rows)} reminders ({report.enqueued} messages in all) in "
        f"{queued:.2f} s, then sent {report.sent} itself; the tick took {tick_seconds:.1f} s"
    )
    print(f"outbox reminder rows: {dict(statuses)}; send attempts {sum(r.attempts for r in rows)}")
    print(
        f"first reminder sent {first:.2f} s after the tick began, last {last:.2f} s "
        f"(total time to deliver all)"
    )
    print(
        f"delivery rate, first to last send: {rate:.1f} msg/s = {rate / TELEGRAM_OVERALL_LIMIT:.0%}"
        f" of Telegram's ~{TELEGRAM_OVERALL_LIMIT} msg/s; overall "
        f"{len(sent_at) / last if last else 0:.1f} msg/s including queuing"
    )
    errors = f"; other errors: {dict(other_errors)}" if other_errors else ""
    print(f"sendMessage calls: {len(sends)}; 429 Too Many Requests: {flooded}{errors}")
    print(
        f"AIORateLimiter: {limiter.retries.count} retries after a 429, gave up "
        f"{limiter.gave_up.count} times; sender job runs skipped because a pass was still "
        f"sending: {limiter.job_skipped.count}"
    )
    print(
        f"received per person: {dict(sorted(per_person.items()))} (count of people by messages "
        f"received); reminder texts seen: {reminders}"
    )
    exactly_once = (
        per_person == Counter({1: args.staff})
        and reminders == len(rows) == args.staff
        and statuses == Counter({"sent": args.staff})
    )
    print(
        "every reminder arrived exactly once"
        if exactly_once
        else "NOT exactly once: some reminder is missing, duplicated or unsent"
    )
    print(f"peak RSS of the whole process (bot + simulator): {peak_rss_mb():.0f} MB")
    return exactly_once


class FloodWatch:
    """Every send the simulator's flood control judged, to find those inside a retry_after
    (works with simulators that do not count them themselves)."""

    def __init__(self, sim: TelegramSimulator) -> None:
        self.entries: list[tuple[float, int, int | None]] = []
        admit, clock = sim.flood.admit, sim.flood.clock

        def logged(chat_id: int, private: bool) -> int | None:
            retry = admit(chat_id, private)
            self.entries.append((clock(), chat_id, retry))
            return retry

        sim.flood.admit = logged

    @property
    def refused(self) -> int:
        """429s answered."""
        return sum(1 for _, _, retry in self.entries if retry is not None)

    def inside_retry_after(self) -> int:
        """Sends tried before the wait their chat was last told had passed."""
        held: dict[int, float] = {}
        inside = 0
        for at, chat, retry in self.entries:
            if at < held.get(chat, at):
                inside += 1
            elif retry is not None:
                held[chat] = at + retry
        return inside


async def measure_joins(
    args: argparse.Namespace, sim: TelegramSimulator, app: Application, limiter: LimiterLog
) -> bool:
    """`--joiners` people press their role at the same moment; each handler queues a join card
    for the director and flushes the outbox, and the sender job delivers the rest, with flood
    limits on. Returns whether each card arrived exactly once."""

    async def push(data: dict) -> None:
        await app.process_update(Update.de_json(data, app.bot))

    sim.on_update = push
    director = sim.user(DIRECTOR_ID, "张总", username="zhang", language_code="zh")
    joiners = [
        sim.user(FIRST_JOINER_ID + i, f"申请人{i}", language_code="zh") for i in range(args.joiners)
    ]
    await director.send("/start")
    for person in joiners:  # set-up, not measured: each sees the role buttons
        await person.send("/start")
    for job in app.job_queue.get_jobs_by_name("tick"):
        job.schedule_removal()
    await asyncio.sleep(1.5)  # the set-up's sends leave the flood windows
    sim.flood_limits = app.bot.rate_limiter.per_chat = True
    watch = FloodWatch(sim)
    calls_before = len(sim.calls)
    await app.start()  # the sender job (every SEND_SECONDS) runs, as in production
    try:
        started = time.perf_counter()
        await asyncio.gather(*(p.press(p.inbox[-1], JOIN_ROLE) for p in joiners))
        pressed = time.perf_counter() - started

        def cards() -> Counter:
            return Counter(m.plain for m in director.inbox if "加入申请" in m.plain)

        while sum(cards().values()) < args.joiners:
            if time.perf_counter() - started > args.budget:
                break
            await asyncio.sleep(0.05)
        delivered_in = time.perf_counter() - started
        await asyncio.sleep(SEND_SECONDS + 0.5)  # time for a stray duplicate to show up
    finally:
        await app.stop()
        sim.on_update = None

    seen = cards()
    sends = [c for c in sim.calls[calls_before:] if c.method == "sendMessage"]
    to_director = [c for c in sends if c.params.get("chat_id") == DIRECTOR_ID]
    once = len(seen) == args.joiners and set(seen.values()) == {1}
    print(f"\n== joins: {args.joiners} people ask to join at once; one director ==")
    print("simulator flood limits on (private chat: burst of 3, then 1/s; 30/s overall)")
    print(f"all {args.joiners} presses handled in {pressed:.2f} s")
    print(
        f"join cards delivered: {sum(seen.values())} ({len(seen)} different) in "
        f"{delivered_in:.1f} s from the first press (total time to deliver all)"
    )
    print(
        f"sendMessage calls: {len(sends)} ({len(to_director)} to the director); "
        f"429 Too Many Requests: {watch.refused}; sends inside a retry_after: "
        f"{watch.inside_retry_after()}"
    )
    print(
        f"log: AIORateLimiter ERRORs with a traceback {limiter.gave_up.count}, opsbot pacer INFO "
        f"lines {limiter.told_to_wait.count}, ERROR records in all {limiter.errors.count}"
    )
    print("every card arrived exactly once" if once else "NOT exactly once")
    return once


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

    sim.flood_limits = app.bot.rate_limiter.per_chat = True
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

    print(f"\n== burst: {args.messages} outbox rows to {args.chats} private chats ==")
    print(
        f"queued {args.order} in one transaction; "
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case",
        choices=("reminders", "burst", "joins", "all"),
        default="all",
        help="reminders from a tick, a burst queued straight into the outbox, 30 join requests "
        "at once to one director, or all three (default)",
    )
    parser.add_argument(
        "--joiners", type=int, default=30, help="joins: people asking at once (default 30)"
    )
    parser.add_argument(
        "--staff", type=int, default=1000, help="reminders case: staff owing the report (1000)"
    )
    parser.add_argument(
        "--messages", type=int, default=1000, help="burst: rows to queue (default 1000)"
    )
    parser.add_argument("--chats", type=int, default=50, help="burst: private chats (default 50)")
    parser.add_argument(
        "--order",
        choices=("round-robin", "per-chat"),
        default="round-robin",
        help="burst: queue chats taking turns (default), or each chat's messages together",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="stop delivering after this many seconds (each case)",
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
    if not asyncio.run(run(args, LimiterLog())):
        raise SystemExit("reminders were not delivered exactly once")


if __name__ == "__main__":
    main()
