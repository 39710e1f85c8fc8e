"""What the bot waits for from a person: one open prompt, which text answers it, /cancel, expiry."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select
from support import make_staff
from telegram import Chat, Message, Update, User

from bot import clock
from bot.models import ActivityPlan, Draft, Staff
from bot.services import activities, channels, prompts
from bot.services.prompts import Kind
from handlers import text

NOON = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Friday


async def _person(s, telegram_id: int = 1) -> Staff:
    person = Staff(telegram_id=telegram_id, display_name=f"p{telegram_id}", joined_at=clock.now())
    s.add(person)
    await s.flush()
    return person


async def _filling(s, person: Staff) -> None:
    now = clock.now()
    s.add(Draft(staff_id=person.id, form_key="daily_channel", period_key="2026-11-20",
                answers={}, created_at=now, updated_at=now))  # fmt: skip
    await s.flush()


async def _target(s, person: Staff, message_id: int = 77):
    details = {"kpi": "downloads", "staff": None, "period": "2026-12"}
    return await prompts.ask(
        s, person.id, Kind.TARGET_VALUE, details=details, message_id=message_id
    )


async def _reason(s, person: Staff):
    details = {"plan": 1, "version": 1, "decision": "rejected"}
    return await prompts.ask(
        s, person.id, Kind.DECISION_REASON, about="activity:1", details=details
    )


async def _answers(s, person: Staff, reply_to: int | None = None) -> Kind | None:
    found = await prompts.answering(s, person.id, reply_to)
    return None if found is None else found.kind


# ---- the service ----------------------------------------------------------------------------


@pytest.mark.databases  # the SQL of expiry, claims and ids matters on both
async def test_a_new_prompt_replaces_the_open_one_and_its_buttons_go_stale(sessions):
    async with sessions() as s, s.begin():
        me = await _person(s)
        value = await _target(s, me)
        reason = await _reason(s, me)
        assert (await prompts.current(s, me.id)).id == reason.id
        assert await prompts.claim(s, value.id, me.id, Kind.TARGET_VALUE) is None
        assert await _answers(s, me) is Kind.DECISION_REASON


@pytest.mark.databases
async def test_a_reason_comes_before_a_form_and_a_target_value_only_when_replied_to(sessions):
    async with sessions() as s, s.begin():
        me = await _person(s)
        assert await _answers(s, me) is None  # nothing open: the polite fallback
        await _filling(s, me)
        assert await _answers(s, me) is Kind.FORM_ANSWER
        await _reason(s, me)
        assert await _answers(s, me) is Kind.DECISION_REASON  # the press was just made
        await _target(s, me, message_id=77)
        assert await _answers(s, me) is Kind.FORM_ANSWER  # the report keeps its answers…
        assert await _answers(s, me, reply_to=12) is Kind.FORM_ANSWER
        assert await _answers(s, me, reply_to=77) is Kind.TARGET_VALUE  # …unless it is a reply
        await channels.start_draft(s, "万科物业", me)
        assert await _answers(s, me, reply_to=77) is Kind.FORM_ANSWER  # buttons only


@pytest.mark.databases
async def test_with_no_form_open_the_prompt_takes_any_text(sessions):
    async with sessions() as s, s.begin():
        me = await _person(s)
        await _target(s, me)
        assert await _answers(s, me) is Kind.TARGET_VALUE
        await channels.start_draft(s, "万科物业", me)
        assert await _answers(s, me) is None  # a channel draft takes no text


@pytest.mark.databases
async def test_an_offer_never_displaces_a_question(sessions):
    async with sessions() as s, s.begin():
        me = await _person(s)
        reason = await _reason(s, me)
        assert await channels.start_draft(s, "万科物业", me, displace=False) is None
        assert (await prompts.current(s, me.id)).id == reason.id
        await prompts.close(s, reason.id)
        first = await channels.start_draft(s, "万科物业", me, displace=False)
        second = await channels.start_draft(s, "保利", me, displace=False)  # same kind: replaced
        assert second != first and await channels.draft_name(s, second, me) == "保利"


@pytest.mark.databases
async def test_a_prompt_expires_and_then_nothing_is_open(sessions):
    clock.start_at(NOON)
    async with sessions() as s, s.begin():
        me = await _person(s)
        await _reason(s, me)  # a reason never expires
        clock.start_at(NOON + timedelta(days=30))
        assert await _answers(s, me) is Kind.DECISION_REASON
        value = await _target(s, me)
        clock.start_at(NOON + timedelta(days=30, minutes=59))
        assert await _answers(s, me) is Kind.TARGET_VALUE
        clock.start_at(NOON + timedelta(days=30, minutes=61))
        assert await prompts.current(s, me.id) is None
        assert await _answers(s, me) is None
        assert await prompts.claim(s, value.id, me.id, Kind.TARGET_VALUE) is None
        assert not await prompts.cancel(s, me.id)  # nothing open to cancel


@pytest.mark.databases
async def test_a_closed_prompts_id_is_never_given_again(sessions):
    async with sessions() as s, s.begin():
        me = await _person(s)
        first = await _target(s, me)
        await prompts.cancel(s, me.id)
        again = await _target(s, me)
    assert again.id > first.id  # an old Save button cannot reach the new prompt


@pytest.mark.databases
async def test_cancel_drops_any_kind(sessions):
    async with sessions() as s, s.begin():
        me = await _person(s)
        for ask in (_reason, _target, lambda s, me: channels.start_draft(s, "万科", me)):
            await ask(s, me)
            assert await prompts.cancel(s, me.id)
            assert await prompts.current(s, me.id) is None
        assert not await prompts.cancel(s, me.id)


@pytest.mark.databases
async def test_a_withdrawn_plan_closes_the_reason_asked_about_it(sessions):
    async with sessions() as s, s.begin():
        me, other = await _person(s, 1), await _person(s, 2)
        await _reason(s, me)
        await _target(s, other)
        assert await prompts.close_about(s, "activity:1") == 1
        assert await activities.reason_prompt(s, me.id) is None
        assert await prompts.current(s, other.id) is not None


def test_every_kind_that_takes_text_has_one_function():
    assert set(text.ANSWERS) == set(Kind) - prompts.BUTTONS_ONLY


# ---- through the bot ------------------------------------------------------------------------


@pytest.fixture
def boss(sim):
    """A director who also files the channel manager's daily report (English)."""
    return sim.user(id=1002, first_name="Chen", username="chen", language_code="en")


async def _plan(sessions, boss) -> int:
    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == boss.id))
        proposer = Staff(telegram_id=5005, display_name="Wang", joined_at=clock.now())
        s.add(proposer)
        await s.flush()
        now = clock.now()
        plan = ActivityPlan(proposer_id=proposer.id, title="Spring push", answers={}, fields={},
                            start_date=date(2026, 12, 1), end_date=date(2026, 12, 7),
                            budget_period="2026-12", submitted_at=now, created_at=now,
                            updated_at=now, status="pending", version=1)  # fmt: skip
        s.add(plan)
        await s.flush()
        assert me is not None
        return plan.id


async def _reject(boss, plan_id: int) -> None:
    somewhere = boss.inbox[-1]
    await boss.press_data(somewhere.message_id, somewhere.chat_id, f"act:v1:rj:{plan_id}:1")
    assert "Please send the reason" in boss.inbox[-1].plain


async def test_reject_mid_report_takes_the_reason_then_the_report_goes_on(app, sessions, boss):
    with time_machine.travel(NOON, tick=True):
        await make_staff(sessions, boss, "director", "channel")
        await boss.send("/daily")
        await boss.press(boss.inbox[-1], next(b.text for r in boss.inbox[-1].buttons for b in r
                                              if b.callback_data.startswith("fs:v1:")))  # fmt: skip
        question = boss.inbox[-1].plain
        assert "Which channels" in question
        plan_id = await _plan(sessions, boss)
        await _reject(boss, plan_id)
        await boss.send("Too expensive")
        assert "Rejected" in boss.inbox[-1].plain
        async with sessions() as s:
            plan = await s.get(ActivityPlan, plan_id)
            assert (plan.status, plan.decision_reason) == ("rejected", "Too expensive")
            before = (await s.scalar(select(Draft))).version
        await boss.send("3")  # the report's question again: the draft takes it
        assert boss.inbox[-1].plain != question
        async with sessions() as s:
            assert (await s.scalar(select(Draft))).version > before


async def test_cancel_ends_a_reason_a_target_value_and_a_channel_draft(app, sessions, boss):
    with time_machine.travel(NOON, tick=True):
        await make_staff(sessions, boss, "director")
        await boss.send("hello")
        nothing_open = boss.inbox[-1].plain
        # A reason.
        plan_id = await _plan(sessions, boss)
        await _reject(boss, plan_id)
        await boss.send("/cancel")
        assert "Cancelled" in boss.inbox[-1].plain
        await boss.send("Too expensive")
        assert boss.inbox[-1].plain == nothing_open
        # A target value.
        await boss.send("/target")
        step = boss.inbox[-1]
        await boss.press(step, "tgt:v1:k:downloads")
        await boss.press(step, "tgt:v1:w:downloads:t")
        await boss.press(step, next(b.callback_data for r in boss.inbox[-1].buttons for b in r
                                    if "2026-12" in b.callback_data))  # fmt: skip
        await boss.send("/cancel")
        assert "Cancelled" in boss.inbox[-1].plain
        await boss.send("4000")
        assert boss.inbox[-1].plain == nothing_open
        # A channel draft: its buttons go stale.
        await boss.send("/channel new 万科物业")
        picker = boss.inbox[-1]
        await boss.send("/cancel")
        assert "Cancelled" in boss.inbox[-1].plain
        answer = await boss.press(picker, picker.buttons[0][0].callback_data)
        assert answer.show_alert
        await boss.send("/cancel")
        assert "nothing to cancel" in boss.inbox[-1].plain
    async with sessions() as s:
        assert (await s.get(ActivityPlan, plan_id)).status == "pending"


async def test_a_target_value_typed_after_an_hour_is_not_taken(app, sessions, boss):
    with time_machine.travel(NOON, tick=True) as traveller:
        await make_staff(sessions, boss, "director")
        await boss.send("hello")
        nothing_open = boss.inbox[-1].plain
        await boss.send("/target")
        step = boss.inbox[-1]
        await boss.press(step, "tgt:v1:k:downloads")
        await boss.press(step, "tgt:v1:w:downloads:t")
        await boss.press(step, next(b.callback_data for r in boss.inbox[-1].buttons for b in r
                                    if "2026-12" in b.callback_data))  # fmt: skip
        traveller.shift(timedelta(minutes=61))
        await boss.send("4000")
        assert boss.inbox[-1].plain == nothing_open
        answer = await boss.press(step, "✖ Cancel")
        assert answer.show_alert  # the prompt is gone: nothing to cancel


async def test_a_typed_message_opens_one_session(app, sessions, boss):
    """Before, a text went through three handlers with a session each."""
    opened = []
    factory = app.bot_data.sessions

    def counting():
        opened.append(1)
        return factory()

    with time_machine.travel(NOON, tick=True):
        await make_staff(sessions, boss, "director", "channel")
        await boss.send("/daily")
        await boss.press(boss.inbox[-1], next(b.text for r in boss.inbox[-1].buttons for b in r
                                              if b.callback_data.startswith("fs:v1:")))  # fmt: skip
        app.bot_data.sessions = counting
        try:
            await boss.send("/help")
            for_a_command = len(opened)
            opened.clear()
            await boss.send("3")
        finally:
            app.bot_data.sessions = factory
    assert len(opened) == for_a_command


def test_nothing_changes_or_deletes_an_audit_entry():
    """The audit log is history: appended to (services/audit.py), never updated as a lock."""
    root = Path(__file__).parents[1]
    sources = [*(root / "bot").rglob("*.py"), *(root / "handlers").rglob("*.py")]
    changing = [str(p) for p in sources
                if re.search(r"(update|delete)\(\s*AuditLog", p.read_text())]  # fmt: skip
    assert changing == []


async def test_a_typed_private_text_reaches_one_handler_first(app):
    """The order in handlers/__init__.py is the routing: text.take_text, then only the fallback."""
    user, chat = User(7, "x", False), Chat(7, "private")
    message = Message(1, datetime.now(UTC), chat, from_user=user, text="hello")
    message.set_bot(app.bot)
    update = Update(1, message=message)
    taking = [h.callback for h in app.handlers[0] if h.check_update(update)]
    assert taking[0] is text.take_text
    assert [c.__name__ for c in taking[1:]] == ["unexpected_text"]
