"""Leave: no reports owed on days away; a director's deputy receives and decides approvals."""

from datetime import datetime

import pytest
import time_machine
from sqlalchemy import select
from support import local, make_staff

from bot import sender
from bot.models import ActivityPlan, AuditLog, Obligation, Staff
from bot.services import activities
from bot.telegram_io import TelegramTransport
from jobs.tick import tick

pytestmark = pytest.mark.databases

PLAN = {
    "title": "社区地推", "purpose": "拉新", "mode": "offline",
    "targets": [{"indicator": "注册", "target": "300", "unit": "人"}],
    "start_date": "2026-12-10", "end_date": "2026-12-11", "region": "shenyang",
    "budget": 100_000, "expected_return": "注册 300", "risks": "天气",
}  # fmt: skip


def q(person) -> str:
    return person.inbox[-1].plain


async def test_no_report_is_owed_on_days_of_leave_and_directors_are_told(
    app, sessions, channel_manager, director
):
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
        await channel_manager.send("/leave 11-27 12-01")
        assert "已为 王 伟 登记请假：2026-11-27 至 2026-12-01" in q(channel_manager)
        assert "王 伟 于 2026-11-27 至 2026-12-01 请假" in q(director)
        await tick(app.bot_data, app.bot)
    with time_machine.travel(local("2026-12-01 10:00"), tick=True):
        await tick(app.bot_data, app.bot)
    async with sessions() as s:
        owed = {o.period_key for o in await s.scalars(select(Obligation))}
    assert "2026-11-26" in owed and "2026-12-02" in owed  # around the leave
    assert not owed & {"2026-11-27", "2026-11-30", "2026-12-01"}


async def test_bad_leave_dates_get_a_clear_answer(app, sessions, channel_manager):
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await channel_manager.send("/leave 12-05 12-01")
        assert "结束日期早于开始日期" in q(channel_manager)
        await channel_manager.send("/leave someday")
        assert "无法识别日期" in q(channel_manager)


async def test_a_deputy_receives_and_decides_the_cards_of_a_director_on_leave(
    app, sessions, channel_manager, user_ops_manager, director
):
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "activity")
        await make_staff(sessions, user_ops_manager, "user_ops")
        await director.send("/start")
        await user_ops_manager.send("/start")
        await director.send("/leave 11-26 11-30 @lina")
        assert "named you deputy" in q(user_ops_manager)
        before = len(director.inbox)
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
            form = app.bot_data.settings.reports.form("activity_plan")
            await activities.submit(s, me, form, dict(PLAN), reports=app.bot_data.settings.reports,
                                    today=datetime(2026, 11, 26).date())  # fmt: skip
        await sender.deliver(sessions, TelegramTransport(app.bot))

        card = user_ops_manager.inbox[-1]
        assert "社区地推" in card.plain and len(director.inbox) == before  # the deputy has it
        await user_ops_manager.press(card, "✅ Approve")
    async with sessions() as s:
        plan = await s.scalar(select(ActivityPlan))
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "activity.approved"))
    assert plan.status == "approved" and entry.actor_telegram_id == user_ops_manager.id


async def test_a_deputy_cannot_decide_once_the_director_is_back(
    app, sessions, channel_manager, user_ops_manager, director
):
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "activity")
        await make_staff(sessions, user_ops_manager, "user_ops")
        await director.send("/start")
        await user_ops_manager.send("/start")
        await director.send("/leave 11-26 11-26 @lina")
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
            form = app.bot_data.settings.reports.form("activity_plan")
            await activities.submit(s, me, form, dict(PLAN), reports=app.bot_data.settings.reports,
                                    today=datetime(2026, 11, 26).date())  # fmt: skip
        await sender.deliver(sessions, TelegramTransport(app.bot))
        card = user_ops_manager.inbox[-1]
    with time_machine.travel(local("2026-11-27 10:00"), tick=True):
        answer = await user_ops_manager.press(card, "✅ Approve")
    assert answer.show_alert
    async with sessions() as s:
        assert (await s.scalar(select(ActivityPlan))).status == "pending"
