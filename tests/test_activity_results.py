"""After an activity: the proposer is asked for results, files them, the directors get a review."""

from datetime import datetime

import pytest
import time_machine
from sqlalchemy import select
from support import TZ, local, make_staff

from bot import sender
from bot.models import ActivityPlan, Staff
from bot.services import activities
from bot.services.activity_results import effects
from bot.telegram_io import TelegramTransport
from jobs.tick import tick

pytestmark = pytest.mark.databases

ANSWERS = {
    "title": "周末缴费送积分", "purpose": "拉新", "mode": "online",
    "targets": [{"indicator": "下载量", "target": "5000", "unit": "次"}],
    "start_date": "2026-12-01", "end_date": "2026-12-07", "region": "shenyang",
    "budget": 300_000, "expected_return": "注册 800", "risks": "刷分",
}  # fmt: skip


def q(person) -> str:
    return person.inbox[-1].plain


@pytest.fixture
async def approved_plan(app, sim, sessions, channel_manager, director):
    """An approved plan of the channel manager, 1–7 Dec, with a bound team group."""
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "activity")
        await director.send("/start")
        await channel_manager.send("/start")
        group = sim.group(id=-9201, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
            boss = await s.scalar(select(Staff).where(Staff.telegram_id == director.id))
            form = app.bot_data.settings.reports.form("activity_plan")
            cfg = app.bot_data.settings.reports
            plan = await activities.submit(
                s, me, form, dict(ANSWERS), reports=cfg, today=datetime(2026, 11, 26).date()
            )
            day = datetime(2026, 11, 26).date()
            await activities.decide(s, plan.id, plan.version, boss, "approved", today=day)
        await sender.deliver(sessions, TelegramTransport(app.bot))
    return plan.id


async def test_results_are_asked_for_after_the_end_and_close_the_plan(
    app, sim, sessions, approved_plan, channel_manager, director
):
    with time_machine.travel(local("2026-12-08 10:00"), tick=True):
        await tick(app.bot_data, app.bot)
        assert "已结束" in q(channel_manager) and "/results" in q(channel_manager)

        await channel_manager.send("/results")
        assert "下载量 0 次" in q(channel_manager)  # pre-filled with the plan's targets
        await channel_manager.send("下载量 4200 次")
        await channel_manager.send("2800")
        await channel_manager.send("社群裂变效果好")
        await channel_manager.send("提前两周预热")
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")

    assert "计划已完成" in q(channel_manager) or "已完成" in q(channel_manager)
    review = director.inbox[-1].plain
    assert "下载量" in review and "84%" in review and "¥2,800.00" in review
    assert "已完成" in sim.messages(-9201)[-1].plain or "完成" in sim.messages(-9201)[-1].plain
    async with sessions() as s:
        plan = await s.get(ActivityPlan, approved_plan)
    assert plan.status == "completed" and plan.actual_cost_fen == 280_000
    (effect,) = effects(plan)
    assert str(effect.ratio) == "0.84"


async def test_results_are_asked_once(app, sessions, approved_plan, channel_manager):
    with time_machine.travel(local("2026-12-08 10:00"), tick=True):
        await tick(app.bot_data, app.bot)
        asked = len(channel_manager.inbox)
        await tick(app.bot_data, app.bot)
    assert len(channel_manager.inbox) == asked


async def test_results_before_the_end_are_not_owed(app, sessions, approved_plan, channel_manager):
    with time_machine.travel(local("2026-12-03 10:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await channel_manager.send("/results")
    assert "没有等待统计效果的活动" in q(channel_manager)


async def test_a_pending_plan_gets_a_decision_deadline_one_working_day_later(
    app, sessions, channel_manager, director
):
    from bot.services.activities import decision_deadline

    # Friday 15:00 -> the next working day, Monday, 15:00 (the weekend does not count).
    friday = local("2026-11-27 15:00")
    assert decision_deadline(friday, app.bot_data.calendar, TZ, 1) == local("2026-11-30 15:00")
    # Before golden week: 30 Sep -> 8 Oct.
    assert decision_deadline(local("2026-09-30 10:00"), app.bot_data.calendar, TZ, 1) == local(
        "2026-10-08 10:00"
    )
    with time_machine.travel(friday, tick=True):
        await make_staff(sessions, channel_manager, "activity")
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
            form = app.bot_data.settings.reports.form("activity_plan")
            answers = dict(ANSWERS)
            plan = await activities.submit(
                s, me, form, answers, reports=app.bot_data.settings.reports,
                today=datetime(2026, 11, 27).date(),
            )  # fmt: skip
        await tick(app.bot_data, app.bot)
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan.id)
    assert plan.decide_by is not None
    assert abs((plan.decide_by - local("2026-11-30 15:00")).total_seconds()) < 120


async def test_a_quarter_budget_covers_its_months_when_they_have_none(
    app, sessions, approved_plan, director
):
    from bot.services.activities import budget_left, budget_report, set_budget

    async with sessions() as s, s.begin():
        boss = await s.scalar(select(Staff).where(Staff.telegram_id == director.id))
        await set_budget(s, "2026-Q4", 1_000_000, boss)  # ¥10,000 for Oct–Dec
        assert await budget_left(s, "2026-12") == (1_000_000, 300_000)  # the approved plan
        report = await budget_report(s, "2026-Q4")
        assert report.budget == 1_000_000 and report.reserved == 300_000
        await set_budget(s, "2026-12", 500_000, boss)  # a month's own budget wins
        assert await budget_left(s, "2026-12") == (500_000, 300_000)


async def test_group_messages_speak_the_teams_language(app, sim, sessions, approved_plan):
    from bot.config import TeamSettings
    from bot.services import activity_results, team

    with time_machine.travel(local("2026-12-08 10:00"), tick=True):
        await tick(app.bot_data, app.bot)  # the plan starts and ends: results are owed
        async with sessions() as s, s.begin():
            await team.ensure(s, TeamSettings(locale="en"))  # the config changed at a restart
            plan = await s.get(ActivityPlan, approved_plan)
            proposer = await s.get(Staff, plan.proposer_id)
            answers = {"actuals": [{"indicator": "下载量", "actual": "5000"}], "actual_cost": 0,
                       "what_worked": "x", "improvements": "y"}  # fmt: skip
            await activity_results.complete(s, proposer, plan.id, answers)
        await sender.deliver(sessions, TelegramTransport(app.bot))
    assert "Activity completed" in sim.messages(-9201)[-1].plain
