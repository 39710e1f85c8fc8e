"""An activity plan is decided as its form's [forms.approval] says (decision 65): a deployment's
config can add a step, and the engine follows it with the cards still worded as a plan's."""
# ruff: noqa: F811 — test_approvals' fixtures (its people and day) are used by name here.

import tomllib

import pytest
import time_machine
from sqlalchemy import select
from support import local
from test_activity_engine import _file_plan
from test_approvals import at, people, thursday, with_forms  # noqa: F401

from bot.forms.spec import DEFAULTS_FILE
from bot.models import ActivityPlan, ApprovalDecision

pytestmark = pytest.mark.databases

# The shipped plan, decided by the directors and then, over ¥5,000, by 赵敏 (@zhaomin).
TWO_STEPS = {
    "steps": [
        {"who": "directors", "name": {"zh": "董事", "en": "Directors"}},
        {
            "who": "person:@zhaomin",
            "name": {"zh": "财务复核", "en": "Finance review"},
            "when": {"field": "budget", "over": 500_000},
        },
    ],
    "after": {"announce": "group"},
}


@pytest.fixture
def settings(settings):
    shipped = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["forms"]
    plan = next(f for f in shipped if f["key"] == "activity_plan")
    return with_forms(settings, {**plan, "approval": TWO_STEPS})


def _buttons(message) -> list[str]:
    return [b.callback_data for row in message.buttons for b in row if b.callback_data]


async def test_a_configured_second_step_decides_a_costly_plan(app, sessions, people):
    plan_id = await _file_plan(app, sessions, people.wang.id, budget=800_000)
    card = people.zhang.inbox[-1]
    assert f"活动方案 #{plan_id}（第 1 版）" in card.plain and "社区地推" in card.plain
    assert "第 1/2 步：董事" in card.plain  # where it is, as every multi-step card says
    assert not any("社区地推" in m.plain for m in people.zhao.inbox)  # not yet her step

    await people.zhang.press(card, "✅ 批准")
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id)
        assert (plan.status, plan.step) == ("pending", 1)
        version = plan.version  # each step's cards carry a version of their own
    second = people.zhao.inbox[-1]
    # Still the plan's first version (the proposer changed nothing), at its second step, with
    # who decided the first.
    assert f"活动方案 #{plan_id}（第 1 版）" in second.plain and "社区地推" in second.plain
    assert "第 2/2 步：财务复核" in second.plain
    assert "第 1/2 步：董事 — 张 总 已批准" in second.plain
    assert f"act:v1:ap:{plan_id}:{version}" in _buttons(second)  # a plan's button, not the engine's

    await people.zhao.press(second, "✅ 批准")
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id, populate_existing=True)
        decisions = list(await s.scalars(select(ApprovalDecision).order_by(ApprovalDecision.id)))
    assert plan.status == "approved", [m.plain for m in people.zhao.inbox[-3:]]
    assert [(d.step, d.decision) for d in decisions] == [(0, "approve"), (1, "approve")]
    assert "社区地推" in people.group.messages[-1].plain  # the group is told, as configured


async def test_a_cheap_plan_skips_the_step_the_config_conditions(app, sessions, people):
    plan_id = await _file_plan(app, sessions, people.wang.id, budget=100_000)
    await people.zhang.press(people.zhang.inbox[-1], "✅ 批准")
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id)
        assert plan.status == "approved" and plan.steps["steps"] == [TWO_STEPS["steps"][0]]
    assert not any("社区地推" in m.plain for m in people.zhao.inbox)


async def test_a_configured_second_step_has_its_deadline_and_its_person_is_reminded(
    app, sessions, people
):
    plan_id = await _file_plan(app, sessions, people.wang.id, budget=800_000)  # Thursday 10:00
    card = people.zhang.inbox[-1]
    await at(app, "2026-11-26 10:01")
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id)
    # [approvals] decision_working_days (1) from submission: Friday, the same time of day.
    assert abs((plan.decide_by - local("2026-11-27 10:00")).total_seconds()) < 120
    await people.zhang.press(card, "✅ 批准")  # step 2 opens, undated
    await at(app, "2026-11-26 10:05")
    async with sessions() as s:
        plan = await s.get(ActivityPlan, plan_id)
    assert plan.step == 1
    assert abs((plan.decide_by - local("2026-11-27 10:00")).total_seconds()) < 300

    await at(app, "2026-11-27 08:30")  # within two hours of step 2's deadline
    await at(app, "2026-11-27 10:30")  # past it
    reminders = [m.plain for m in people.zhao.inbox if "等待你审批的活动方案" in m.plain]
    assert len(reminders) == 2, [m.plain for m in people.zhao.inbox[-3:]]
    assert f"#{plan_id} 社区地推 — 请在 今天 10:0" in reminders[0]
    assert f"#{plan_id} 社区地推 — 已超过审批时限（今天 10:0" in reminders[1]
    # The directors decided their step: they are not reminded of hers, until it is a working
    # day overdue (Monday), when they get the plan's card to decide it themselves.
    assert not [m for m in people.zhang.inbox if "等待你审批的活动方案" in m.plain]
    before = len(people.zhang.inbox)
    await at(app, "2026-11-30 10:30")
    escalated = [m for m in people.zhang.inbox[before:] if "社区地推" in m.plain]
    assert len(escalated) == 2 and "作为运营总监" in escalated[0].plain
    assert "第 2/2 步：财务复核" in escalated[1].plain
    assert any(b.startswith(f"act:v1:ap:{plan_id}:") for b in _buttons(escalated[1]))
    with time_machine.travel(local("2026-11-30 10:40"), tick=False):
        await people.zhang.press(escalated[1], "✅ 批准")  # overdue: a director may decide it
    async with sessions() as s:
        assert (await s.get(ActivityPlan, plan_id)).status == "approved"


def test_a_plans_approval_may_not_charge_or_ask_for_results_a_second_time():
    from pydantic import ValidationError

    from bot.forms.spec import FormSpec

    shipped = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["forms"]
    plan = next(f for f in shipped if f["key"] == "activity_plan")
    assert FormSpec.model_validate({**plan, "approval": TWO_STEPS}).approval.steps[1].who == (
        "person:@zhaomin"
    )
    budget = {"amount": "budget", "pool": "activities"}
    for extra in ({"budget": budget}, {"after": {"announce": "group", "ask_link": True}}):
        with pytest.raises(ValidationError, match="budget and results are the plan's own"):
            FormSpec.model_validate({**plan, "approval": TWO_STEPS | extra})
