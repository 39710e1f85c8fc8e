"""/activity: proposing a plan through the form flow, up to the directors' cards."""

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select
from support import make_staff

from bot.models import ActivityPlan, Draft

PLAN = """/activity
活动主题：周末缴费送积分
活动目的：拉新促活
量化指标：下载量 5000 次
线上还是线下？：线上
开始日期：2026-12-01
结束日期：2026-12-07
主要地区：沈阳
预算（元）：3000
预期收益 / 效果预估：新增注册 800
风险预估与危机处理：积分被刷：设置每人上限"""


@pytest.fixture
async def proposer(app, sessions, channel_manager, director):
    with time_machine.travel(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), tick=True):
        await make_staff(sessions, channel_manager, "activity")
        await director.send("/start")
        await channel_manager.send("/start")
        yield channel_manager


def q(person) -> str:
    return person.inbox[-1].plain


async def test_a_plan_in_one_message_reaches_the_summary_and_then_the_directors(
    app, sessions, proposer, director
):
    await proposer.send(PLAN)
    review = q(proposer)
    assert "新方案" in review and "周末缴费送积分" in review and "¥3,000.00" in review
    await proposer.press(proposer.inbox[-1], "✅ 提交")

    assert "已发送给运营总监审批" in q(proposer) or "送审" in q(proposer) or "审批" in q(proposer)
    async with sessions() as s:
        plan = await s.scalar(select(ActivityPlan))
        assert await s.scalar(select(Draft)) is None
    assert plan.status == "pending" and plan.budget_fen == 300_000
    assert "周末缴费送积分" in director.inbox[-1].plain  # the approval card


async def test_an_end_before_the_start_sends_the_proposer_back_to_the_end_date(
    app, sessions, proposer
):
    await proposer.send(PLAN.replace("结束日期：2026-12-07", "结束日期：2026-11-30"))
    await proposer.press(proposer.inbox[-1], "✅ 提交")
    assert "结束日期" in q(proposer) and "早于开始日期" in q(proposer)
    async with sessions() as s:
        assert await s.scalar(select(ActivityPlan)) is None
    await proposer.send("2026-12-08")
    assert "请核对" in q(proposer)  # back on the summary card, the rest kept


async def test_a_start_in_the_past_is_refused(app, sessions, proposer):
    await proposer.send(PLAN.replace("开始日期：2026-12-01", "开始日期：2026-11-01"))
    await proposer.press(proposer.inbox[-1], "✅ 提交")
    assert "开始日期" in q(proposer) and "已经过去" in q(proposer)
    async with sessions() as s:
        assert await s.scalar(select(ActivityPlan)) is None


async def test_changes_requested_then_resubmitted_with_a_diff_then_approved(
    app, sim, sessions, proposer, director
):
    group = sim.group(id=-9101, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    await proposer.send(PLAN)
    await proposer.press(proposer.inbox[-1], "✅ 提交")
    card = director.inbox[-1]

    await director.press(card, "✏️ 要求修改")
    assert "需要修改的内容" in q(director)
    await director.send("预算太高，请控制在 2000 元以内")
    assert "要求修改" in q(proposer) and "预算太高" in q(proposer)

    await proposer.send("/activity")  # the plan sent back comes first, on its summary card
    assert "方案 #1" in q(proposer) and "请核对" in q(proposer)
    await proposer.press(proposer.inbox[-1], "✏️ 修改某项")
    await proposer.press(proposer.inbox[-1], "预算（元）")
    await proposer.send("2000")
    await proposer.press(proposer.inbox[-1], "✅ 提交")
    assert "第 2 版" in q(proposer)

    new_card = director.inbox[-1]
    assert "与第 1 版相比的修改" in new_card.plain and "2,000" in new_card.plain
    outdated = await director.press(card, "✅ 批准") if card.buttons else None
    if outdated is not None:
        assert outdated.show_alert
    await director.press(new_card, "✅ 批准")
    async with sessions() as s:
        plan = await s.scalar(select(ActivityPlan))
    assert plan.status == "approved" and plan.version == 2 and plan.budget_fen == 200_000
    assert "活动已批准" in sim.messages(group.id)[-1].plain


async def test_activity_list_shows_my_plans(app, proposer):
    await proposer.send(PLAN)
    await proposer.press(proposer.inbox[-1], "✅ 提交")
    await proposer.send("/activity list")
    assert "我的活动方案" in q(proposer) and "周末缴费送积分" in q(proposer)
    assert any("撤回" in label for label in proposer.inbox[-1].labels)
