"""The minute tick with nothing due, part by part, at several team sizes: what grows with staff.

For each size: a fresh database, that many staff (7 in 10 channel managers) and the obligations
earlier ticks made (as bench/footprint.py fills it), then the real Application ticks `--ticks`
times a minute apart on a Thursday at 10:00 (nothing is due). Each part the tick runs
(jobs/tick.py `_duties`, the digests, the sender) is wrapped to be timed and its statements
counted; the first tick of a process is shown apart from the ones after it, which are what a
running bot pays every minute. Prints figures, asserts nothing about them.
"""

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from footprint import AT, populate
from support import (
    BOT_USERNAME,
    TOKEN,
    check_db_option,
    fresh_database,
    header,
    settings_for,
)

# (module under bot.services, function) in the order jobs/tick.py `_duties` calls them
DUTIES = (
    ("calendar_notice", "notify_if_fallback"),
    ("obligations", "create_ahead"),
    ("obligations", "excuse_on_leave"),
    ("obligations", "close_expired"),
    ("reminders", "escalate"),
    ("reminders", "due_nags"),
    ("reminders", "send_nags"),
    ("task_series", "create_due"),
    ("task_reminders", "remind"),
    ("approvals", "set_deadlines"),
    ("approvals", "start_due"),
    ("approvals", "remind"),
    ("approval_followups", "run"),
    ("dashboard_menu", "enqueue_missing"),
    ("team", "forget_updates_before"),
)


class Parts:
    """Seconds and statements per part, per tick."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.statements: dict[str, list[int]] = defaultdict(list)
        self.current: str | None = None
        self.counted = 0
        self.wrapped: list[tuple[object, str, object]] = []

    def wrap(self, owner, name: str, label: str) -> None:
        """Replace `owner.name` by a timed version that counts its statements."""
        inner = getattr(owner, name)
        self.wrapped.append((owner, name, inner))

        async def timed(*args, **kwargs):
            outer, self.current = self.current, label
            counted, self.counted = self.counted, 0
            began = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                self.seconds[label].append(time.perf_counter() - began)
                self.statements[label].append(self.counted)
                self.current, self.counted = outer, counted + self.counted

        setattr(owner, name, timed)

    def statement(self, *_args) -> None:
        self.counted += 1

    def unwrap(self) -> None:
        for owner, name, inner in reversed(self.wrapped):
            setattr(owner, name, inner)


async def measure(url: str, staff: int, ticks: int, public_url: str | None) -> None:
    import importlib

    from sqlalchemy import event

    import jobs.tick
    from bot import clock
    from bot.app import build_application, shutdown, startup
    from bot.simulator import TelegramSimulator

    filled = await populate(url, staff) if staff else None
    parts = Parts()
    for module, name in DUTIES:
        parts.wrap(importlib.import_module(f"bot.services.{module}"), name, f"{module}.{name}")
    parts.wrap(jobs.tick.digests, "run_due", "digests.run_due")
    parts.wrap(jobs.tick, "deliver", "sender (deliver)")
    totals = []
    async with TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as sim:
        settings = settings_for(sim.base_url, sim.base_file_url, url)
        if public_url:
            settings.web.public_url = public_url
        app = build_application(settings)
        await app.initialize()
        await startup(app)
        event.listen(app.bot_data.engine.sync_engine, "before_cursor_execute", parts.statement)
        start = clock.parse_local(AT, settings.team.tz)
        try:
            for minute in range(ticks):
                clock.start_at(start + timedelta(minutes=minute))
                began = time.perf_counter()
                await jobs.tick.tick(app.bot_data, app.bot)
                totals.append(time.perf_counter() - began)
        finally:
            clock.reset()
            parts.unwrap()
            await shutdown(app)
            await app.shutdown()
    report(staff, filled, totals, parts)


def report(staff: int, filled, totals: list[float], parts: Parts) -> None:
    ms = 1000
    obligations = f", {filled.obligations:,} obligations" if filled else ""
    print(f"\n== {staff:,} staff{obligations} ==")
    later = totals[1:]
    print(
        f"whole tick: first {totals[0] * ms:.1f} ms; the {len(later)} after it median "
        f"{statistics.median(later) * ms:.1f} ms (min {min(later) * ms:.1f}, "
        f"max {max(later) * ms:.1f})"
    )
    print(f"  {'part':38} {'first ms':>9} {'later ms':>9} {'statements later':>17}")
    for label, seconds in parts.seconds.items():
        rest = seconds[1:]
        statements = parts.statements[label][1:]
        print(
            f"  {label:38} {seconds[0] * ms:9.1f} {statistics.median(rest) * ms:9.1f} "
            f"{statistics.median(statements):17.0f}"
        )


async def main(args: argparse.Namespace) -> None:
    sizes = [int(n) for n in args.staff.split(",")]
    print(await header(f"opsbot tick by parts: {args.ticks} ticks at {AT}, nothing due", args.db))
    for staff in sizes:
        async with fresh_database(args.db) as url:
            await measure(url, staff, args.ticks, args.public_url)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--staff", default="1000,10000", help="team sizes, comma-separated (1000,10000)"
    )
    parser.add_argument(
        "--ticks", type=int, default=6, help="ticks per size, a minute apart (6; at least 2)"
    )
    parser.add_argument(
        "--public-url",
        help="set web.public_url (the dashboard menu check runs; the first tick queues a menu "
        "button per person and sends them, which takes minutes at 10,000 staff)",
    )
    parser.add_argument(
        "--db",
        help="a postgresql+asyncpg:// URL to use instead of SQLite; a throw-away database is "
        "created on that server for each size and dropped after it",
    )
    args = parser.parse_args(argv)
    if args.ticks < 2:
        parser.error("--ticks must be at least 2")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    check_db_option(arguments.db)
    asyncio.run(main(arguments))
