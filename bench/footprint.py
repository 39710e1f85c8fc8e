"""Memory (RSS) and start-up time of the bot: an empty team vs 10,000 staff.

The bot runs in a fresh child process of its own (its peak RSS is then the bot's alone, and each
figure starts cold); this process holds the simulator, fills the database and plays the people.
The child is the real Application: build_application, initialize, startup (migrate, seed), one
minute tick, then the Updater long-polling the simulator while a few hundred updates arrive.
Prints figures, asserts nothing about them.
"""

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SCRIPT = Path(__file__).resolve()
# A Thursday morning, a working day: the daily report is owed (due 18:00), the weekly one too
# (due Friday); no reminder is due yet, so the tick does its bookkeeping and sends nothing.
AT = "2026-11-26 10:00"
FIRST_STAFF_ID = 2_000_000


# ---------------------------------------------------------------------------------------------
# The child: the bot alone. Imports are inside, so that they are timed and measured.


async def child(args: argparse.Namespace) -> None:
    """Start the bot against the database; report each phase as a JSON line on stdout."""
    started = time.perf_counter()
    gc.disable()  # as the `opsbot` script starts the bot (bot/launch.py); startup() resumes it
    from support import peak_rss_mb as peak_mb
    from support import rss_mb, settings_for

    from bot import clock
    from bot.app import build_application, shutdown, startup
    from jobs.tick import tick

    say(phase="imported", seconds=time.perf_counter() - started, rss=rss_mb())
    settings = settings_for(args.base_url, args.base_file_url, args.url)
    clock.start_at(clock.parse_local(AT, settings.team.tz))

    async def start():
        began = time.perf_counter()
        app = build_application(settings)
        await app.initialize()
        await startup(app)
        return app, time.perf_counter() - began

    if args.child == "startup":
        for _ in range(args.starts):
            app, seconds = await start()
            say(phase="started", seconds=seconds, rss=rss_mb())
            await shutdown(app)
            await app.shutdown()
        say(phase="done", peak=peak_mb(), rss=rss_mb())
        return

    app, seconds = await start()
    say(phase="started", seconds=seconds, rss=rss_mb())
    began = time.perf_counter()
    report = await tick(app.bot_data, app.bot)
    say(phase="ticked", seconds=time.perf_counter() - began, enqueued=report.enqueued,
        sent=report.sent, rss=rss_mb(), peak=peak_mb())  # fmt: skip
    # The minutes after it, in the same process: what a running bot pays every minute (the
    # first tick of a process also does what only a new process needs once).
    later = []
    for minute in range(1, args.ticks):
        clock.start_at(clock.parse_local(AT, settings.team.tz) + timedelta(minutes=minute))
        began = time.perf_counter()
        await tick(app.bot_data, app.bot)
        later.append(time.perf_counter() - began)
    say(phase="later ticks", seconds=later)
    # The minute tick was run above; the JobQueue keeps the sender job, as shipped.
    for job in app.job_queue.get_jobs_by_name("tick"):
        job.schedule_removal()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()
    say(phase="polling", rss=rss_mb(), peak=peak_mb())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await app.updater.stop()
    await app.stop()
    await shutdown(app)
    await app.shutdown()
    say(phase="done", peak=peak_mb(), rss=rss_mb())


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


# ---------------------------------------------------------------------------------------------
# The parent: database, simulator, people.


@dataclass
class Scenario:
    """What was measured for one database."""

    staff: int
    fill: float = 0.0
    obligations: int = 0
    ahead: float = 0.0  # creating today's and tomorrow's obligations, as earlier ticks did
    ready: list[float] = field(default_factory=list)  # spawn to first start-up done, per process
    imported: list[float] = field(default_factory=list)
    import_rss: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)  # first start-up in a process
    warm: list[float] = field(default_factory=list)  # later start-ups in the same process
    run: dict[str, dict] = field(default_factory=dict)  # phase -> what the child said
    filings: int = 0  # daily reports filed (a message and a press each)
    filing_seconds: float = 0.0
    asks: int = 0  # /my
    ask_seconds: float = 0.0
    reports: int = 0  # reports in the database afterwards


async def populate(url: str, staff: int) -> Scenario:
    """Migrate; `staff` people (7 in 10 channel managers, the rest user ops); their obligations.

    Only for the big team: the empty team's database is left unmigrated, for the bot to do."""
    from sqlalchemy import func, insert, select

    from bot import clock
    from bot.calendar import WorkCalendar
    from bot.config import load_settings
    from bot.db import make_engine, make_sessionmaker
    from bot.migrate import upgrade
    from bot.models import Obligation, Staff, StaffRole
    from bot.services import obligations

    result = Scenario(staff)
    settings = load_settings(database={"url": url})
    engine = make_engine(url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        joined = clock.parse_local("2026-01-05 09:00", settings.team.tz)
        began = time.perf_counter()
        async with sessions() as s, s.begin():
            await s.execute(insert(Staff), [
                dict(telegram_id=FIRST_STAFF_ID + i, display_name=f"员工{i:05d}",
                     username=f"staff{i}", locale="zh", active=True, joined_at=joined)
                for i in range(staff)
            ])  # fmt: skip
            ids = (await s.execute(select(Staff.id, Staff.telegram_id))).all()
            await s.execute(insert(StaffRole), [
                dict(staff_id=sid, role=role_of(tid - FIRST_STAFF_ID)) for sid, tid in ids
            ])  # fmt: skip
        result.fill = time.perf_counter() - began
        clock.start_at(clock.parse_local(AT, settings.team.tz))
        try:
            began = time.perf_counter()
            async with sessions() as s, s.begin():
                await obligations.create_ahead(
                    s, settings.reports.forms, WorkCalendar(), settings.team.tz
                )
            result.ahead = time.perf_counter() - began
        finally:
            clock.reset()
        async with sessions() as s:
            result.obligations = await s.scalar(select(func.count()).select_from(Obligation))
    finally:
        await engine.dispose()
    return result


def role_of(i: int) -> str:
    return "channel" if i % 10 < 7 else "user_ops"


async def spawn(
    mode: str, url: str, sim, starts: int = 1, ticks: int = 1
) -> asyncio.subprocess.Process:
    """The bot in a fresh interpreter, talking to `sim` over HTTP."""
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--child", mode, "--url", url, "--starts", str(starts),
        "--base-url", sim.base_url, "--base-file-url", sim.base_file_url,
        "--ticks", str(ticks), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def heard(proc: asyncio.subprocess.Process, phase: str) -> dict:
    """Read the child's reports until `phase`; fail if it died first."""
    while True:
        line = await proc.stdout.readline()
        if not line:
            code = await proc.wait()
            raise RuntimeError(f"the bot process exited ({code}) before {phase!r}")
        try:
            said = json.loads(line)
        except ValueError:  # not one of ours: pass it on
            sys.stdout.write(line.decode(errors="replace"))
            continue
        if said["phase"] == phase:
            return said


async def measure_startups(s: Scenario, url: str, sim, processes: int) -> None:
    """`processes` fresh processes, each starting the bot three times."""
    for _ in range(processes):
        began = time.perf_counter()
        proc = await spawn("startup", url, sim, starts=3)
        imported = await heard(proc, "imported")
        first = await heard(proc, "started")
        s.ready.append(time.perf_counter() - began)
        s.imported.append(imported["seconds"])
        s.import_rss.append(imported["rss"])
        s.cold.append(first["seconds"])
        for _ in range(2):
            s.warm.append((await heard(proc, "started"))["seconds"])
        await heard(proc, "done")
        await proc.wait()


async def measure_run(s: Scenario, url: str, sim, updates: int, seed: int, ticks: int = 1) -> None:
    """Start the bot, let it tick `ticks` times (a minute apart), send it `updates` updates from
    random staff, stop it."""
    from support import DIRECTOR_ID

    director = sim.user(DIRECTOR_ID, "张总", username="zhang", language_code="zh")
    director.started = True
    proc = await spawn("run", url, sim, ticks=ticks)
    try:
        for phase in ("imported", "started", "ticked", "later ticks", "polling"):
            s.run[phase] = await heard(proc, phase)
        rng = random.Random(seed)
        filers, askers = [], [director] * updates  # nobody else is on an empty team
        if s.staff:
            chosen = rng.sample(range(s.staff), updates // 3)
            filers = [person(sim, i) for i in chosen if role_of(i) == "channel"]
            askers = [person(sim, rng.randrange(s.staff)) for _ in range(updates - 2 * len(filers))]
        began = time.perf_counter()
        for p in filers:  # the daily report in one message, then ✅ submit: 2 updates
            await p.send(daily_report(p.id - FIRST_STAFF_ID))
            await until(lambda p=p: sim.delivered(p.id) >= 1)
            card = p.inbox[-1]  # the summary: ✅ submit is the button whose data ends :ok:
            data = next(
                b.callback_data for r in card.buttons for b in r if b.callback_data.endswith(":ok:")
            )
            await p.press(card, data)
            await until(lambda card=card: card.edited_count >= 1)
        s.filings, s.filing_seconds = len(filers), time.perf_counter() - began
        began = time.perf_counter()
        for p in askers:  # /my: what I owe and my latest reports
            before = sim.delivered(p.id)
            await p.send("/my")
            await until(lambda p=p, before=before: sim.delivered(p.id) > before)
        s.asks, s.ask_seconds = len(askers), time.perf_counter() - began
        await sim.wait_idle(quiet=0.2, timeout=30)
        proc.stdin.write(b"stop\n")
        await proc.stdin.drain()
        s.run["done"] = await heard(proc, "done")
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    failed = [c for c in sim.calls if not c.ok and c.method != "getUpdates"]
    if failed or sim.errors:
        raise RuntimeError(f"failed calls: {[(c.method, c.error_description) for c in failed]}")
    s.reports = await count_reports(url)
    if s.reports != s.filings:
        raise RuntimeError(f"{s.filings} daily reports sent, {s.reports} in the database")


async def count_reports(url: str) -> int:
    from sqlalchemy import func, select

    from bot.db import make_engine
    from bot.models import Report

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(Report))
    finally:
        await engine.dispose()


def person(sim, i: int):
    """The persona of staff member `i` (created on first use)."""
    return sim.user(FIRST_STAFF_ID + i, f"员工{i:05d}", username=f"staff{i}", language_code="zh")


def daily_report(i: int) -> str:
    from bot.cli.demo import DAILY_IN_ONE_MESSAGE

    return DAILY_IN_ONE_MESSAGE.format(
        new=i % 3, signed=i % 2, downloads=300 + i % 700, registrations=40 + i % 90
    )


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the bot did not answer in time")
        await asyncio.sleep(0.002)


async def parent(args: argparse.Namespace) -> None:
    from support import BOT_USERNAME, TOKEN, fresh_database, header, peak_rss_mb

    from bot.simulator import TelegramSimulator

    title = (
        f"opsbot footprint: start-up and RSS, empty team vs {args.staff:,} staff; "
        f"the bot in a fresh process per measurement"
    )
    print(await header(title, args.db), flush=True)

    def simulator() -> TelegramSimulator:
        return TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME)

    # The empty team: a new, unmigrated database for every process, so that each first
    # start-up migrates an empty database, as a first deployment does.
    empty = Scenario(0)
    async with simulator() as sim:
        for _ in range(args.processes):
            async with fresh_database(args.db) as url:
                await measure_startups(empty, url, sim, 1)
    async with fresh_database(args.db) as url, simulator() as sim:
        await measure_run(empty, url, sim, args.updates, args.seed, args.ticks)
    report(empty)
    # The big team: filled once (that takes a while), then the same measurements.
    async with fresh_database(args.db) as url:
        big = await populate(url, args.staff)
        async with simulator() as sim:
            await measure_startups(big, url, sim, args.processes)
        async with simulator() as sim:
            await measure_run(big, url, sim, args.updates, args.seed, args.ticks)
    report(big)
    print(f"\npeak RSS of this (driver + simulator) process, not the bot's: {peak_rss_mb():.0f} MB")


def report(s: Scenario) -> None:
    med = statistics.median
    migrating = "migrating an empty database" if not s.staff else "database already at head"
    team = f"{s.staff:,} staff" if s.staff else "empty team (the director from config only)"
    print(f"\n== {team} ==")
    if s.staff:
        print(
            f"database: {s.staff:,} staff + roles inserted in {s.fill:.1f} s; create_ahead "
            f"(what earlier ticks did) made {s.obligations:,} obligations in {s.ahead:.1f} s"
        )
    print(
        f"start-up, {len(s.cold)} fresh processes: process start to bot ready "
        f"{med(s.ready):.2f} s median (imports {med(s.imported):.2f} s, RSS after imports "
        f"{med(s.import_rss):.0f} MB)"
    )
    print(
        f"  build_application + initialize + startup: first in a process ({migrating}) "
        f"{med(s.cold):.3f} s "
        f"median (min {min(s.cold):.3f}, max {max(s.cold):.3f}); again in the same process "
        f"(at head) {med(s.warm):.3f} s median"
    )
    r = s.run
    print(
        f"run: RSS after start-up {r['started']['rss']:.0f} MB; the first minute tick took "
        f"{r['ticked']['seconds']:.3f} s (queued {r['ticked']['enqueued']}), RSS after it "
        f"{r['ticked']['rss']:.0f} MB, peak so far {r['ticked']['peak']:.0f} MB"
    )
    later = r["later ticks"]["seconds"]
    if later:
        print(
            f"  the {len(later)} ticks after it, a minute apart, nothing due: median "
            f"{statistics.median(later):.3f} s (min {min(later):.3f}, max {max(later):.3f})"
        )
    who = "random staff" if s.staff else "the director"
    print(
        f"  then, polling, one after another: {s.filings} daily reports filed (a message and a "
        f"press each; {s.reports} in the database after), {s.asks} × /my from {who}, in "
        f"{s.filing_seconds + s.ask_seconds:.1f} s; RSS at the end {r['done']['rss']:.0f} MB"
    )
    print(f"  PEAK RSS of the bot process: {r['done']['peak']:.0f} MB")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=10_000, help="the big team (10000)")
    parser.add_argument(
        "--updates", type=int, default=300, help="updates sent to the running bot (300)"
    )
    parser.add_argument(
        "--processes", type=int, default=3, help="fresh processes timing start-up (3)"
    )
    parser.add_argument("--seed", type=int, default=1, help="which staff write (random seed)")
    parser.add_argument(
        "--ticks", type=int, default=1,
        help="minute ticks run after start-up, a minute apart (1); the later ones show what a "
        "running bot pays each minute",
    )  # fmt: skip
    parser.add_argument(
        "--db",
        help="a postgresql+asyncpg:// URL to use instead of SQLite; a throw-away database is "
        "created on that server for each team size and dropped after it",
    )
    # The child process (internal).
    parser.add_argument("--child", choices=("startup", "run"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--base-file-url", help=argparse.SUPPRESS)
    parser.add_argument("--starts", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        asyncio.run(child(args))
        return
    if args.db and not args.db.startswith("postgresql+asyncpg://"):
        sys.exit("--db expects postgresql+asyncpg://user@host/db")
    from support import compile_like_run_sh

    compile_like_run_sh()  # the bot processes load bytecode, as started by ./run.sh
    asyncio.run(parent(args))


if __name__ == "__main__":
    main()
