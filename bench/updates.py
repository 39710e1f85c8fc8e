"""Benchmark: end-to-end updates per second through the simulator, bare PTB echo bot vs opsbot."""

import argparse
import asyncio
import html
import logging
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
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
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot import clock
from bot.app import build_application, rate_limiter, shutdown, startup
from bot.cli.demo import DAILY_IN_ONE_MESSAGE
from bot.config import Settings
from bot.db import make_engine
from bot.models import Obligation, Outbox, Report
from bot.services import staff as staff_service
from bot.simulator import Persona, SimMessage, TelegramSimulator
from jobs.tick import tick

FIRST_JOINER_ID = 500_000
FIRST_MANAGER_ID = 600_000
ROLE_DATA = "join:v1:role:channel"
# A Thursday morning (a working day): today's daily report is owed and not yet due (18:00).
DAILY_AT = "2026-11-26 10:00"
MODES = ("push", "polling")
ECHO = "echo (bare PTB)"
DAILY = "opsbot daily (1 msg + submit)"


@dataclass
class Result:
    """One measured case in one mode."""

    limiter: bool
    case: str
    mode: str
    updates: int
    seconds: float
    statements: int = 0

    @property
    def rate(self) -> float:
        """Updates handled per second."""
        return self.updates / self.seconds


@dataclass
class Bench:
    """The options, and the simulator and settings of the case being run."""

    n: int
    admin_url: str | None
    rate_limiter: bool = True
    startups: list[float] = field(default_factory=list)
    statements: int = 0  # SQL statements opsbot has run, counted by an engine event
    sim: TelegramSimulator | None = None
    settings: Settings | None = None


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the received text."""
    await update.effective_chat.send_message(html.escape(update.effective_message.text))


def build_echo(settings: Settings, limited: bool) -> Application:
    """A bare PTB bot: bot/app.py's ApplicationBuilder settings, one echo handler, no database."""
    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.team.tz))
    )
    if limited:
        builder = builder.rate_limiter(rate_limiter(per_chat=False))  # one chat flat out: capacity
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


@asynccontextmanager
async def echo_bot(b: Bench) -> AsyncIterator[Application]:
    """The echo bot, initialised."""
    app = build_echo(b.settings, b.rate_limiter)
    await app.initialize()
    try:
        yield app
    finally:
        await app.shutdown()


@asynccontextmanager
async def opsbot(b: Bench) -> AsyncIterator[Application]:
    """opsbot as bot/app.py assembles it, initialised and started; records the start-up time."""
    started = time.perf_counter()
    app = build_application(b.settings, paced=b.rate_limiter)  # unpaced: processing capacity
    await app.initialize()
    await startup(app)
    b.startups.append(time.perf_counter() - started)

    def count(*_args: object) -> None:
        b.statements += 1

    event.listen(app.bot_data.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield app
    finally:
        await shutdown(app)
        await app.shutdown()


@asynccontextmanager
async def wired(app: Application, sim: TelegramSimulator, mode: str) -> AsyncIterator[None]:
    """Connect the bot to the simulator: push (each update awaited) or polling (real Updater)."""
    if mode == "push":

        async def push(data: dict) -> None:
            await app.process_update(Update.de_json(data, app.bot))

        sim.on_update = push
        try:
            yield
        finally:
            sim.on_update = None
        return
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()


async def drive(
    sim: TelegramSimulator,
    mode: str,
    actions: list[Callable[[], Awaitable[object]]],
    done: Callable[[], bool],
    timeout: float = 300.0,  # noqa: ASYNC109
) -> float:
    """Seconds from the first update to the bot having handled all that `actions` produce."""
    if mode == "push":
        started = time.perf_counter()
        for act in actions:
            await act()
        elapsed = time.perf_counter() - started
    else:
        # A persona's press waits for the bot to go idle in polling mode; record the updates
        # first, then queue them all at once, so that only the bot's own work is timed.
        recorded: list[dict] = []

        async def record(data: dict) -> None:
            recorded.append(data)

        sim.on_update = record
        try:
            for act in actions:
                await act()
        finally:
            sim.on_update = None
        started = time.perf_counter()
        for data in recorded:
            await sim.dispatch(data)
        while not done():
            if time.perf_counter() - started > timeout:
                raise TimeoutError("the bot did not handle every update in time")
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
        await sim.wait_idle(quiet=0.1, timeout=timeout)
    if not done():
        raise RuntimeError("the bot did not answer every update")
    return elapsed


async def settle(sim: TelegramSimulator, mode: str) -> None:
    """Let a polling bot finish what the seed step started (push mode is already done)."""
    if mode == "polling":
        await sim.wait_idle(quiet=0.1)


def joiners(sim: TelegramSimulator, n: int) -> list[Persona]:
    """`n` distinct unknown users."""
    return [
        sim.user(FIRST_JOINER_ID + i, f"用户{i}", username=f"u{i}", language_code="zh")
        for i in range(n)
    ]


def the_director(sim: TelegramSimulator) -> Persona:
    """The director named in the settings."""
    return sim.user(id=DIRECTOR_ID, first_name="张总", username="zhang", language_code="zh")


async def case_echo(b: Bench, mode: str) -> Result:
    """The bare echo bot answering N messages from one user."""
    sim, user = b.sim, the_director(b.sim)
    async with echo_bot(b) as app, wired(app, sim, mode):
        before = sim.delivered(user.id)
        actions = [lambda: user.send("/help") for _ in range(b.n)]
        seconds = await drive(sim, mode, actions, lambda: sim.delivered(user.id) >= before + b.n)
    return Result(b.rate_limiter, ECHO, mode, b.n, seconds)


async def case_help(b: Bench, mode: str) -> Result:
    """opsbot answering N /help from the director (seeded from config, says /start first)."""
    sim, director = b.sim, the_director(b.sim)
    async with opsbot(b) as app, wired(app, sim, mode):
        await director.send("/start")
        await settle(sim, mode)
        before, statements = sim.delivered(director.id), b.statements
        actions = [lambda: director.send("/help") for _ in range(b.n)]
        seconds = await drive(
            sim, mode, actions, lambda: sim.delivered(director.id) >= before + b.n
        )
    return Result(b.rate_limiter, "opsbot /help", mode, b.n, seconds, b.statements - statements)


async def case_join(b: Bench, mode: str) -> Result:
    """N unknown users each send /start and press a role: a request and a card to the director."""
    sim, director, people = b.sim, the_director(b.sim), joiners(b.sim, b.n)
    async with opsbot(b) as app, wired(app, sim, mode):
        await director.send("/start")
        await settle(sim, mode)
        statements = b.statements
        # Two phases: in polling mode a role button can be pressed only once it has arrived.
        starts = [(lambda p=p: p.send("/start")) for p in people]
        asked = lambda: all(sim.delivered(p.id) >= 1 for p in people)  # noqa: E731
        seconds = await drive(sim, mode, starts, asked)
        cards = sim.delivered(director.id)
        presses = [(lambda p=p: p.press(p.inbox[-1], ROLE_DATA)) for p in people]
        carded = lambda: sim.delivered(director.id) >= cards + b.n  # noqa: E731
        seconds += await drive(sim, mode, presses, carded)
    name = "opsbot join (/start + role)"
    return Result(b.rate_limiter, name, mode, 2 * b.n, seconds, b.statements - statements)


async def case_daily(b: Bench, mode: str) -> Result:
    """N channel managers each file the daily report in one message and press ✅ submit."""
    sim, director = b.sim, the_director(b.sim)
    people = [
        sim.user(FIRST_MANAGER_ID + i, f"经理{i}", username=f"m{i}", language_code="zh")
        for i in range(b.n)
    ]
    clock.start_at(clock.parse_local(DAILY_AT, b.settings.team.tz))
    try:
        async with opsbot(b) as app, wired(app, sim, mode):
            await director.send("/start")
            await settle(sim, mode)
            async with app.bot_data.sessions() as s, s.begin():
                for p in people:  # on the team directly: joining is case_join's subject
                    who = staff_service.Person(p.id, p.first_name, p.username, "zh")
                    await staff_service.add(s, who, ["channel"], None)
            await tick(app.bot_data, app.bot)  # today's obligations, as the minute tick makes
            await settle(sim, mode)
            statements = b.statements
            reports = [
                DAILY_IN_ONE_MESSAGE.format(
                    new=i % 4, signed=i % 2, downloads=400 + i, registrations=60 + i % 90
                )
                for i in range(b.n)
            ]
            sends = [(lambda p=p, r=r: p.send(r)) for p, r in zip(people, reports, strict=True)]
            reviewed = lambda: all(sim.delivered(p.id) >= 1 for p in people)  # noqa: E731
            seconds = await drive(sim, mode, sends, reviewed)
            cards = [p.inbox[-1] for p in people]  # the summary card with ✅ 提交 under it
            presses = [
                (lambda p=p, c=c: p.press(c, submit_data(c)))
                for p, c in zip(people, cards, strict=True)
            ]
            filed = lambda: all(c.edited_count >= 1 for c in cards)  # noqa: E731
            seconds += await drive(sim, mode, presses, filed)
            statements = b.statements - statements
            await check_filed(app, b.n)
    finally:
        clock.reset()
    return Result(b.rate_limiter, DAILY, mode, 2 * b.n, seconds, statements)


def submit_data(card: SimMessage) -> str:
    """The callback data of the summary card's ✅ submit button (its label is translated)."""
    return next(
        b.callback_data for row in card.buttons for b in row if b.callback_data.endswith(":ok:")
    )


async def check_filed(app: Application, n: int) -> None:
    """Every report was filed, on time, once: a fast run that filed nothing must not pass."""
    async with app.bot_data.sessions() as s:
        reports = await s.scalar(select(func.count()).select_from(Report))
        filed = await s.scalar(select(func.count()).where(Obligation.status == "filed"))
    if not reports == filed == n:
        raise RuntimeError(f"daily reports: {reports} filed, {filed} on time; expected {n} of each")


CASES = (case_echo, case_help, case_join, case_daily)


async def run(b: Bench, limiters: list[bool]) -> list[Result]:
    """Every case in every mode, each with a fresh simulator and database."""
    results = []
    for limiter in limiters:
        b.rate_limiter = limiter
        for mode in MODES:
            for case in CASES:
                async with (
                    TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim,
                    fresh_database(b.admin_url) as db_url,
                ):
                    b.sim, b.settings = sim, bench_settings(sim, db_url)
                    used_db = None if case is case_echo else db_url
                    try:
                        results.append(await case(b, mode))
                    except (RuntimeError, TimeoutError):
                        print(f"{case.__name__} in {mode} mode failed:", file=sys.stderr)
                        print(await what_went_wrong(sim, used_db), file=sys.stderr)
                        raise
                    problems = await what_went_wrong(sim, used_db)
                    if problems:
                        raise RuntimeError(f"{case.__name__} in {mode} mode:\n{problems}")
    return results


async def what_went_wrong(sim: TelegramSimulator, db_url: str | None) -> str:
    """Failed Bot API calls, simulator crashes and unsent outbox rows; empty when all is well."""
    # Stopping the Updater ends its abandoned long poll with 409: that is not a failure.
    lines = [
        f"  {c.method} -> {c.error_code} {c.error_description}"
        for c in sim.calls
        if not c.ok and c.method != "getUpdates"
    ]
    lines += [f"  simulator error: {exc!r}" for exc in sim.errors]
    if db_url is None:
        return "\n".join(lines)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Outbox.id, Outbox.status, Outbox.attempts, Outbox.last_error).where(
                    Outbox.status != "sent"
                )
            )
            lines += [
                f"  outbox row {r.id}: {r.status} ({r.attempts}) {r.last_error}" for r in rows
            ]
    except SQLAlchemyError as exc:  # the case failed before opsbot created its tables
        lines.append(f"  outbox not readable: {exc.__class__.__name__}")
    finally:
        await engine.dispose()
    return "\n".join(lines)


def report(results: list[Result], b: Bench, errors: int, wall: float) -> None:
    """Print the figures."""
    print("bot and simulator share one process and one event loop, so they share one core\n")
    columns = f"{'case':<30} {'mode':<8} {'updates':>7} {'seconds':>8} {'updates/s':>10}"
    for limiter in dict.fromkeys(r.limiter for r in results):
        title = "AIORateLimiter on (as shipped)" if limiter else "AIORateLimiter off (capacity)"
        print(f"{title}:\n{columns} {'vs echo':>8} {'SQL/update':>11}")
        for mode in MODES:
            rows = [r for r in results if r.limiter == limiter and r.mode == mode]
            echo_rate = next(r.rate for r in rows if r.case == ECHO)
            for r in rows:
                ratio = "" if r.case == ECHO else f"{r.rate / echo_rate:.2f}"
                sql = f"{r.statements / r.updates:.1f}" if r.statements else ""
                print(
                    f"{r.case:<30} {r.mode:<8} {r.updates:>7} {r.seconds:>8.2f} "
                    f"{r.rate:>10.1f} {ratio:>8} {sql:>11}"
                )
        print()
    first, median = b.startups[0], statistics.median(b.startups)
    print(
        "start-up (build_application + initialize + startup on an empty database): "
        f"first {first:.3f} s, median {median:.3f} s of {len(b.startups)}"
    )
    print(f"peak RSS of the whole process (bots + simulator): {peak_rss_mb():.0f} MB")
    print(f"errors logged: {errors}; total wall time {wall:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100, help="updates per case (default 100)")
    parser.add_argument(
        "--db",
        help="a postgresql+asyncpg:// URL to use instead of SQLite; a throw-away database is "
        "created on that server for each case and dropped after it (needs CREATE DATABASE)",
    )
    parser.add_argument(
        "--limiter",
        choices=("on", "off", "both"),
        default="both",
        help="with PTB's AIORateLimiter (as shipped), without it (processing capacity), "
        "or both (default)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    args = parse_args(argv)
    check_db_option(args.db)
    logging.basicConfig(level=logging.WARNING)
    errors = LogCount(logging.ERROR)
    logging.getLogger().addHandler(errors)
    limiters = {"on": [True], "off": [False], "both": [True, False]}[args.limiter]
    b = Bench(n=args.n, admin_url=args.db)
    title = f"opsbot updates benchmark: n={args.n} per case, limiter {args.limiter}"
    print(asyncio.run(header(title, args.db)), flush=True)
    started = time.perf_counter()
    results = asyncio.run(run(b, limiters))
    report(results, b, errors.count, time.perf_counter() - started)


if __name__ == "__main__":
    main()
