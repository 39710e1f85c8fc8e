"""`opsbot jobs due --at …`: what the tick would do then, by the tick's own code; nothing kept."""

import pytest
import time_machine
from kpi_data import local
from sqlalchemy import func, select
from support import make_staff, opsbot_env, run_opsbot

from bot.cli.jobs import dry_run
from bot.db import make_sessionmaker
from bot.models import Obligation, Outbox
from bot.services import team, tick_changes
from jobs.tick import tick

pytestmark = [pytest.mark.databases, pytest.mark.slow]

# 王伟 and 张总 join on Monday morning; 王伟's daily report is due that day at 18:00.
JOINED = "2026-12-07 09:00"
DAILY = "渠道拓展日报"
WEEKLY = "用户反馈周报"
GROUP_ID = -100777


@pytest.fixture
async def env(sim, engine, db_url, director, channel_manager) -> dict[str, str]:
    """A fresh migrated database with the two added by `opsbot staff add`, and nothing else."""
    env = opsbot_env(sim, db_url, OPSBOT_CLOCK_START=JOINED)
    for args in (["2002", "--name", "王伟", "--role", "channel"],
                 ["1001", "--name", "张总", "--role", "director"]):  # fmt: skip
        code, _, err = await run_opsbot("staff", "add", *args, env=env)
        assert code == 0, err
    return env


async def _due(env: dict[str, str], at: str) -> list[str]:
    code, out, err = await run_opsbot("jobs", "due", "--at", at, env=env)
    assert code == 0, err
    return out.splitlines()


async def _kept(engine) -> tuple[int, int]:
    async with engine.connect() as conn:
        obligations = await conn.scalar(select(func.count()).select_from(Obligation))
        return obligations, await conn.scalar(select(func.count()).select_from(Outbox))


async def test_it_lists_the_before_due_reminder_on_a_fresh_database(env, engine, sim):
    lines = await _due(env, "2026-12-07 17:00")
    assert lines[0] == "tick at 2026-12-07 17:00 (dry run: nothing saved, nothing sent):"
    assert f"create obligation 王伟 (2002): {DAILY} 2026-12-07, due 2026-12-07 18:00" in lines
    reminders = [line for line in lines if line.startswith("remind ")]
    assert len(reminders) == 1  # its exact text: test_what_it_lists_is_what_the_tick_then_sends
    assert reminders[0].startswith(f"remind 王伟 (2002): {DAILY} 2026-12-07 — before-due step: ⏰")
    assert await _kept(engine) == (0, 0)
    assert sim.calls == []  # not even getMe: no Bot exists in a dry run


async def test_it_lists_the_overdue_reminder_at_the_tick_after_the_due_time(env, engine, sim):
    lines = await _due(env, "2026-12-07 18:01")
    reminders = [line for line in lines if line.startswith("remind ")]
    assert len(reminders) == 1
    assert reminders[0].startswith(f"remind 王伟 (2002): {DAILY} 2026-12-07 — overdue step: ⚠️")
    assert await _kept(engine) == (0, 0)
    assert sim.calls == []


async def test_on_a_day_off_it_lists_nothing_for_the_daily_report(env, engine, sim):
    lines = await _due(env, "2026-12-12 17:00")  # a Saturday
    assert not [line for line in lines if DAILY in line]
    # Not silence: the week's summary, due on Friday, is overdue.
    assert any(
        line.startswith(f"remind 王伟 (2002): {WEEKLY} 2026-W50 — overdue") for line in lines
    )
    assert await _kept(engine) == (0, 0)
    assert sim.calls == []


async def test_it_lists_the_daily_digest_for_the_team_group(env, engine, sim):
    async with make_sessionmaker(engine)() as session, session.begin():
        await team.bind_group(session, GROUP_ID, "运营部", 1001)
    lines = await _due(env, "2026-12-07 18:30")
    assert any(
        line.startswith(f"digest daily 2026-12-07 → team group ({GROUP_ID}): ") for line in lines
    ), lines
    assert await _kept(engine) == (0, 0)
    assert sim.calls == []


async def test_what_it_lists_is_what_the_tick_then_sends(env, engine, sim, channel_manager):
    channel_manager.started = True  # they opened the chat with the bot long ago
    predicted = [line for line in await _due(env, "2026-12-07 17:00") if "remind" in line]
    code, _, err = await run_opsbot("jobs", "run", "tick", "--at", "2026-12-07 17:00", env=env)
    assert code == 0, err
    assert len(channel_manager.inbox) == 1
    assert predicted == [f"remind 王伟 (2002): {DAILY} 2026-12-07 — before-due step: "
                         f"{channel_manager.inbox[-1].plain.splitlines()[0]}"]  # fmt: skip
    kept, calls = await _kept(engine), len(sim.calls)
    assert kept[0] > 0 and kept[1] >= 1
    # The tick has sent it, so the next minute has nothing for 王伟, and changes nothing.
    lines = await _due(env, "2026-12-07 17:01")
    assert lines[1:] == ["nothing is due"]
    assert await _kept(engine) == kept and len(sim.calls) == calls


async def test_it_refuses_a_database_without_the_schema_and_leaves_it_so(tmp_path):
    env = opsbot_env(None, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    code, _, err = await run_opsbot("jobs", "due", "--at", "2026-12-07 17:00", env=env)
    assert code == 1 and "opsbot db upgrade" in err and "Traceback" not in err
    code, out, _ = await run_opsbot("db", "current", env=env)
    assert code == 0 and "base" in out


def _what(changes: tick_changes.Changes) -> dict[str, list]:
    """The changes without row ids (PostgreSQL does not give back ids a rollback used)."""

    def obligation(row):
        return row.staff_id, row.form_key, row.period_key, row.due_at, row.status

    def message(row):
        payload = {k: v for k, v in row.payload.items() if k != "photo_b64"}  # a PNG's bytes
        return row.dedup_key, row.chat_id, row.method, payload

    return {
        "created": [obligation(row) for row in changes.created],
        "closed": [obligation(row) for row in changes.closed],
        "messages": [message(row) for row in changes.messages],
        "plans": changes.plans,
    }


async def test_the_dry_run_and_a_real_tick_find_the_same_things_due(
    app, sim, sessions, director, channel_manager
):
    channel_manager.started = True
    with time_machine.travel(local("2026-11-26 09:00"), tick=False):  # a Thursday
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        group = sim.group(id=GROUP_ID, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
        await tick(app.bot_data, app.bot)  # the week's obligations
    # The next Monday: last week's reports close as missed and their next-morning reminders go,
    # the week's digest is due, and today's reports are created.
    at = local("2026-11-30 09:00:40")
    with time_machine.travel(at, tick=False):
        predicted = await dry_run(app.bot_data, at)
        async with sessions() as session:
            before = await tick_changes.snapshot(session)
        await tick(app.bot_data, app.bot)
        async with sessions() as session:
            done = await tick_changes.since(session, before)
    assert _what(predicted) == _what(done)
    keys = [row.dedup_key for row in done.messages]
    assert done.created and done.closed, _what(done)
    assert any(key.startswith("digest:weekly:2026-W48") for key in keys), keys
    assert any(key.startswith("nag:") for key in keys), keys
