"""Task reminders through the simulator: the reports' ladder, quiet hours, done before the
deadline, escalation to the directors, leave, two processes ticking at once."""

import asyncio
from functools import partial

import pytest
import time_machine
from sqlalchemy import select
from support import another_process, local, make_staff
from test_tasks import CARD_LABELS

from bot.db import transaction
from bot.models import Outbox
from bot.services import leave, task_reminders
from bot.services import staff as staff_service
from jobs.tick import enqueue_due, tick

# Monday 7 December 2026, 10:00 in Shanghai; the task is due Tuesday 8 December 17:00.
MONDAY = local("2026-12-07 10:00")


@pytest.fixture
async def team(app, sim, sessions, director, channel_manager):
    """张总 assigns 王伟 a task due tomorrow (Tuesday) 17:00."""
    with time_machine.travel(MONDAY, tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
        await director.send("/assign @wangwei 整理沈阳物业渠道名单 明天下午5点")
        await director.press(director.inbox[-1], "✅ 发送")
    assert "12月8日（周二）17:00" in channel_manager.inbox[-1].plain
    return director, channel_manager


async def at(app, when: str) -> None:
    """One tick at a team-local moment."""
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


def nags(person, marks="⏰⚠🔔🚨🏖") -> list[str]:
    return [m.plain for m in person.inbox if m.plain[:1] in marks and "任务 #" in m.plain]


async def test_before_at_and_the_next_morning_each_once_across_ticks(app, team):
    director, wang = team
    for moment in ("2026-12-08 15:00", "2026-12-08 16:05", "2026-12-08 16:30",
                   "2026-12-08 17:01", "2026-12-08 17:30", "2026-12-09 09:00",
                   "2026-12-09 09:31", "2026-12-09 09:45", "2026-12-09 15:00"):  # fmt: skip
        await at(app, moment)
    before, due, overdue = nags(wang)
    assert "快到截止时间" in before and "今天 17:00" in before
    assert "已到截止时间" in due and "整理沈阳物业渠道名单" in due
    assert "已逾期" in overdue and "昨天 17:00" in overdue
    assert wang.inbox[-1].labels == CARD_LABELS
    assert not nags(director)  # one working day late: not the directors' business yet


async def test_quiet_hours_hold_the_reminder_until_the_morning(app, team):
    _, wang = team
    await at(app, "2026-12-08 23:30")
    assert not nags(wang)
    await at(app, "2026-12-09 08:05")  # only the latest step that applies
    (sent,) = nags(wang)
    assert "已到截止时间" in sent and "昨天 17:00" in sent


async def test_done_before_the_deadline_drops_the_queued_reminder_and_sends_no_more(
    app, sessions, team
):
    director, wang = team
    step = partial(transaction, sessions)
    with time_machine.travel(local("2026-12-08 16:05"), tick=False):  # queued, not sent
        assert await enqueue_due(app.bot_data, local("2026-12-08 16:05"), step) >= 1
    with time_machine.travel(local("2026-12-08 16:10"), tick=True):
        card = next(m for m in reversed(wang.inbox) if "✅ 完成" in m.labels)
        await wang.press(card, "✅ 完成")
    for moment in ("2026-12-08 16:15", "2026-12-08 17:01", "2026-12-09 09:31", "2026-12-10 09:31"):
        await at(app, moment)
    assert not nags(wang) and not nags(director)
    async with sessions() as s:
        row = await s.scalar(select(Outbox).where(Outbox.about.like("tasknag:%")))
    assert row.status == "cancelled" and row.last_error.startswith("no longer wanted: tasknag:")


async def test_still_open_two_working_days_late_goes_to_the_directors_once(app, team):
    director, wang = team
    for moment in ("2026-12-08 17:01", "2026-12-09 09:31", "2026-12-10 09:00"):
        await at(app, moment)
    assert not nags(director)
    for moment in ("2026-12-10 09:31", "2026-12-10 09:40", "2026-12-11 09:31"):
        await at(app, moment)
    (escalated,) = nags(director, "🚨")
    assert "王 伟 的任务 #1 已逾期 2 个工作日" in escalated and "整理沈阳物业渠道名单" in escalated
    assert not nags(wang, "🚨")


async def test_leave_pauses_reminders_and_tells_the_assigner_once(app, sessions, team):
    director, wang = team
    with time_machine.travel(MONDAY, tick=True):
        async with sessions() as s, s.begin():
            person = await staff_service.by_telegram_id(s, wang.id)
            start = local("2026-12-08 09:00").date()
            await leave.add(s, person, start, local("2026-12-09 09:00").date(), person,
                            today=MONDAY.date())  # fmt: skip
    for moment in ("2026-12-08 16:05", "2026-12-08 17:01", "2026-12-09 09:31"):
        await at(app, moment)
    assert not nags(wang)
    (told,) = nags(director, "🏖")
    assert "王 伟 正在休假" in told and "#1" in told
    await at(app, "2026-12-10 09:05")  # back: the latest step that applies
    (back,) = nags(wang)
    assert "已逾期" in back


@pytest.mark.databases
async def test_two_processes_ticking_at_once_send_each_reminder_once(
    app, sim, settings, engine, team
):
    _, wang = team
    async with another_process(sim, settings, engine) as fresh:
        for moment in ("2026-12-08 16:05", "2026-12-08 17:01", "2026-12-09 09:31"):
            with time_machine.travel(local(moment), tick=False):
                await asyncio.gather(tick(app.bot_data, app.bot), tick(fresh.bot_data, fresh.bot))
    assert len(nags(wang)) == 3


async def test_a_postponement_approved_starts_a_new_ladder_and_drops_the_old_one(
    app, sessions, team
):
    director, wang = team
    await at(app, "2026-12-08 16:05")
    async with sessions() as s:
        old = (await s.scalar(select(Outbox).where(Outbox.about.like("tasknag:%")))).about
    with time_machine.travel(local("2026-12-08 16:10"), tick=True):
        card = next(m for m in reversed(wang.inbox) if "🕒 申请延期" in m.labels)
        await wang.press(card, "🕒 申请延期")
        await wang.send("周四下午5点")
        await wang.send("物业明天才回复")
        await director.press(director.inbox[-1], "✅ 批准")
    assert "12月10日（周四）17:00" in wang.inbox[-1].plain
    async with sessions() as s:  # a row still queued for the old deadline would be dropped
        assert not await task_reminders.still_wanted(s, old)
    for moment in ("2026-12-08 17:01", "2026-12-09 09:31", "2026-12-10 16:05", "2026-12-10 16:30"):
        await at(app, moment)
    # The old deadline's gentle step (Tuesday), nothing at it or after; the new one's (Thursday).
    sent = nags(wang)
    assert len(sent) == 2 and all("快到截止时间" in n and "今天 17:00" in n for n in sent)
