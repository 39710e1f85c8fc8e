"""The tick: `opsbot jobs run tick --at …` runs once at a chosen moment, sends, and exits."""

import asyncio
import os
import sys
from datetime import UTC, datetime

from bot.simulator import TelegramSimulator
from jobs.tick import tick


async def _run_cli(sim: TelegramSimulator, db_url: str, *args: str) -> tuple[int, str, str]:
    """Run `python -m bot.cli …` against the simulator and the test database."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPSBOT_TELEGRAM__TOKEN": sim.token,
        "OPSBOT_TELEGRAM__BASE_URL": sim.base_url,
        "OPSBOT_TELEGRAM__BASE_FILE_URL": sim.base_file_url,
        "OPSBOT_DATABASE__URL": db_url,
        "OPSBOT_TEAM__DIRECTORS": "[1001]",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd="/",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode, out.decode(), err.decode()


async def test_jobs_run_tick_tells_directors_once_about_a_year_without_calendar_data(
    app, sim, db_url, director
):
    await director.send("/start")
    before = len(director.inbox)

    code, out, err = await _run_cli(sim, db_url, "jobs", "run", "tick", "--at", "2099-06-01 09:00")
    assert code == 0, err
    assert "tick at 2099-06-01 09:00" in out
    assert len(director.inbox) == before + 1
    assert "还没有 2099 年的数据" in director.inbox[-1].plain

    code, _, err = await _run_cli(sim, db_url, "jobs", "run", "tick", "--at", "2099-06-01 09:01")
    assert code == 0, err
    assert len(director.inbox) == before + 1


async def test_a_tick_in_a_known_year_sends_nothing_new(app, director):
    await director.send("/start")
    before = len(director.inbox)
    report = await tick(app.bot_data, app.bot, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert report.enqueued == 0
    assert len(director.inbox) == before


async def test_jobs_run_tick_rejects_a_malformed_time(sim, db_url):
    code, _, err = await _run_cli(sim, db_url, "jobs", "run", "tick", "--at", "tomorrow")
    assert code != 0
    assert "2026-12-01 18:30" in err and "Traceback" not in err
