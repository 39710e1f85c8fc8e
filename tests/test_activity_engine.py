"""Activity plans are approval requests on the engine (decision 65): a generic query returns them,
/pending lists one beside another form's request, a deputy's decision is the engine's, and a
press on a card sent before the requests were renumbered finds its request."""
# ruff: noqa: F811 — test_approvals' fixtures (its forms, people and day) are used by name here.

from datetime import date

import pytest
import time_machine
from sqlalchemy import select
from support import local
from test_approvals import at, card_of, file_expense, people, settings, thursday  # noqa: F401

from bot import sender
from bot.models import (
    ActivityPlan,
    ActivityVersion,
    ApprovalDecision,
    ApprovalFollowup,
    ApprovalRequest,
    ApprovalRequestId,
    AuditLog,
    BudgetCharge,
    Staff,
)
from bot.services import activities, approvals, budgets
from bot.telegram_io import TelegramTransport

pytestmark = pytest.mark.databases

TODAY = date(2026, 11, 26)  # the `thursday` fixture's day
PLAN = {
    "title": "社区地推", "purpose": "拉新", "mode": "offline", "region": "shenyang",
    "targets": [{"indicator": "注册", "target": "300", "unit": "人"}],
    "start_date": "2026-12-10", "end_date": "2026-12-11", "budget": 100_000,
    "expected_return": "注册 300", "risks": "天气",
}  # fmt: skip


async def _file_plan(app, sessions, telegram_id: int, **changes) -> int:
    reports = app.bot_data.settings.reports
    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
        plan = await activities.submit(
            s, me, reports.form("activity_plan"), PLAN | changes, reports=reports, today=TODAY
        )
    await sender.deliver(sessions, TelegramTransport(app.bot))
    return plan.id


async def test_a_plan_is_a_request_a_generic_query_returns_beside_an_expense(app, sessions, people):
    await file_expense(people.wang, "场地", "8000")
    plan_id = await _file_plan(app, sessions, people.wang.id)

    async with sessions() as s:
        every = list(await s.scalars(select(ApprovalRequest).order_by(ApprovalRequest.id)))
        waiting = await approvals.waiting_for(
            s, await s.scalar(select(Staff).where(Staff.telegram_id == people.zhang.id)), TODAY
        )
        rounds = list(
            await s.scalars(select(ActivityVersion).where(ActivityVersion.plan_id == plan_id))
        )
    assert [(type(r).__name__, r.form_key) for r in every] == [
        ("ApprovalRequest", "expense"),
        ("ActivityPlan", "activity_plan"),
    ]
    plan = every[1]
    assert (plan.id, plan.status, plan.round, plan.version) == (plan_id, "pending", 1, 1)
    assert plan.steps["steps"] == [{"who": "directors", "name": {"zh": "董事", "en": "Directors"}}]
    assert [(v.plan_id, v.version) for v in rounds] == [(plan_id, 1)]  # the engine's round
    # The expense waits at the new-media step; the plan at the directors'.
    assert [r.id for r in waiting] == [plan_id]


async def test_pending_lists_a_plan_beside_another_forms_request(app, sessions, people):
    await people.wang.send("/suggest\n建议：周报改成周五下午")
    await people.wang.press(people.wang.inbox[-1], "✅ 提交")
    plan_id = await _file_plan(app, sessions, people.wang.id)

    await people.zhang.send("/pending")
    listing = people.zhang.inbox[-1]
    assert "社区地推" in listing.plain and "合理化建议" in listing.plain
    assert listing.plain.count("社区地推") == 1  # once, in the plans' list
    shown = [b.callback_data for row in listing.buttons for b in row]
    assert f"act:v1:cd:{plan_id}" in shown and f"apr:v1:cd:{plan_id}" not in shown


async def test_a_deputys_approval_of_a_plan_is_the_engines_decision(app, sessions, people):
    await people.zhang.send("/leave 11-26 11-30 @zhaomin")  # 赵敏: new media, no director
    plan_id = await _file_plan(app, sessions, people.wang.id)
    card = people.zhao.inbox[-1]
    assert "社区地推" in card.plain
    await people.zhao.press(card, "✅ 批准")

    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id)
        decisions = list(await s.scalars(select(ApprovalDecision)))
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "activity.approved"))
    zhao_id = await _staff_id(sessions, people.zhao.id)
    assert plan.status == "approved" and plan.decided_by == zhao_id
    assert [(d.request_id, d.round, d.step, d.decider_id, d.decision) for d in decisions] == [
        (plan_id, 1, 0, zhao_id, "approve")
    ]
    assert audit.target == f"activity:{plan_id}" and audit.actor_telegram_id == people.zhao.id
    # One decision per version: the same version pressed through an engine button is stale.
    answer = await people.zhao.press_data(card.message_id, card.chat_id, f"apr:v1:ok:{plan_id}:1")
    assert (
        answer.text == "这张卡片已过期：赵 敏 已处理（已批准）。发送 /pending 查看当前待审批事项。"
    )
    async with sessions() as s:
        assert len(list(await s.scalars(select(ApprovalDecision)))) == 1


async def test_a_press_on_a_card_sent_before_the_renumbering_finds_its_request(
    app, sessions, people
):
    await file_expense(people.wang, "海报", "200")
    card = card_of(people.zhao)
    async with sessions() as s, s.begin():
        request = await s.scalar(select(ApprovalRequest))
        s.add(ApprovalRequestId(old_id=request.id + 500, new_id=request.id))
    old = f"apr:v1:ok:{request.id + 500}:{request.version}"  # what the card said before 0018

    await people.zhao.press_data(card.message_id, card.chat_id, old)

    async with sessions() as s:
        assert (await s.get(ApprovalRequest, request.id)).status == "approved"


async def _staff_id(sessions, telegram_id: int) -> int:
    async with sessions() as s:
        return await s.scalar(select(Staff.id).where(Staff.telegram_id == telegram_id))


async def _charges(sessions) -> list[tuple]:
    async with sessions() as s:
        rows = await s.scalars(select(BudgetCharge).order_by(BudgetCharge.about))
        return [(c.about, c.pool, c.period_key, c.amount_fen, c.state) for c in rows]


async def test_a_plans_money_is_a_charge_of_the_activities_pool(app, sessions, people):
    """Held while it waits, charged once approved, given back when withdrawn: the activities
    pool reads budget_charges like every pool (decision 65, step 5)."""
    kept = await _file_plan(app, sessions, people.wang.id)
    taken_back = await _file_plan(app, sessions, people.wang.id, title="撤回的", budget=50_000)
    assert await _charges(sessions) == [
        (f"req:{kept}", "activities", "2026-12", 100_000, "held"),
        (f"req:{taken_back}", "activities", "2026-12", 50_000, "held"),
    ]
    card = next(m for m in reversed(people.zhang.inbox) if "社区地推" in m.plain and m.buttons)
    await people.zhang.press(card, "✅ 批准")
    async with sessions() as s, s.begin():
        wang = await s.scalar(select(Staff).where(Staff.telegram_id == people.wang.id))
        await activities.withdraw(s, wang, taken_back)

    assert await _charges(sessions) == [
        (f"req:{kept}", "activities", "2026-12", 100_000, "charged")
    ]
    async with sessions() as s:
        view = await budgets.remainder(s, budgets.ACTIVITIES, "2026-12")
    assert (view.charged, view.pending) == (100_000, 0)


async def test_a_plans_results_are_owed_as_the_engines_follow_up(app, sessions, people):
    """Asked on the day after the end date whatever the day (a Saturday here), once, worded as
    a plan's; the follow-up row is what is owed, and filing the results closes it."""
    plan_id = await _file_plan(app, sessions, people.wang.id)  # 10–11 December
    await people.zhang.press(people.zhang.inbox[-1], "✅ 批准")
    async with sessions() as s:
        (row,) = await s.scalars(select(ApprovalFollowup))
        assert (row.request_id, row.kind, row.status) == (plan_id, "results", "waiting")

    await at(app, "2026-12-11 23:00")  # running, still its last day
    assert not [m for m in people.wang.inbox if "「社区地推」已结束" in m.plain]
    await at(app, "2026-12-12 10:00")  # Saturday, the day after
    asked = [m.plain for m in people.wang.inbox if "「社区地推」已结束" in m.plain]
    assert len(asked) == 1 and "社区地推" in asked[0] and "/results" in asked[0]
    await at(app, "2026-12-17 10:00")  # three working days on: a plan is not reminded
    assert len([m for m in people.wang.inbox if "「社区地推」已结束" in m.plain]) == 1

    with time_machine.travel(local("2026-12-17 10:05"), tick=True):
        await people.wang.send("/results")
        assert "注册 0 人" in people.wang.inbox[-1].plain  # pre-filled with its targets
        for answer in ("注册 280 人", "900", "社群裂变", "提前预热"):
            await people.wang.send(answer)
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id)
        row = await s.scalar(select(ApprovalFollowup))
    assert (plan.status, row.status) == ("completed", "done")
