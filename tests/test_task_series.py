"""Recurring tasks through the simulator: /assign … 每周一 10:00 confirmed, one task per working
day it falls on (a holiday skipped, a 调休 Saturday worked), created once when two processes
tick, stopped from /tasks, handed over with the rest; the recurrence reader on its own."""

import asyncio
from datetime import date, time

import pytest
import time_machine
from sqlalchemy import select
from support import another_process, local, make_staff
from test_tasks import CARD_LABELS

from bot.calendar import WorkCalendar
from bot.models import Task, TaskSeries
from bot.services import handover, recurrence
from bot.services import staff as staff_service
from bot.services.recurrence import MONTH, WEEK, WORKDAY, RecurrenceError, Rule
from jobs.tick import tick

# Monday 7 December 2026, 08:00 in Shanghai (the morning nudge is at 09:30).
MONDAY = local("2026-12-07 08:00")
# Friday 18 December is a holiday and Saturday 19 December a 调休 working day in these tests.
HOLIDAY, SWAPPED = date(2026, 12, 18), date(2026, 12, 19)


@pytest.fixture
async def team(app, sim, sessions, director, channel_manager):
    """张总 and 王伟 (@wangwei), on a calendar with one holiday Friday and one working Saturday."""
    app.bot_data.calendar = WorkCalendar(extra_holidays=[HOLIDAY], extra_workdays=[SWAPPED])
    with time_machine.travel(MONDAY, tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
    return director, channel_manager


async def at(app, when: str) -> None:
    """One tick at a team-local moment."""
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


async def _start(director, text: str) -> None:
    with time_machine.travel(MONDAY, tick=True):
        await director.send(text)
        card = director.inbox[-1]
        await director.press(card, "✅ 发送")


def cards(person) -> list[str]:
    return [m.plain for m in person.inbox if "周期任务" in m.plain and "任务：" in m.plain]


async def _tasks(sessions) -> list[Task]:
    async with sessions() as s:
        return list(await s.scalars(select(Task).order_by(Task.id)))


@pytest.mark.databases
async def test_weekly_task_confirmed_then_one_task_each_monday_morning(app, team, sessions):
    director, wang = team
    with time_machine.travel(MONDAY, tick=True):
        await director.send("/assign @wangwei 周报汇总 每周一 10:00")
    card = director.inbox[-1]
    assert "周期任务" in card.plain and "每周一 10:00" in card.plain
    assert "下一次：12月7日（周一）10:00" in card.plain and "休息日跳过" in card.plain
    assert card.labels == ["✅ 发送", "✖ 取消"]
    assert not cards(wang)  # nothing before the confirmation

    with time_machine.travel(MONDAY, tick=True):
        await director.press(card, "✅ 发送")
    assert "🔁 已为 王 伟 开启周期任务。" in director.inbox[-1].plain
    assert director.inbox[-1].labels == ["⏹ 停止重复"]
    await at(app, "2026-12-07 08:30")
    assert not cards(wang)  # the morning has not come
    await at(app, "2026-12-07 09:30")
    (first,) = cards(wang)
    assert "张 总 交办的周期任务" in first and "周报汇总" in first
    assert "12月7日（周一）10:00" in first and "重复：每周一 10:00" in first
    assert wang.inbox[-1].labels == CARD_LABELS
    for moment in ("2026-12-07 11:00", "2026-12-10 09:30", "2026-12-14 09:29"):
        await at(app, moment)
    assert len(cards(wang)) == 1
    await at(app, "2026-12-14 09:31")
    assert len(cards(wang)) == 2 and "12月14日（周一）10:00" in cards(wang)[-1]

    found = await _tasks(sessions)
    assert [t.status for t in found] == ["open", "open"]
    assert len({t.series_id for t in found}) == 1 and found[0].series_id is not None


async def test_a_holiday_is_skipped_and_a_swapped_saturday_is_worked(app, team, sessions):
    director, _wang = team
    await _start(director, "/assign @wangwei 日报汇总 每天 17:00")
    days = []
    for day in range(7, 22):
        await at(app, f"2026-12-{day:02d} 09:31")
    for task in await _tasks(sessions):
        days.append(task.deadline.astimezone(local("2026-12-07 00:00").tzinfo).date())
    assert HOLIDAY not in days  # the holiday Friday has no task
    assert SWAPPED in days  # the 调休 Saturday has one
    assert date(2026, 12, 13) not in days  # an ordinary Sunday has none
    assert len(days) == len(set(days)) == 11


async def test_weekly_on_fridays_skips_the_holiday_friday(app, team, sessions):
    director, _wang = team
    await _start(director, "/assign @wangwei 渠道周复盘 每周五 16:00")
    for day in (11, 18, 25):
        await at(app, f"2026-12-{day:02d} 09:31")
    deadlines = [t.deadline for t in await _tasks(sessions)]
    assert deadlines == [local("2026-12-11 16:00"), local("2026-12-25 16:00")]


async def test_stopped_from_tasks_no_more_occurrences_and_the_assignee_is_told(
    app, team, sessions, sim
):
    director, wang = team
    await _start(director, "/assign @wangwei 周报汇总 每周一 10:00")
    await at(app, "2026-12-07 09:31")
    with time_machine.travel(local("2026-12-08 10:00"), tick=True):
        await director.send("/tasks")
        listing = director.inbox[-1]
        assert "周期任务" in listing.plain and "每周一 10:00" in listing.plain
        await wang.send("/tasks")
        assert "每周一 10:00" in wang.inbox[-1].plain and not wang.inbox[-1].buttons
        await director.press(listing, "⏹ 停止：周报汇总")
    stopped = sim.message(listing.chat_id, listing.message_id)
    assert "⏹ 周期任务已停止；已发出的任务仍需完成。" in stopped.plain and not stopped.buttons
    assert "张 总 停止了周期任务「周报汇总」" in wang.inbox[-1].plain
    await at(app, "2026-12-14 09:31")
    found = await _tasks(sessions)
    assert len(found) == 1 and found[0].status == "open"  # the one sent stays open
    async with sessions() as s:
        assert (await s.scalar(select(TaskSeries))).status == "stopped"


@pytest.mark.databases
async def test_a_manager_cannot_stop_a_series_nor_press_a_stale_stop(app, team, sessions, sim):
    director, wang = team
    await _start(director, "/assign @wangwei 周报汇总 每周一 10:00")
    started = director.inbox[-1]
    async with sessions() as s:
        series = await s.scalar(select(TaskSeries))
    from bot.services.task_series import STOP

    forged = await wang.press_data(wang.inbox[-1].message_id, wang.id, STOP.pack(series.id, 2))
    assert forged.show_alert and "不由你" in forged.text  # not his to stop: refused
    with time_machine.travel(MONDAY, tick=True):
        await director.press(started, "⏹ 停止重复")
        answer = await director.press_data(started.message_id, director.id, STOP.pack(series.id, 2))
    assert answer.show_alert and "过期" in answer.text


@pytest.mark.databases
async def test_two_processes_ticking_at_once_create_each_occurrence_once(
    app, sim, settings, engine, team, sessions
):
    director, wang = team
    await _start(director, "/assign @wangwei 周报汇总 每周一 10:00")
    async with another_process(sim, settings, engine) as fresh:
        fresh.bot_data.calendar = app.bot_data.calendar
        for moment in ("2026-12-07 09:31", "2026-12-14 09:31"):
            with time_machine.travel(local(moment), tick=False):
                await asyncio.gather(tick(app.bot_data, app.bot), tick(fresh.bot_data, fresh.bot))
    assert len(await _tasks(sessions)) == 2
    assert len(cards(wang)) == 2


async def test_downtime_skips_occurrences_already_past(app, team, sessions):
    director, _wang = team
    await _start(director, "/assign @wangwei 日报汇总 每天 17:00")
    await at(app, "2026-12-07 09:31")
    await at(app, "2026-12-10 18:00")  # nothing ran Tuesday to Thursday evening
    assert len(await _tasks(sessions)) == 1  # not three tasks already overdue
    await at(app, "2026-12-11 09:31")
    assert len(await _tasks(sessions)) == 2


async def test_guided_assign_takes_a_recurrence_as_the_deadline(app, team, sessions):
    director, _wang = team
    with time_machine.travel(MONDAY, tick=True):
        await director.send("/assign")
        await director.press(director.inbox[-1], "王 伟")
        await director.send("周报汇总")
        await director.send("每周一三五 下午5点")
    card = director.inbox[-1]
    assert "每周一、周三、周五 17:00" in card.plain and card.labels == ["✅ 发送", "✖ 取消"]


async def test_unreadable_recurrences_say_how_to_write_them(app, team, sessions):
    director, _ = team
    with time_machine.travel(MONDAY, tick=True):
        await director.send("/assign @wangwei 周报汇总 每周一 早点")
        assert "每周一 10:00" in director.inbox[-1].plain  # how to write it
        await director.send("/assign @wangwei 月度复盘 每月32日")
        assert "不是一个月中的日子" in director.inbox[-1].plain
    async with sessions() as s:
        assert await s.scalar(select(TaskSeries)) is None


async def test_handed_over_series_follow_the_successor(app, team, sessions, sim, settings):
    director, _wang = team
    await _start(director, "/assign @wangwei 周报汇总 每周一 10:00")
    successor = sim.user(3003, "李", "娜", username="lina")
    await make_staff(sessions, successor, "channel")
    async with sessions() as s, s.begin():
        source = await staff_service.by_handle(s, "@wangwei")
        target = await staff_service.by_handle(s, "@lina")
        moved = await handover.move_tasks(s, source.id, target.id, actor=None,
                                          tz=settings.team.tz)  # fmt: skip
    assert moved == 1
    await at(app, "2026-12-14 09:31")
    async with sessions() as s:
        series = await s.scalar(select(TaskSeries))
        newest = await s.scalar(select(Task).order_by(Task.id.desc()))
    assert series.assignee_id == newest.assignee_id
    assert newest.deadline == local("2026-12-14 10:00")


# ---- the reader on its own -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "every", "days", "at"),
    [
        ("每周一 10:00", WEEK, (0,), time(10)),
        ("每周一三五 下午5点", WEEK, (0, 2, 4), time(17)),
        ("每周一、周四", WEEK, (0, 3), time(18)),
        ("每星期五 9点半", WEEK, (4,), time(9, 30)),
        ("每天 17:00", WORKDAY, (), time(17)),
        ("每个工作日", WORKDAY, (), time(18)),
        ("每月1日", MONTH, (1,), time(18)),
        ("每月十五号 10点", MONTH, (15,), time(10)),
        ("every Monday 5pm", WEEK, (0,), time(17)),
        ("every mon and thu 10:00", WEEK, (0, 3), time(10)),
        ("daily", WORKDAY, (), time(18)),
    ],
)
def test_recurrences_read_as_people_type_them(text, every, days, at):
    assert recurrence.parse(text) == Rule(every, days, at)


@pytest.mark.parametrize("text", ["周五下午5点", "明天", "12月10日", "every 3 days", "3天后"])
def test_a_plain_deadline_is_not_a_recurrence(text):
    assert recurrence.parse(text) is None


def test_a_monthly_day_off_moves_to_the_next_working_day_and_a_short_month_to_its_end():
    cal = WorkCalendar(provider=lambda d: d.weekday() < 5)
    rule = recurrence.parse("每月31日")
    assert rule.next_on(date(2027, 1, 30), cal) == date(2027, 2, 1)  # 31 Jan 2027: a Sunday
    assert rule.next_on(date(2027, 2, 2), cal) == date(2027, 3, 1)  # 28 Feb 2027: a Sunday
    assert rule.next_on(date(2027, 4, 1), cal) == date(2027, 4, 30)
    with pytest.raises(RecurrenceError):
        recurrence.parse("每周一 早点")
