"""Replicas as real processes: `opsbot jobs run tick` three at a time on one database."""

import asyncio
from collections import Counter

import pytest
import time_machine
from support import local, make_staff, opsbot_env, run_opsbot

from jobs.tick import tick

pytestmark = [pytest.mark.databases, pytest.mark.slow]

PEOPLE = 40
GROUP = -8101


async def ticks_together(sim, db_url: str, at: str, processes: int = 3) -> None:
    """`processes` OS processes tick at the same team-local minute, concurrently."""
    env = opsbot_env(sim, db_url, OPSBOT_TEAM__DIRECTORS="[1001]")
    results = await asyncio.gather(
        *(run_opsbot("jobs", "run", "tick", "--at", at, env=env) for _ in range(processes))
    )
    for code, _, err in results:
        assert code == 0, err


async def test_three_processes_ticking_together_send_each_reminder_and_digest_once(
    app, sim, sessions, db_url, director
):
    people = [sim.user(id=60_000 + i, first_name=f"员工{i:02d}", language_code="zh")
              for i in range(PEOPLE)]  # fmt: skip
    with time_machine.travel(local("2026-11-20 09:00"), tick=True):
        for person in people:
            await make_staff(sessions, person, "channel")
            await person.send("/start")  # Telegram lets a bot write only to who started it
        await director.send("/start")
        group = sim.group(id=GROUP, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
    with time_machine.travel(local("2026-11-26 10:00"), tick=False):
        await tick(app.bot_data, app.bot)  # today's obligations exist; nothing is due yet
    before = {p.id: len(p.inbox) for p in people}

    await ticks_together(sim, db_url, "2026-11-26 18:05")  # overdue: one reminder each
    # The sender lease of whichever process sent lasts 90 s; a tick five minutes later (any
    # process) takes it over and sends what the others queued meanwhile.
    await ticks_together(sim, db_url, "2026-11-26 18:10", processes=1)
    reminders = Counter()
    for p in people:
        for message in p.inbox[before[p.id] :]:
            reminders[(p.id, message.plain)] += 1
    assert len(reminders) == PEOPLE  # one kind of message per person: the overdue reminder
    assert set(reminders.values()) == {1}  # each exactly once
    assert all("渠道拓展日报" in text for _, text in reminders)

    group_before = len(sim.messages(GROUP))
    await ticks_together(sim, db_url, "2026-11-26 18:31")  # the daily digest is due
    await ticks_together(sim, db_url, "2026-11-26 18:36", processes=1)
    digests = [m.plain for m in sim.messages(GROUP)[group_before:]]
    assert len(digests) == 1 and "每日简报 · 2026年11月26日（周四）" in digests[0]
    assert f"未提交（{PEOPLE}）" in digests[0]
