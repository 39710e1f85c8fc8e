"""What the benchmarks share: a fresh database per run, settings for the simulator, memory,
and the machine and command a run was made on."""

from __future__ import annotations

import logging
import os
import platform
import resource
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import ROOT
from bot.config import Settings, load_settings
from bot.db import make_engine

if TYPE_CHECKING:  # the simulator (aiohttp) stays out of processes that measure the bot alone
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
    return settings_for(sim.base_url, sim.base_file_url, db_url)


def settings_for(base_url: str, base_file_url: str, db_url: str) -> Settings:
    """bench_settings for a process that has the simulator's URLs but not the simulator."""
    return load_settings(
        # Per-chat pacing off, like the simulator's flood limits: a benchmark that turns those on
        # turns pacing on too (bench/outbox_send.py); the others measure processing capacity.
        telegram={
            "token": TOKEN,
            "base_url": base_url,
            "base_file_url": base_file_url,
            "pace_per_chat": False,
        },
        database={"url": db_url},
        team={"name": "互联网运营部", "directors": [DIRECTOR_ID]},
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB: VmHWM, not ru_maxrss — Linux carries
    the parent's peak across fork and exec into ru_maxrss (a bot spawned by a 130 MB driver read
    130 MB however little it used itself)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory of this process, in MB (from /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _cpuinfo(key: str) -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_gb() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GB RAM"
    except OSError:
        pass
    return "RAM unknown"


def command_line() -> str:
    """The command that started this run, as it would be typed in the project directory."""

    def near(path: str) -> str:
        relative = os.path.relpath(os.path.abspath(path), ROOT)
        return os.path.abspath(path) if relative.startswith("..") else relative

    return shlex.join([near(sys.executable), near(sys.argv[0]), *sys.argv[1:]])


async def server_version(admin_url: str | None) -> str:
    """The database engine a run used and its version."""
    if admin_url is None:
        return f"SQLite {sqlite3.sqlite_version} (temporary file)"
    engine = make_engine(admin_url)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SHOW server_version"))
    finally:
        await engine.dispose()
    where = make_url(admin_url).render_as_string()
    return f"PostgreSQL {version} (a throw-away database per case on {where})"


def compile_like_run_sh() -> None:
    """Write opsbot's bytecode as ./run.sh does before each start, so a bot process started here
    loads what a deployed one loads (with PYTHONDONTWRITEBYTECODE set it would compile its ~130
    modules at every start instead, 0.2 s of it)."""
    import compileall

    for package in ("bot", "handlers", "jobs"):
        compileall.compile_dir(ROOT / package, quiet=1)


async def header(title: str, admin_url: str | None) -> str:
    """What to print first: the benchmark, the machine, the code, the database, the command."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            title,
            f"machine: {cpus} CPUs (nproc), {_cpuinfo('model name')}, {_ram_gb()}, "
            f"{platform.system()} {platform.release()}; load average at start {load}",
            f"python {platform.python_version()}, SQLite library {sqlite3.sqlite_version}, "
            f"opsbot {revision()}",
            f"database: {await server_version(admin_url)}",
            f"command: {command_line()}",
        ]
    )


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
