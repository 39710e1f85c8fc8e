"""Joining by request: pick a role, every director gets a card, one decision, the user is told."""

from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from support import local, make_staff
from test_tick_roster import owed

from bot import clock
from bot.models import AuditLog, JoinRequest, Leave, Staff
from bot.services import staff as staff_service


async def _ask_to_join(person, role_label="渠道拓展经理"):
    await person.send("/start")
    choose = person.inbox[-1]
    await person.press(choose, role_label)
    return choose


async def test_unknown_user_picks_a_role_and_every_director_gets_a_card(
    app, director, channel_manager
):
    await director.send("/start")
    await channel_manager.send("/start")
    choose = channel_manager.inbox[-1]
    assert "你的岗位是" in choose.plain
    labels = [b.text for row in choose.buttons for b in row]
    assert "渠道拓展经理" in labels and "运营总监" not in labels

    await channel_manager.press(choose, "渠道拓展经理")
    assert "已发送给运营总监" in channel_manager.inbox[-1].plain
    card = director.inbox[-1]
    assert "加入申请" in card.plain and "王 伟" in card.plain and "@wangwei" in card.plain
    assert [b.text for b in card.buttons[0]] == ["✅ 批准", "❌ 拒绝"]


async def test_approval_makes_staff_welcomes_them_and_closes_the_card(
    app, sim, sessions, director, channel_manager
):
    await director.send("/start")
    await _ask_to_join(channel_manager)
    card = director.inbox[-1]

    answer = await director.press(card, "✅ 批准")

    assert "已加入团队" in answer.text
    welcome = channel_manager.inbox[-1]
    assert "欢迎加入团队" in welcome.plain and "渠道拓展经理" in welcome.plain
    closed = _message(sim, card)
    assert "已由 张 总 批准" in closed.plain and closed.buttons == []
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
    assert staff.active and staff.role_names == {"channel"}
    commands = sim.menu(channel_manager)
    assert "help" in [c for c, _ in commands]


async def test_every_directors_copy_of_the_card_is_closed_in_their_language(
    app, sim, sessions, director, channel_manager
):
    """The card each director got is edited, in that director's language, whoever decides."""
    english = sim.user(id=2099, first_name="Ann", last_name="Lee", language_code="en")
    await make_staff(sessions, english, "director")
    await director.send("/start")
    await english.send("/start")
    await _ask_to_join(channel_manager)
    chinese_card, english_card = director.inbox[-1], english.inbox[-1]
    assert "Join request" in english_card.plain

    await director.press(chinese_card, "✅ 批准")

    assert "已由 张 总 批准" in _message(sim, chinese_card).plain
    closed = _message(sim, english_card)
    assert "Approved by 张 总." in closed.plain and closed.buttons == []


def _message(sim, original):
    return next(m for m in sim.messages(original.chat_id) if m.message_id == original.message_id)


async def test_rejection_tells_the_user_and_makes_no_staff(
    app, sim, sessions, director, channel_manager
):
    await director.send("/start")
    await _ask_to_join(channel_manager)
    card = director.inbox[-1]

    await director.press(card, "❌ 拒绝")

    assert "未获批准" in channel_manager.inbox[-1].plain
    assert "已由 张 总 拒绝" in _message(sim, card).plain
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Staff)) == 1  # the director


@pytest.mark.databases
async def test_a_second_press_is_told_it_was_already_decided(
    app, sim, sessions, director, channel_manager
):
    await director.send("/start")
    await _ask_to_join(channel_manager)
    card = director.inbox[-1]
    await director.press(card, "✅ 批准")
    welcomes = len(channel_manager.inbox)

    answer = await director.press_data(card.message_id, card.chat_id, card_data(card, "ok"))

    assert answer.show_alert and "已由 张 总 批准" in answer.text
    assert len(channel_manager.inbox) == welcomes
    async with sessions() as s:
        decisions = await s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action.like("join.%ed"))
        )
    assert decisions == 1


def card_data(card, action):
    data = card.buttons[0][0].callback_data if card.buttons else None
    if data is None:
        return f"join:v1:{action}:1"
    return data.replace(":ok:", f":{action}:")


async def test_a_press_by_a_non_director_is_refused_and_audited(
    app, sessions, director, channel_manager, outsider
):
    await director.send("/start")
    await _ask_to_join(channel_manager)
    card = director.inbox[-1]
    data = card.buttons[0][0].callback_data

    answer = await outsider.press_data(card.message_id, card.chat_id, data)

    assert answer.show_alert
    async with sessions() as s:
        req = await s.scalar(select(JoinRequest))
        refused = await s.scalar(select(AuditLog).where(AuditLog.action == "access.refused"))
    assert req.status == "pending"
    assert refused.actor_telegram_id == outsider.id and refused.target == data


async def test_a_second_start_while_pending_says_it_is_waiting(app, director, channel_manager):
    await director.send("/start")
    await _ask_to_join(channel_manager)
    cards = len(director.inbox)

    await channel_manager.send("/start")

    assert "正在等待总监审批" in channel_manager.inbox[-1].plain
    assert channel_manager.inbox[-1].buttons == []
    assert len(director.inbox) == cards


async def test_repeated_requests_are_limited(app, director, channel_manager):
    await director.send("/start")
    for _ in range(3):
        await _ask_to_join(channel_manager)
        await director.press(director.inbox[-1], "❌ 拒绝")

    await channel_manager.send("/start")

    assert "申请次数太多" in channel_manager.inbox[-1].plain
    tomorrow = clock.now() + timedelta(hours=25)
    with time_machine.travel(tomorrow):
        await channel_manager.send("/start")
    assert "你的岗位是" in channel_manager.inbox[-1].plain


async def test_an_unknown_user_can_only_ask_to_join(app, outsider):
    await outsider.send("/staff")
    assert "发送 /start 申请加入" in outsider.inbox[-1].plain
    await outsider.send("hello")
    assert "发送 /start 申请加入" in outsider.inbox[-1].plain


async def test_english_speakers_get_english(app, director, user_ops_manager):
    await director.send("/start")
    await user_ops_manager.send("/start")
    assert "Which role do you have?" in user_ops_manager.inbox[-1].plain
    await user_ops_manager.press(user_ops_manager.inbox[-1], "User-operations manager")
    assert "was sent to the operations director" in user_ops_manager.inbox[-1].plain
    assert "用户运营经理" in director.inbox[-1].plain  # the director reads it in Chinese


async def test_text_while_waiting_for_a_decision_says_it_is_pending(app, director, channel_manager):
    await director.send("/start")
    await _ask_to_join(channel_manager)
    await channel_manager.send("你好，还要多久？")
    assert "正在等待总监审批" in channel_manager.inbox[-1].plain


async def test_a_newcomer_owes_today_at_once_and_one_back_from_leave_owes_nothing_while_away(
    app, sim, sessions, director, channel_manager
):
    """Approving a join makes today's obligations at once: for someone new (nothing to look
    up), and for someone with a row already (added and let go while their request waited),
    whose leave counts."""
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):  # a Thursday
        await director.send("/start")
        await _ask_to_join(channel_manager)
        await director.press(director.inbox[-1], "✅ 批准")
        assert ("daily_channel", "2026-11-26") in await owed(sessions, channel_manager)

        zhao = sim.user(id=2004, first_name="赵", last_name="敏", language_code="zh")
        await _ask_to_join(zhao)
        card = director.inbox[-1]
        await make_staff(sessions, zhao, "channel")
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == zhao.id))
            s.add(Leave(staff_id=me.id, start_date=date(2026, 11, 26),
                        end_date=date(2026, 11, 27), created_at=clock.now()))  # fmt: skip
            await staff_service.deactivate(s, me, director.id)
        await director.press(card, "✅ 批准")
        async with sessions() as s:
            me = await s.scalar(select(Staff).where(Staff.telegram_id == zhao.id))
            assert me.active
        periods = await owed(sessions, zhao)
        assert ("daily_channel", "2026-11-26") not in periods
        assert ("daily_channel", "2026-11-27") not in periods
