"""Helpers for tests/test_failures.py: sender subprocesses, flood logs, outages, replicas."""

import asyncio
import contextlib
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from telegram import Update
from telegram.ext import Application

from bot.db import make_engine

# ---- sender subprocesses -----------------------------------------------------------------------


async def start_sender(
    sim, db_url: str, *, holder: str, at: datetime, rate: float
) -> asyncio.subprocess.Process:
    """tests/failure_sender.py in a subprocess, its clock started at `at`."""
    script = Path(__file__).with_name("failure_sender.py")
    return await asyncio.create_subprocess_exec(
        sys.executable, str(script), db_url, sim.base_url, sim.token, holder, at.isoformat(),
        str(rate), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


# ---- flood control ----------------------------------------------------------------------------


@dataclass
class FloodLog:
    """Every send the simulator's flood control judged: (time, chat, retry_after or None).

    The simulator's and the bot's clocks are moved together by hand (`advance`), so a test can
    check that nothing was sent to a chat before the wait Telegram asked for had passed.
    """

    sim: object
    traveller: object  # a time_machine traveller with tick=False: the bot's clock stands still
    now: float = 1000.0
    entries: list[tuple[float, int, int | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sim.monotonic = lambda: self.now
        admit = self.sim.flood.admit

        def logged(chat_id: int, private: bool) -> int | None:
            retry = admit(chat_id, private)
            self.entries.append((self.now, chat_id, retry))
            return retry

        self.sim.flood.admit = logged

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.traveller.shift(timedelta(seconds=seconds))

    def early_sends(self) -> list[tuple[int, float, float]]:
        """(chat, asked to wait until, tried at) for every send that came too soon."""
        early = []
        for at, chat, retry in self.entries:
            if retry is None:
                continue
            until = at + retry
            early += [(chat, until, t) for t, c, _ in self.entries if c == chat and at < t < until]
        return early


# ---- database outages -------------------------------------------------------------------------


async def pg_admin(admin_url: str, sql: str) -> None:
    """Run one statement as the PostgreSQL superuser, outside any transaction."""
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def pg_outage(db_url: str, admin_url: str) -> AsyncIterator[None]:
    """The database refuses connections and every open one is cut, until the block ends."""
    name = make_url(db_url).database
    await pg_admin(admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        await pg_admin(
            admin_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )
        yield
    finally:
        await pg_admin(admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@contextlib.asynccontextmanager
async def sqlite_outage(db_url: str) -> AsyncIterator[None]:
    """Another process-like connection holds SQLite's write lock until the block ends (as a
    long `sqlite3` shell session or a stuck backup would): every write waits its busy timeout
    and then fails with "database is locked"."""
    path = make_url(db_url).database
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(60)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    holder = threading.Thread(target=hold, name="sqlite-lock-holder", daemon=True)
    holder.start()
    await asyncio.to_thread(locked.wait, 30)
    try:
        yield
    finally:
        release.set()
        await asyncio.to_thread(holder.join, 30)


# ---- replicas ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def replica(settings, db_url: str) -> AsyncIterator[Application]:
    """A whole Application with its own engine (its own connection pool) on the shared database,
    as a second replica of the deployment would have."""
    from bot.app import build_application, shutdown, startup

    app = build_application(settings, engine=make_engine(db_url))
    await app.initialize()
    await startup(app)
    try:
        yield app
    finally:
        await shutdown(app)  # disposes this replica's engine
        app.bot_data.engine = None
        await app.shutdown()


@contextlib.asynccontextmanager
async def talking_to(sim, app: Application) -> AsyncIterator[None]:
    """Route the simulator's updates to `app` inside the block (a load balancer's choice)."""
    previous = sim.on_update

    async def push(data: dict) -> None:
        await app.process_update(Update.de_json(data, app.bot))

    sim.on_update = push
    try:
        yield
    finally:
        sim.on_update = previous
