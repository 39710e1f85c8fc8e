"""What the benchmarks share: a fresh database per run, settings for the simulator, memory."""

import logging
import resource
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import ROOT
from bot.config import Settings, load_settings
from bot.db import make_engine
from bot.simulator import TelegramSimulator

TOKEN = "100000:BENCH"
BOT_USERNAME = "opsbot_bench_bot"
DIRECTOR_ID = 1001


@asynccontextmanager
async def fresh_database(admin_url: str | None) -> AsyncIterator[str]:
    """An empty database: a temporary SQLite file, or a throw-away PostgreSQL one."""
    if admin_url is None:
        with tempfile.TemporaryDirectory(prefix="opsbot-bench-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    # A database of its own, so a benchmark never touches real data on the given server.
    name = f"opsbot_bench_{uuid.uuid4().hex[:10]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, sql: str) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def check_db_option(url: str | None) -> None:
    """Stop with a message unless --db is empty or a PostgreSQL asyncpg URL."""
    if url and not url.startswith("postgresql+asyncpg://"):
        sys.exit("--db expects postgresql+asyncpg://user@host/db")


def describe_db(admin_url: str | None) -> str:
    """The database a run used, for the report."""
    if admin_url is None:
        return "SQLite (temporary file)"
    return "PostgreSQL (throw-away database on " + make_url(admin_url).render_as_string() + ")"


def bench_settings(sim: TelegramSimulator, db_url: str) -> Settings:
    """Settings pointing at the simulator, with one director from config."""
    return load_settings(
        telegram={"token": TOKEN, "base_url": sim.base_url, "base_file_url": sim.base_file_url},
        database={"url": db_url},
        team={"name": "互联网运营部", "directors": [DIRECTOR_ID]},
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def revision() -> str:
    """The commit of the opsbot code measured, marked when the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"at {ROOT} (not a git checkout)"
    return f"{head}{' (uncommitted changes)' if dirty else ''}"


class LogCount(logging.Handler):
    """Counts log records at or above a level, optionally only those starting with `prefix`."""

    def __init__(self, level: int, prefix: str = "") -> None:
        super().__init__(level)
        self.prefix = prefix
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            self.count += 1
