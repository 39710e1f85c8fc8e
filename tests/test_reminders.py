"""Reminders through a real week: the ladder, quiet hours, catch-up, holidays, escalation."""

from datetime import datetime

import pytest
import time_machine
from sqlalchemy import select
from support import TZ, local, make_staff

from bot.models import ActivityPlan, Staff
from bot.services import activities
from jobs.tick import tick

pytestmark = pytest.mark.databases

ONE_MESSAGE = """/daily
新增入库渠道数：0
洽谈中的渠道数：0
今日签约数：0
今日交付/上线数：0
渠道带来的下载量：0
渠道带来的注册量：0
下一个工作日计划：拜访"""


async def at(app, text: str) -> None:
    """One tick at a team-local moment."""
    with time_machine.travel(local(text), tick=False):
        await tick(app.bot_data, app.bot)


def nags(person) -> list[str]:
    return [m.plain for m in person.inbox if m.plain[:1] in "⏰⚠🔔"]


@pytest.fixture
async def wang(app, sessions, channel_manager, director):
    with time_machine.travel(local("2026-09-21 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
    return channel_manager


async def test_the_ladder_gentle_then_overdue_then_next_morning_each_once(app, wang):
    for moment in ("2026-09-29 16:30", "2026-09-29 17:05", "2026-09-29 17:06",
                   "2026-09-29 18:01", "2026-09-29 18:30", "2026-09-30 09:31",
                   "2026-09-30 09:40"):  # fmt: skip
        await at(app, moment)
    sent = nags(wang)
    assert len(sent) == 3
    assert "快到截止时间" in sent[0] and "已逾期" in sent[1] and "还没有提交" in sent[2]
    assert "2026年9月29日" in sent[2]


async def test_each_reminder_says_when_it_is_due_and_until_when_it_can_still_be_filed(app, wang):
    for moment in ("2026-09-29 16:30", "2026-09-29 17:05", "2026-09-29 18:01", "2026-09-30 09:31"):
        await at(app, moment)
    gentle, overdue, next_day = [n for n in nags(wang) if "渠道拓展日报" in n]
    assert "快到截止时间了（今天 18:00 截止）" in gentle
    assert "已逾期（今天 18:00 截止）。明天 12:00 前仍可发送 /daily 补交" in overdue
    assert "今天 12:00 前仍可发送 /daily 补交，记为迟交；之后将记为缺报。" in next_day


async def test_the_weekly_reminder_names_the_weekday_it_closes_and_english_reads_english(
    app, sessions, wang
):
    from bot.services import staff as staff_service

    async with sessions() as s, s.begin():
        (await staff_service.by_telegram_id(s, wang.id)).locale = "en"
    await at(app, "2026-09-24 12:00")
    # Due on the week's last working day (Thursday: Friday is 中秋), closes Monday 12:00.
    await at(app, "2026-09-24 17:05")
    weekly = [n for n in nags(wang) if "user-feedback" in n]
    assert len(weekly) == 1
    assert "it was due today at 17:00" in weekly[0] and "until Mon at 12:00" in weekly[0]
    assert "recorded as missed" in weekly[0]


def test_a_moment_further_than_a_week_away_is_given_with_its_date():
    from bot.services.reminders import when

    now = local("2026-09-29 10:00")
    assert when(local("2026-10-08 12:00"), now, TZ, "zh") == "10月8日（周四）12:00"
    assert when(local("2026-10-02 09:00"), now, TZ, "zh") == "周五 09:00"
    assert when(local("2026-09-29 02:00"), now, TZ, "en") == "today at 02:00"
    assert when(local("2026-09-28 18:00"), now, TZ, "zh") == "昨天 18:00"


async def test_filing_stops_the_ladder(app, wang):
    await at(app, "2026-09-29 17:05")
    with time_machine.travel(local("2026-09-29 17:30"), tick=True):
        await wang.send(ONE_MESSAGE)
        await wang.press(wang.inbox[-1], "✅ 提交")
    await at(app, "2026-09-29 18:05")
    await at(app, "2026-09-30 09:35")
    assert len([n for n in nags(wang) if "2026年9月29日" in n]) == 1  # only the gentle one


async def test_quiet_hours_hold_reminders_until_morning(app, wang):
    await at(app, "2026-09-29 12:00")  # obligations exist, nothing due yet
    await at(app, "2026-09-29 23:00")  # overdue, but quiet
    assert nags(wang) == []
    await at(app, "2026-09-30 08:05")
    assert len(nags(wang)) == 1 and "已逾期" in nags(wang)[0]


async def test_after_downtime_only_the_latest_step_is_sent(app, wang):
    await at(app, "2026-09-29 12:00")
    await at(app, "2026-09-30 10:00")  # down from noon until the next morning
    sent = [n for n in nags(wang) if "2026年9月29日" in n]
    assert len(sent) == 1 and "还没有提交" in sent[0]


async def test_no_reminders_in_golden_week_but_one_on_the_make_up_saturday(app, wang):
    for day in ("2026-10-02", "2026-10-05", "2026-10-07"):
        await at(app, f"{day} 17:30")
    assert not [n for n in nags(wang) if "2026年10月" in n and "日（" in n]
    await at(app, "2026-10-10 17:30")  # 调休 Saturday
    assert any("2026年10月10日" in n for n in nags(wang))


async def test_two_misses_in_a_row_are_escalated_to_the_directors_once(app, wang, director):
    for moment in ("2026-09-28 12:00", "2026-09-29 12:01", "2026-09-29 12:05",
                   "2026-09-30 12:01", "2026-09-30 12:05"):  # fmt: skip
        await at(app, moment)
    escalations = [m.plain for m in director.inbox if "连续多次未提交" in m.plain]
    assert len(escalations) == 1 and "王 伟" in escalations[0] and "连续 2 期" in escalations[0]
    assert "最近一期：2026年9月29日（周二）" in escalations[0] and "/team" in escalations[0]


async def test_directors_are_reminded_of_plans_near_their_deadline(
    app, sessions, wang, director, channel_manager
):
    with time_machine.travel(local("2026-09-28 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel", "activity")
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
            form = app.bot_data.settings.reports.form("activity_plan")
            answers = {
                "title": "国庆地推", "purpose": "拉新", "mode": "offline",
                "targets": [{"indicator": "注册", "target": "300", "unit": "人"}],
                "start_date": "2026-10-08", "end_date": "2026-10-09", "region": "shenyang",
                "budget": 0, "expected_return": "注册", "risks": "天气",
            }  # fmt: skip
            await activities.submit(s, me, form, answers, reports=app.bot_data.settings.reports,
                                    today=datetime(2026, 9, 28).date())  # fmt: skip
    await at(app, "2026-09-28 10:01")  # deadline set: 2026-09-29 10:00
    await at(app, "2026-09-29 08:30")  # within two hours of it
    await at(app, "2026-09-29 09:00")  # same half-day, still before: nothing new
    await at(app, "2026-09-29 10:05")  # the deadline has just passed
    await at(app, "2026-09-29 11:00")  # same half-day: nothing new
    await at(app, "2026-09-29 14:00")  # afternoon: still waiting, reminded again
    reminders = [m.plain for m in director.inbox if "等待你审批" in m.plain]
    assert len(reminders) == 3
    assert "请在 今天 10:00 前审批" in reminders[0]
    assert "已超过审批时限（今天 10:00）" in reminders[1]
    assert "超过审批时限" in reminders[2]
    async with sessions() as s:
        assert (await s.scalar(select(ActivityPlan))).decide_by is not None


async def test_nobody_is_nagged_on_leave(app, wang):
    with time_machine.travel(local("2026-09-28 10:00"), tick=True):
        await wang.send("/leave 09-29 09-29")
    await at(app, "2026-09-29 17:05")
    await at(app, "2026-09-29 18:05")
    assert not [n for n in nags(wang) if "2026年9月29日" in n]


async def test_a_restart_in_the_middle_of_the_ladder_repeats_nothing_and_skips_nothing(
    app, sim, settings, engine, wang
):
    from support import another_process

    await at(app, "2026-09-29 17:05")  # gentle, from the first process
    async with another_process(sim, settings, engine) as fresh:
        for moment in ("2026-09-29 17:10", "2026-09-29 18:05", "2026-09-30 09:35"):
            with time_machine.travel(local(moment), tick=False):
                await tick(fresh.bot_data, fresh.bot)
    sent = [n for n in nags(wang) if "2026年9月29日" in n]
    assert len(sent) == 3


async def test_two_processes_ticking_at_once_send_each_reminder_once(
    app, sim, settings, engine, wang
):
    import asyncio

    from support import another_process

    await at(app, "2026-09-29 12:00")
    async with another_process(sim, settings, engine) as fresh:
        with time_machine.travel(local("2026-09-29 18:05"), tick=False):
            await asyncio.gather(tick(app.bot_data, app.bot), tick(fresh.bot_data, fresh.bot))
    assert len([n for n in nags(wang) if "2026年9月29日" in n]) == 1


async def test_a_year_the_calendar_does_not_know_still_gets_reminders(app, wang):
    await at(app, "2027-01-04 12:00")  # Monday, from the Monday–Friday fallback
    await at(app, "2027-01-04 17:05")
    assert any("2027年1月4日" in n for n in nags(wang))


async def test_one_broken_reminder_does_not_stop_the_others(app, sessions, wang, monkeypatch):
    from bot.services import reminders

    await at(app, "2026-09-29 12:00")
    calls = {"n": 0}
    real = reminders._send_nag

    async def flaky(session, nag, forms):
        calls["n"] += 1
        if nag.obligation.period_key == "2026-09-29":
            raise RuntimeError("broken row")
        return await real(session, nag, forms)

    monkeypatch.setattr(reminders, "_send_nag", flaky)
    await at(app, "2026-09-29 17:05")
    monkeypatch.undo()
    await at(app, "2026-09-29 17:10")  # pushed past that step: not retried
    assert calls["n"] >= 1
    assert not [n for n in nags(wang) if "2026年9月29日" in n and "快到截止" in n]


@pytest.mark.slow
async def test_jobs_due_lists_what_would_be_sent_without_sending(app, sim, db_url, wang):
    from support import opsbot_env, run_opsbot

    await at(app, "2026-09-29 12:00")
    before = len(wang.inbox)
    env = opsbot_env(sim, db_url, OPSBOT_TEAM__DIRECTORS="[1001]")
    code, out, err = await run_opsbot("jobs", "due", "--at", "2026-09-29 18:05", env=env)
    assert code == 0, err
    assert "remind 王 伟 (2002): 渠道拓展日报 2026-09-29 — overdue step: ⚠️" in out
    assert len(wang.inbox) == before
    code, out, _ = await run_opsbot("jobs", "due", "--at", "2026-09-29 23:30", env=env)
    assert "quiet hours" in out


async def test_a_deactivated_person_is_not_nagged(app, sessions, wang):
    from bot.services import staff as staff_service

    await at(app, "2026-09-29 12:00")
    async with sessions() as s, s.begin():
        person = await staff_service.by_telegram_id(s, wang.id)
        person.active = False
    await at(app, "2026-09-29 18:05")
    assert nags(wang) == []


async def test_a_form_removed_from_config_sends_nothing_and_breaks_nothing(app, wang):
    await at(app, "2026-09-29 12:00")
    settings = app.bot_data.settings
    weekly_only = settings.reports.model_copy(
        update={"forms": (settings.reports.form("weekly_feedback"),)}
    )
    app.bot_data.settings = settings.model_copy(update={"reports": weekly_only})
    await at(app, "2026-09-29 18:05")
    assert not [n for n in nags(wang) if "渠道拓展日报" in n]


async def test_a_clock_jumping_back_repeats_nothing(app, wang):
    await at(app, "2026-09-29 18:05")
    await at(app, "2026-09-29 17:05")  # the clock was set back an hour
    await at(app, "2026-09-29 18:10")
    assert len([n for n in nags(wang) if "2026年9月29日" in n and "渠道拓展日报" in n]) == 1
