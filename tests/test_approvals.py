"""Approvals of any form (issue 18): a kind defined only in this test's config, decided in steps
through the simulator — conditions, reasons, resubmission with a diff, deadlines, deputies,
exactly one decision, forged presses, /pending and /mine."""

import asyncio
import tomllib
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from support import local, make_staff

from bot.config import load_settings
from bot.forms.spec import DEFAULTS_FILE, ApprovalAfter, ReportsConfig
from bot.models import ApprovalDecision, ApprovalRequest, AuditLog, Outbox
from bot.services import approvals, leave
from bot.services import staff as staff_service
from bot.services.approvals import StepView
from jobs.tick import tick

pytestmark = pytest.mark.databases

EXPENSE = {
    "key": "expense",
    "command": "expense",
    "name": {"zh": "费用申报", "en": "Expense claim"},
    "roles": ["channel", "director"],
    "cadence": "adhoc",
    "target": "approval",
    "fields": [
        {"key": "purpose", "type": "text", "label": {"zh": "用途", "en": "Purpose"}},
        {"key": "amount", "type": "money", "label": {"zh": "金额（元）", "en": "Amount (yuan)"}},
    ],
    "approval": {
        "deadline_workdays": 2,
        "reason_required": ["reject", "changes"],
        "steps": [
            {"who": "role:new_media", "name": {"zh": "新媒体经理", "en": "New-media manager"}},
            {
                "who": "directors",
                "name": {"zh": "运营总监", "en": "Operations director"},
                "when": {"field": "amount", "over": 500_000},
            },
        ],
        "after": {"announce": "group"},
    },
}
SUGGESTION = {
    "key": "suggestion",
    "command": "suggest",
    "name": {"zh": "合理化建议", "en": "Suggestion"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "target": "approval",
    "fields": [{"key": "idea", "type": "longtext", "label": {"zh": "建议", "en": "Idea"}}],
    "approval": {
        "reason_required": ["reject"],
        "steps": [{"who": "directors", "name": {"zh": "运营总监", "en": "Operations director"}}],
        "after": {"announce": "directors"},
    },
}
TEAM_GROUP = -9181

# Every approval template with hostile user input (tests/test_i18n.py renders them).
_H = "<zz>&"
_REQ = SimpleNamespace(id=1, round=2, title=_H, status="pending", updated_at=datetime.now(UTC))
_STEPS = [StepView(1, _H, [(_H, "approve", _H)]), StepView(2, _H, [])]
CONTEXTS = {
    "approval_card.html.j2": dict(request=_REQ, form=_H, proposer=_H, steps=_STEPS, current=2,
                                  rows=[(_H, _H)], changes=[(_H, _H, _H)], closed_by=_H,
                                  outcome="approve"),
    "approval_decided.html.j2": dict(request=_REQ, form=_H, by=_H, self_approved=False,
                                     decision="changes", comment=_H, step=_H, current=2),
    "approval_nag.html.j2": dict(request=_REQ, form=_H, step=_H, current=1, total=2,
                                 phase="escalated", at="12月1日 10:00"),
    "approval_announce.html.j2": dict(request=_REQ, form=_H, proposer=_H, steps=_STEPS),
    "approval_submitted.html.j2": dict(plan=SimpleNamespace(
        form_key="x", title=_H, status="pending", round=2,
        steps={"steps": [{"name": {"zh": _H, "en": _H}}]})),
    "approval_reason_ask.html.j2": dict(request=_REQ, decision="changes"),
    "approval_done.html.j2": dict(request=_REQ),
    "approval_error.html.j2": dict(reason="outdated", by=_H, decision="approve"),
    "approval_pending.html.j2": dict(
        plans=[(SimpleNamespace(id=1, title=_H, submitted_at=datetime.now(UTC)), _H)],
        groups=[(_H, [(_REQ, _H, _H)])], tz=ZoneInfo("Asia/Shanghai")),
    "approval_mine.html.j2": dict(
        requests=[(_REQ, dict(form=_H, status="pending", current=1, total=2, step=_H))],
        plans=[SimpleNamespace(id=3, title=_H, status="pending")]),
}  # fmt: skip
NO_USER_INPUT = {"approval_words.html.j2"}


def with_forms(settings, *forms):
    """The test settings plus `forms`, through validation (the kinds exist only here)."""
    reports = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    # A test's kind replaces a shipped one of the same key or command (expense, suggestion).
    taken = {f["key"] for f in forms} | {f["command"] for f in forms}
    kept = [f for f in reports["forms"] if f["key"] not in taken and f["command"] not in taken]
    reports["forms"] = kept + list(forms)
    return load_settings(
        telegram=settings.telegram.model_dump(),
        database=settings.database.model_dump(),
        team=settings.team.model_dump(),
        reports=reports,
    )


@pytest.fixture
def settings(settings):
    return with_forms(settings, EXPENSE, SUGGESTION)


@pytest.fixture
def thursday():
    with time_machine.travel(local("2026-11-26 10:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
async def people(app, sim, sessions, thursday, director, channel_manager, user_ops_manager):
    """王伟 proposes (channel), 赵敏 and 孙丽 are new-media managers, 张总 (1001) and Li Na are
    directors, the group is bound."""
    zhao = sim.user(
        id=2004, first_name="赵", last_name="敏", username="zhaomin", language_code="zh"
    )
    sun = sim.user(id=2006, first_name="孙", last_name="丽", username="sunli", language_code="zh")
    await make_staff(sessions, channel_manager, "channel")
    await make_staff(sessions, zhao, "new_media")
    await make_staff(sessions, user_ops_manager, "director")
    for person in (director, channel_manager, zhao, user_ops_manager):
        await person.send("/start")
    group = sim.group(id=TEAM_GROUP, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    return type(
        "People", (), dict(wang=channel_manager, zhao=zhao, sun=sun, zhang=director,
                           lina=user_ops_manager, group=group)
    )  # fmt: skip


async def file_expense(person, purpose: str, amount: str):
    await person.send(f"/expense\n用途：{purpose}\n金额（元）：{amount}")
    review = person.inbox[-1]
    assert purpose[:20] in review.plain, review.plain
    await person.press(review, "✅ 提交")
    return person.inbox[-1].plain


async def the_request(sessions) -> ApprovalRequest:
    async with sessions() as s:
        return await s.scalar(select(ApprovalRequest).order_by(ApprovalRequest.id.desc()))


def card_of(person):
    """The newest message of `person` with decision buttons."""
    return next(m for m in reversed(person.inbox) if any(
        b.callback_data and b.callback_data.startswith("apr:v1:ok:") for r in m.buttons for b in r
    ))  # fmt: skip


async def at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


# ---- configuration ----------------------------------------------------------------------------


def test_config_refuses_unknown_roles_fields_and_empty_steps(settings):
    bad_role = {**EXPENSE, "approval": {**EXPENSE["approval"], "steps": [
        {"who": "role:janitor", "name": {"zh": "保洁", "en": "Janitor"}}]}}  # fmt: skip
    with pytest.raises(Exception, match="janitor"):
        with_forms(settings, bad_role)
    bad_field = {**EXPENSE, "approval": {**EXPENSE["approval"], "steps": [
        {"who": "directors", "name": {"zh": "总监", "en": "Director"},
         "when": {"field": "purpose", "over": 1}}]}}  # fmt: skip
    with pytest.raises(Exception, match="purpose"):
        with_forms(settings, bad_field)
    with pytest.raises(Exception, match="at least one step"):
        with_forms(settings, {**EXPENSE, "approval": {**EXPENSE["approval"], "steps": []}})
    with pytest.raises(Exception, match="approval"):
        with_forms(settings, {**EXPENSE, "target": "report"})


def test_every_after_key_has_its_action():
    assert set(ApprovalAfter.model_fields) <= set(approvals.AFTER_APPROVAL)


def test_shipped_forms_still_validate():
    reports = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    plan = ReportsConfig.model_validate(reports).form("activity_plan").approval
    # A plan is decided by the directors in one step, announced to the group (decision 65).
    assert [(s.who, s.name.zh, s.when) for s in plan.steps] == [("directors", "董事", None)]
    assert (plan.after.announce, plan.deadline_workdays, plan.budget) == ("group", 1, None)


# ---- one step, two steps with a condition --------------------------------------------------------


async def test_a_small_claim_takes_one_step_and_is_announced(app, sim, sessions, people):
    said = await file_expense(people.wang, "打印宣传单", "300")
    assert "「打印宣传单」已提交审批：第 1/1 步，新媒体经理。" in said, said
    request = await the_request(sessions)
    assert (request.status, request.step, len(request.steps["steps"])) == ("pending", 0, 1)

    card = card_of(people.zhao)
    assert "第 1/1 步：新媒体经理" in card.plain and "打印宣传单" in card.plain
    assert "¥300.00" in card.plain
    assert not any(
        "apr:v1:" in (b.callback_data or "") for r in people.zhang.inbox[-1].buttons for b in r
    )  # fmt: skip  (the directors are not asked: no second step)
    await people.zhao.press(card, "✅ 批准")

    request = await the_request(sessions)
    assert request.status == "approved"
    told = people.wang.inbox[-1].plain
    assert "你的费用申报「打印宣传单」已批准，最后一步由 赵 敏 批准。" in told
    assert "打印宣传单" in people.group.messages[-1].plain
    closed = sim.message(card.chat_id, card.message_id)
    assert not closed.buttons and "赵 敏" in closed.plain


@pytest.mark.parametrize(("amount", "steps"), [("5000", 1), ("5000.01", 2)])
async def test_the_directors_step_applies_only_over_5000_yuan(app, sessions, people, amount, steps):
    await file_expense(people.wang, "租场地", amount)
    request = await the_request(sessions)
    assert len(request.steps["steps"]) == steps
    card = card_of(people.zhao)
    assert f"第 1/{steps} 步：新媒体经理" in card.plain


async def test_two_steps_each_card_says_where_it_is_and_who_decided_before(
    app, sim, sessions, people
):
    await file_expense(people.wang, "年会场地", "8000")
    await people.zhao.press(card_of(people.zhao), "💬 批准并附言")
    assert "请发送附言，「年会场地」将随附言一并批准" in people.zhao.inbox[-1].plain
    await people.zhao.send("价格合理 <b>&")

    request = await the_request(sessions)
    assert (request.status, request.step) == ("pending", 1)
    card = card_of(people.zhang)
    assert "第 2/2 步：运营总监" in card.plain
    assert "赵 敏" in card.plain and "价格合理 <b>&" in card.plain  # escaped, shown as typed
    en_card = card_of(people.lina)
    assert "Step 2 of 2: Operations director" in en_card.plain
    await people.zhang.press(card, "✅ 批准")

    request = await the_request(sessions)
    assert request.status == "approved"
    other = sim.message(en_card.chat_id, en_card.message_id)
    assert not other.buttons and "张 总" in other.plain  # the other director's card says who
    async with sessions() as s:
        decisions = list(await s.scalars(select(ApprovalDecision).order_by(ApprovalDecision.id)))
    assert [(d.step, d.decision, d.comment) for d in decisions] == [
        (0, "approve", "价格合理 <b>&"),
        (1, "approve", None),
    ]


# ---- reject at step 2, changes requested, resubmission with a diff ------------------------------


async def test_rejected_at_step_two_then_filed_again_starts_at_step_one(app, sessions, people):
    await file_expense(people.wang, "团建", "9000")
    await people.zhao.press(card_of(people.zhao), "✅ 批准")
    await people.zhang.press(card_of(people.zhang), "✖ 驳回")
    assert "理由" in people.zhang.inbox[-1].plain
    await people.zhang.send("本季度预算不足")

    request = await the_request(sessions)
    assert (request.status, request.step) == ("rejected", 1)
    told = people.wang.inbox[-1].plain
    assert "驳回" in told and "本季度预算不足" in told and "张 总" in told

    await file_expense(people.wang, "团建（缩减）", "6000")  # a rejection is final: a new one
    newest = await the_request(sessions)
    assert newest.id != request.id and newest.step == 0 and newest.round == 1


async def test_changes_requested_at_step_two_resubmitted_with_the_diff_from_step_one(
    app, sessions, people
):
    await file_expense(people.wang, "年会场地", "8000")
    await people.zhao.press(card_of(people.zhao), "✅ 批准")
    await people.zhang.press(card_of(people.zhang), "✏️ 退回修改")
    await people.zhang.send("请换一家便宜的场地")
    request = await the_request(sessions)
    assert request.status == "changes_requested"
    assert "请换一家便宜的场地" in people.wang.inbox[-1].plain

    await people.wang.send("/expense")
    review = people.wang.inbox[-1]
    assert "年会场地" in review.plain and "¥8,000.00" in review.plain  # pre-filled
    assert f"#{request.id}" in review.plain
    await people.wang.send("/cancel")
    await people.wang.send("/expense\n用途：年会场地（换一家）\n金额（元）：5000")
    await people.wang.press(people.wang.inbox[-1], "✅ 提交")

    again = await the_request(sessions)
    assert (again.id, again.round, again.step, again.status) == (request.id, 2, 0, "pending")
    assert len(again.steps["steps"]) == 1  # ¥5,000 is not over: one step this round
    card = card_of(people.zhao)
    assert "第 1/1 步" in card.plain and "第 1 轮" in card.plain
    assert "年会场地（换一家）" in card.plain and "¥8,000.00" in card.plain  # the diff
    assert "¥5,000.00" in card.plain


async def test_a_reason_is_required_and_cancel_backs_out(app, sessions, people):
    await file_expense(people.wang, "打印", "100")
    await people.zhao.press(card_of(people.zhao), "✏️ 退回修改")
    await people.zhao.send("/cancel")
    await people.zhao.send("随便聊聊")
    request = await the_request(sessions)
    assert request.status == "pending"


async def test_what_needs_no_reason_decides_at_once(app, sessions, people):
    # The suggestion form asks a reason for Reject only.
    await people.wang.send("/suggest\n建议：每周五发一次用户故事")
    await people.wang.press(people.wang.inbox[-1], "✅ 提交")
    await people.zhang.press(card_of(people.zhang), "✖ 驳回")
    assert "理由" in people.zhang.inbox[-1].plain
    await people.zhang.send("/cancel")
    assert (await the_request(sessions)).status == "pending"

    await people.zhang.press(card_of(people.zhang), "✏️ 退回修改")

    assert (await the_request(sessions)).status == "changes_requested"
    told = people.wang.inbox[-1].plain
    assert "张 总 要求修改" in told and "理由" not in told


# ---- exactly one decision ----------------------------------------------------------------------


async def test_two_deciders_of_one_step_at_once_make_exactly_one_decision(
    app, sim, sessions, people
):
    await make_staff(sessions, people.sun, "new_media")
    await people.sun.send("/start")
    await file_expense(people.wang, "海报", "200")
    zhao_card, sun_card = card_of(people.zhao), card_of(people.sun)

    answers = await asyncio.gather(
        people.zhao.press(zhao_card, "✅ 批准"),
        people.sun.press(sun_card, "✅ 批准"),
        people.zhao.press(zhao_card, "✅ 批准"),
    )

    async with sessions() as s:
        decisions = list(await s.scalars(select(ApprovalDecision)))
        told = list(await s.scalars(select(Outbox).where(Outbox.dedup_key.like("req:%:told"))))
    assert len(decisions) == 1 and len(told) == 1
    refused = [a for a in answers if a is not None and a.show_alert]
    assert len(refused) == 2 and all("这张卡片已过期" in a.text for a in refused), refused
    assert (await the_request(sessions)).status == "approved"


async def test_a_double_tap_and_an_older_card_change_nothing(app, sessions, people):
    await file_expense(people.wang, "场地", "8000")
    first = card_of(people.zhao)
    await people.zhao.press(first, "✅ 批准")
    request_id = (await the_request(sessions)).id
    answer = await people.zhao.press_data(
        first.message_id, first.chat_id, f"apr:v1:ok:{request_id}:1"
    )
    assert answer.show_alert and "过期" in answer.text
    request = await the_request(sessions)
    assert (request.step, request.status) == (1, "pending")


# ---- forged and foreign presses ----------------------------------------------------------------


async def test_forged_or_foreign_presses_are_refused_and_audited(app, sessions, people):
    await file_expense(people.wang, "场地", "8000")
    request = await the_request(sessions)
    card = card_of(people.zhao)
    data = f"apr:v1:ok:{request.id}:{request.version}"

    # The director may not decide the new-media step before it is overdue; the proposer never.
    forged = f"apr:v1:rj:{request.id}:{request.version + 7}"  # a version never sent to anyone
    for person, pressed in ((people.zhang, data), (people.wang, data), (people.lina, forged)):
        answer = await person.press_data(card.message_id, card.chat_id, pressed)
        assert answer.show_alert
    assert (await the_request(sessions)).step == 0
    async with sessions() as s:
        refused = list(await s.scalars(select(AuditLog).where(AuditLog.action == "access.refused")))
    assert sorted((r.actor_telegram_id, r.target) for r in refused) == sorted(
        [(people.zhang.id, data), (people.wang.id, data), (people.lina.id, forged)]
    )


# ---- deadlines, reminders, escalation, deputies ------------------------------------------------


async def test_each_step_is_reminded_then_escalated_to_the_directors(app, sessions, people):
    await file_expense(people.wang, "场地", "8000")  # Thursday 10:00: due Monday 10:00
    await at(app, "2026-11-26 10:05")
    request = await the_request(sessions)
    assert abs(request.step_due_at - local("2026-11-30 10:00")) < timedelta(minutes=1)
    before = len(people.zhang.inbox)

    await at(app, "2026-11-30 08:30")  # within two hours of the deadline
    assert "请在 " in people.zhao.inbox[-1].plain and " 前审批。" in people.zhao.inbox[-1].plain
    assert "第 1/2 步" in people.zhao.inbox[-1].plain
    await at(app, "2026-11-30 10:30")
    assert "审批期限已过（" in people.zhao.inbox[-1].plain
    assert not [m for m in people.zhang.inbox[before:] if "费用申报" in m.plain]  # not yet
    await at(app, "2026-12-01 10:30")  # a working day after the deadline
    about = [m for m in people.zhang.inbox[before:] if "费用申报" in m.plain]
    assert len(about) == 2, [m.plain for m in about]
    nag, card = about
    assert "已逾期" in nag.plain and "作为运营总监" in nag.plain
    assert "第 1/2 步：新媒体经理" in card.plain
    with time_machine.travel(local("2026-12-01 10:40"), tick=False):
        await people.zhang.press(card, "✅ 批准")  # overdue: a director may decide it
    request = await the_request(sessions)
    assert (request.step, request.status) == (1, "pending")

    # The second step has its own deadline, counted from its start.
    await at(app, "2026-12-01 10:45")
    request = await the_request(sessions)
    assert request.step_due_at == local("2026-12-03 10:40")
    await at(app, "2026-12-03 09:00")
    assert "第 2/2 步" in people.zhang.inbox[-1].plain


async def test_a_decision_drops_the_reminders_queued_for_it(app, sessions, people):
    await file_expense(people.wang, "场地", "300")
    await at(app, "2026-11-26 10:05")
    async with sessions() as s, s.begin():
        request = await s.scalar(select(ApprovalRequest))
        zhao = await staff_service.by_telegram_id(s, people.zhao.id)
        await approvals._remind(s, request, zhao, "overdue", app.bot_data.settings.team.tz,
                                request.step_due_at)  # fmt: skip
    async with sessions() as s:
        assert await approvals.still_wanted(s, f"req:{request.id}:{request.version}")
    await people.zhao.press(card_of(people.zhao), "✅ 批准")
    async with sessions() as s:
        nag = await s.scalar(select(Outbox).where(Outbox.dedup_key.like("req:%:overdue:%")))
        assert not await approvals.still_wanted(s, nag.about)
    assert nag.status == "cancelled"


async def test_a_deputy_decides_for_a_manager_on_leave(app, sessions, people):
    async with sessions() as s, s.begin():
        zhao = await staff_service.by_telegram_id(s, people.zhao.id)
        lina = await staff_service.by_telegram_id(s, people.lina.id)
        await leave.add(s, zhao, date(2026, 11, 26), date(2026, 11, 30), zhao,
                        today=date(2026, 11, 26), deputy=lina)  # fmt: skip
    before = len(people.zhao.inbox)
    await file_expense(people.wang, "海报", "200")

    assert len(people.zhao.inbox) == before  # away: the card goes to the deputy
    card = card_of(people.lina)
    assert "Step 1 of 1: New-media manager" in card.plain
    await people.lina.press(card, "✅ Approve")
    assert (await the_request(sessions)).status == "approved"


# ---- /pending and /mine ------------------------------------------------------------------------


async def test_pending_lists_every_kind_waiting_for_me_oldest_first(app, sessions, people):
    await file_expense(people.wang, "第一笔", "8000")
    await file_expense(people.wang, "第二笔", "100")
    await people.wang.send("/suggest\n建议：周报改成周五下午")
    await people.wang.press(people.wang.inbox[-1], "✅ 提交")

    await people.zhao.send("/pending")
    listing = people.zhao.inbox[-1]
    assert "费用申报" in listing.plain and "建议" not in listing.plain.split("费用申报")[0]
    assert listing.plain.index("第一笔") < listing.plain.index("第二笔")
    await people.zhang.send("/pending")
    director_view = people.zhang.inbox[-1].plain
    assert "合理化建议" in director_view and "第一笔" not in director_view  # not their step yet
    await people.zhao.press(listing, listing.buttons[0][0].text)
    assert "第一笔" in people.zhao.inbox[-1].plain and card_of(people.zhao) is not None

    await people.wang.send("/pending")
    assert "没有" in people.wang.inbox[-1].plain  # nothing waits for the proposer


async def test_mine_shows_where_each_is_and_withdraws_one(app, sim, sessions, people):
    await file_expense(people.wang, "场地", "8000")
    await people.zhao.press(card_of(people.zhao), "✅ 批准")
    await file_expense(people.wang, "海报", "200")

    await people.wang.send("/mine")
    mine = people.wang.inbox[-1]
    assert "第 2/2 步" in mine.plain and "运营总监" in mine.plain
    assert "第 1/1 步" in mine.plain and "新媒体经理" in mine.plain
    withdraw = [b.text for r in mine.buttons for b in r]
    assert len(withdraw) == 2
    await people.wang.press(mine, withdraw[0])

    async with sessions() as s:
        statuses = sorted(r.status for r in await s.scalars(select(ApprovalRequest)))
    assert statuses == ["pending", "withdrawn"]
    await people.wang.send("/expense 列表")  # the form's list word shows the same
    assert "已撤回" in people.wang.inbox[-1].plain and "海报" in people.wang.inbox[-1].plain
    edited = sim.message(mine.chat_id, mine.message_id)
    assert "已撤回" in edited.plain
    assert len([b for r in edited.buttons for b in r]) == 1


# ---- who decides: a named person, the proposer's lead, nobody but the proposer -----------------


async def _service_request(sessions, form, proposer_tg: int, **answers) -> ApprovalRequest:
    async with sessions() as s, s.begin():
        proposer = await staff_service.by_telegram_id(s, proposer_tg)
        return await approvals.submit(
            s, proposer, form, answers, reports=REPORTS_WITH, today=date(2026, 11, 26)
        )


async def _card_chats(sessions, request) -> list[int]:
    async with sessions() as s:
        rows = await s.scalars(
            select(Outbox.chat_id).where(Outbox.dedup_key.like(f"req:{request.id}:v%:card:%"))
        )
        return sorted(rows)


def _form(**approval):
    spec = {**SUGGESTION, "approval": {**SUGGESTION["approval"], **approval}}
    return ReportsConfig.model_validate({"forms": [spec], "regions": [], "industries": []}).forms[0]


REPORTS_WITH = ReportsConfig.model_validate(
    {"forms": [EXPENSE, SUGGESTION], "regions": [], "industries": []}
)


async def test_a_person_step_and_the_proposers_lead_reach_the_right_people(sessions, people):
    person_step = _form(steps=[{"who": "person:@zhaomin", "name": {"zh": "赵", "en": "Zhao"}}])
    request = await _service_request(sessions, person_step, people.wang.id, idea="x")
    assert await _card_chats(sessions, request) == [people.zhao.id]

    lead = _form(
        steps=[{"who": "lead", "name": {"zh": "直属负责人", "en": "Lead"}}],
        leads={"user_ops": "role:director", "channel": "person:@zhaomin"},
    )
    request = await _service_request(sessions, lead, people.wang.id, idea="y")
    assert await _card_chats(sessions, request) == [people.zhao.id]

    no_lead = _form(steps=[{"who": "lead", "name": {"zh": "直属负责人", "en": "Lead"}}])
    request = await _service_request(sessions, no_lead, people.wang.id, idea="z")
    assert await _card_chats(sessions, request) == sorted([people.zhang.id, people.lina.id])

    gone = _form(steps=[{"who": "person:@nobody_here", "name": {"zh": "某人", "en": "Someone"}}])
    request = await _service_request(sessions, gone, people.wang.id, idea="w")
    assert await _card_chats(sessions, request) == sorted([people.zhang.id, people.lina.id])


async def test_the_only_director_proposing_is_approved_in_their_name(sessions, people):
    async with sessions() as s, s.begin():
        lina = await staff_service.by_telegram_id(s, people.lina.id)
        await staff_service.set_roles(s, lina, {"user_ops"}, actor=people.zhang.id)
    request = await _service_request(sessions, _form(), people.zhang.id, idea="自己提的建议")
    assert request.status == "approved"
    async with sessions() as s:
        refused = await s.scalar(select(AuditLog).where(AuditLog.action == "approval.approve"))
    assert refused.details["self_approved"] is True


async def test_a_card_press_reads_its_request_and_proposer_as_objects_of_the_session(
    sessions, people
):
    """approvals.on_card reads the request and its proposer as rows and makes them the
    session's objects: the proposer's roles are there, a change is saved at the commit, a
    proposer the session holds already (pressing their own card) is that object, and a second
    read in the session gives the same request."""
    request = await _service_request(sessions, _form(), people.wang.id, idea="看板")
    async with sessions() as s, s.begin():
        found = await approvals.on_card(s, request.id)
        proposer = s.info["approvals.proposers"][found.proposer_id]
        assert (found.answers, proposer.role_names) == ({"idea": "看板"}, {"channel"})
        assert await approvals.on_card(s, request.id) is found
        found.title = "改过的标题"
    async with sessions() as s, s.begin():
        me = await staff_service.sender(s, people.wang.id)
        assert (await approvals.on_card(s, request.id)).title == "改过的标题"
        assert s.info["approvals.proposers"][me.id] is me


# ---- hostile input ------------------------------------------------------------------------------

# Too long twice (refused, asked again), then taken (NUL dropped at the database door).
HOSTILE_TEXTS = ["中" * 5000, "👍🏽" * 600, "2026\x0011 <b>&\x00\u200f<i>"]


@pytest.mark.parametrize("button", ["💬 批准并附言", "✏️ 退回修改", "✖ 驳回"])
async def test_any_reason_or_comment_is_taken_or_refused_with_an_answer(
    app, sim, sessions, people, button
):
    await file_expense(people.wang, "场地 <b>&", "8000")
    for text in HOSTILE_TEXTS:
        card = card_of(people.zhao)
        if not card.buttons:
            break
        await people.zhao.press(card, button)
        before = len(people.zhao.inbox)
        await people.zhao.send(text)
        assert len(people.zhao.inbox) == before + 1, text[:20]  # an answer, every time
        answer = people.zhao.inbox[-1].plain
        request = await the_request(sessions)
        if len(text.replace("\x00", "")) > approvals.REASON_MAX:
            assert "太长" in answer and request.step == 0
            await people.zhao.send("/cancel")
    request = await the_request(sessions)
    assert request.status != "pending" or request.step == 1


async def test_forged_approval_buttons_get_an_answer_and_change_nothing(app, sim, sessions, people):
    await file_expense(people.wang, "场地", "8000")
    request = await the_request(sessions)
    card = card_of(people.zhao)
    huge = "9" * 20
    for data in [
        f"apr:v1:ok:{request.id}:{huge}", f"apr:v1:ok:{huge}:1", f"apr:v1:cm:{request.id}:0",
        f"apr:v1:rj:{request.id + 50}:1", f"apr:v1:cd:{request.id + 50}", "apr:v1:wd:0",
        f"apr:v1:ch:{request.id}:1:1", "apr:v1:ok:", "apr:v1:xx:1:1", f"apr:v1:wd:{request.id}",
    ]:  # fmt: skip
        for person in (people.zhang, people.zhao, people.lina):
            answer = await person.press_data(card.message_id, card.chat_id, data)
            assert answer is not None and answer.text, data
    request = await the_request(sessions)
    assert (request.status, request.step, request.version) == ("pending", 0, 1)


async def test_a_long_answer_is_clipped_on_the_card_with_a_button_for_the_whole_text(
    app, sessions, people
):
    purpose = "租用会议室，" + "含投影和茶歇，" * 60 + "完。"
    await file_expense(people.wang, purpose, "300")
    card = card_of(people.zhao)
    assert purpose not in card.plain and "…" in card.plain
    whole = next(b.text for r in card.buttons for b in r if b.callback_data.startswith("tx:v1:q:"))

    await people.zhao.press(card, whole)

    assert purpose in people.zhao.inbox[-1].plain
