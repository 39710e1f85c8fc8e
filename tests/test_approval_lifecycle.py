"""After approval, a request that runs (decision 65, the first step of moving activity plans onto
the engine): approved -> running on its `start_on` day, completed when its results are filed,
its follow-ups and budget charge alive throughout — through the simulator."""

import asyncio

import pytest
import time_machine
from sqlalchemy import func, select
from support import another_process, local
from test_approval_followups import RESEARCH, RESULTS, at, keep_prefilled, people, texts
from test_approvals import with_forms

from bot.config import ConfigError
from bot.models import ApprovalFollowup, ApprovalRequest, AuditLog, BudgetCharge
from bot.services.approval_followups import FollowupStatus
from jobs.tick import tick

pytestmark = pytest.mark.databases
__all__ = ["people"]  # the fixture, shared with test_approval_followups

EVENT = {
    "key": "event_plan",
    "command": "event",
    "name": {"zh": "路演计划", "en": "Roadshow plan"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "target": "approval",
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "名称", "en": "Name"}},
        {"key": "cost", "type": "money", "label": {"zh": "费用（元）", "en": "Cost (CNY)"}},
        {"key": "start_date", "type": "date", "label": {"zh": "开始日期", "en": "Start"}},
        {"key": "end_date", "type": "date", "label": {"zh": "结束日期", "en": "End"}},
    ],
    "approval": {
        "steps": [{"who": "directors", "name": {"zh": "运营总监", "en": "Operations director"}}],
        # As an activity plan's: the activities pool, the month of its start date.
        "budget": {"amount": "cost", "pool": "activities", "date": "start_date"},
        "after": {
            "announce": "group",
            "start_on": "start_date",
            "results_after": "end_date",
            "results_form": "event_results",
        },
    },
}
EVENT_RESULTS = {
    "key": "event_results",
    "command": "eventdone",
    "name": {"zh": "路演结果", "en": "Roadshow results"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "名称", "en": "Name"},
         "prefill": "approval:title"},
        {"key": "outcome", "type": "longtext", "label": {"zh": "效果", "en": "Outcome"}},
    ],
}  # fmt: skip
LINES = "名称：沈阳商场路演\n费用（元）：800\n开始日期：2026-11-30\n结束日期：2026-12-02"


@pytest.fixture
def settings(settings):
    return with_forms(settings, EVENT, EVENT_RESULTS, RESEARCH, RESULTS)


async def file_and_approve(people, command: str, lines: str) -> None:
    with time_machine.travel(local("2026-11-26 10:00"), tick=False):
        await people.wang.send(f"/{command}\n{lines}")
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
        await people.zhang.press(people.zhang.inbox[-1], "✅ 批准")


async def status(sessions) -> str:
    async with sessions() as s:
        return await s.scalar(select(ApprovalRequest.status).order_by(ApprovalRequest.id.desc()))


async def charge(sessions) -> tuple[str, int]:
    async with sessions() as s:
        row = await s.scalar(select(BudgetCharge))
        return row.state, row.amount_fen


async def file_results(person, text: str) -> None:
    with time_machine.travel(local("2026-12-03 10:00"), tick=False):
        await person.send("/eventdone")
        await keep_prefilled(person)
        await person.send(text)
        await person.press(person.inbox[-1], "✅ 提交")


async def test_it_runs_from_its_start_day_and_completes_when_its_results_are_filed(
    app, sessions, people
):
    await file_and_approve(people, "event", LINES)
    assert await status(sessions) == "approved"
    charged = await charge(sessions)
    await at(app, "2026-11-27 10:00")  # Friday: not its day yet
    assert await status(sessions) == "approved"
    await at(app, "2026-11-30 09:31")  # Monday, its first day
    assert await status(sessions) == "running"
    assert await charge(sessions) == charged  # the pool still counts it

    await at(app, "2026-12-03 09:31")  # the first working day after the end: results asked
    asked = people.wang.inbox[-1].plain
    assert "沈阳商场路演" in asked and "/eventdone" in asked, asked
    with time_machine.travel(local("2026-12-03 09:40"), tick=False):
        await people.wang.send("/mine")
    assert "沈阳商场路演" in people.wang.inbox[-1].plain
    assert "进行中" in people.wang.inbox[-1].plain

    await file_results(people.wang, "到店咨询 120 人")
    assert await status(sessions) == "completed"
    assert await charge(sessions) == charged
    async with sessions() as s:
        row = await s.scalar(select(ApprovalFollowup))
    assert row.status == FollowupStatus.DONE
    with time_machine.travel(local("2026-12-03 10:05"), tick=False):
        await people.wang.send("/mine")
    assert "已完成" in people.wang.inbox[-1].plain


async def test_results_filed_before_the_start_day_complete_it_and_the_tick_leaves_it(
    app, sessions, people
):
    # Filed early (a plan cut short): completed from approved; no later tick starts it again.
    await file_and_approve(people, "event", LINES.replace("2026-11-30", "2026-12-07"))
    with time_machine.travel(local("2026-11-27 10:00"), tick=False):
        await people.wang.send("/eventdone")
        await keep_prefilled(people.wang)
        await people.wang.send("取消了，没有效果")
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
    assert await status(sessions) == "completed"
    await at(app, "2026-12-07 09:31")
    assert await status(sessions) == "completed"


async def test_a_request_without_start_on_stays_approved_when_its_results_are_filed(
    app, sessions, people
):
    await file_and_approve(people, "survey", "调研主题：商户回访\n结束日期：2026-11-27")
    await at(app, "2026-11-30 09:31")
    assert await status(sessions) == "approved"
    with time_machine.travel(local("2026-11-30 10:00"), tick=False):
        await people.wang.send("/surveydone")
        await keep_prefilled(people.wang)
        await people.wang.send("商户更看重结算速度")
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
    assert await status(sessions) == "approved"
    assert not any("进行中" in t for t in texts(people.wang))


async def test_it_starts_once_with_two_processes_ticking(app, sim, settings, engine, sessions,
                                                         people):  # fmt: skip
    await file_and_approve(people, "event", LINES)
    async with another_process(sim, settings, engine) as fresh:
        with time_machine.travel(local("2026-11-30 09:31"), tick=False):
            await asyncio.gather(tick(app.bot_data, app.bot), tick(fresh.bot_data, fresh.bot))
    assert await status(sessions) == "running"
    async with sessions() as s:
        started = await s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "approval.running")
        )
    assert started == 1


def test_start_on_must_name_a_date_field_of_the_form(settings):
    wrong = {**EVENT, "approval": {**EVENT["approval"], "after": {"start_on": "title"}}}
    with pytest.raises(ConfigError, match=r"after.start_on names 'title', not a date field"):
        with_forms(settings, wrong, EVENT_RESULTS)


async def test_its_budget_is_the_start_months_as_an_activity_plans_is(app, sessions, people):
    # Filed in November for a December roadshow: held, then charged, on December's pool.
    lines = LINES.replace("2026-11-30", "2026-12-07").replace("2026-12-02", "2026-12-09")
    with time_machine.travel(local("2026-11-26 10:00"), tick=False):
        await people.wang.send(f"/event\n{lines}")
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
        async with sessions() as s:
            held = await s.scalar(select(BudgetCharge))
        expected = ("activities", "2026-12", "held", 80_000)
        assert (held.pool, held.period_key, held.state, held.amount_fen) == expected
        await people.zhang.press(people.zhang.inbox[-1], "✅ 批准")
    await at(app, "2026-12-07 09:31")
    assert await status(sessions) == "running"
    async with sessions() as s:
        charged = await s.scalar(select(BudgetCharge))
    assert (charged.pool, charged.period_key, charged.state) == ("activities", "2026-12", "charged")
