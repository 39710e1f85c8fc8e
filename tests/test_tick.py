"""The tick: `opsbot jobs run tick --at …` runs once at a chosen moment, sends, and exits."""

from datetime import UTC, datetime

import pytest
from support import opsbot_env, run_opsbot

from bot import clock
from jobs.tick import tick

pytestmark = [pytest.mark.databases, pytest.mark.slow]


async def _run_cli(sim, db_url: str, *args: str) -> tuple[int, str, str]:
    return await run_opsbot(*args, env=opsbot_env(sim, db_url, OPSBOT_TEAM__DIRECTORS="[1001]"))


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
    clock.start_at(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    report = await tick(app.bot_data, app.bot)
    assert report.enqueued == 0
    assert len(director.inbox) == before


async def test_jobs_run_tick_rejects_a_malformed_time(sim, db_url):
    code, _, err = await _run_cli(sim, db_url, "jobs", "run", "tick", "--at", "tomorrow")
    assert code != 0
    assert "2026-12-01 18:30" in err and "Traceback" not in err
