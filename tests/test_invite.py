"""Invite links: a director makes one for a role; it joins once, before it expires."""

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from bot import clock
from bot.models import Staff


async def _invite_token(director, role_label="用户运营经理") -> str:
    await director.send("/invite")
    await director.press(director.inbox[-1], role_label)
    match = re.search(r"https://t\.me/opsbot_test_bot\?start=([\w-]+)", director.inbox[-1].plain)
    assert match, director.inbox[-1].plain
    return match.group(1)


async def test_an_invite_link_joins_without_a_request(app, sessions, director, user_ops_manager):
    await director.send("/start")
    token = await _invite_token(director)

    await user_ops_manager.send(f"/start {token}")

    assert "Welcome to the team" in user_ops_manager.inbox[-1].plain
    assert "User-operations manager" in user_ops_manager.inbox[-1].plain
    assert "Li Na" in director.inbox[-1].plain and "邀请链接" in director.inbox[-1].plain
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == user_ops_manager.id))
    assert staff.role_names == {"user_ops"}
    assert staff.locale == "en"


async def test_invite_with_role_argument(app, director):
    await director.send("/start")
    await director.send("/invite channel")
    assert "「渠道拓展经理」的邀请链接" in director.inbox[-1].plain


@pytest.mark.databases
async def test_an_invite_works_only_once(app, director, user_ops_manager, outsider):
    await director.send("/start")
    token = await _invite_token(director)
    await user_ops_manager.send(f"/start {token}")

    await outsider.send(f"/start {token}")

    assert "已被使用" in outsider.inbox[-1].plain


async def test_an_expired_invite_is_refused(app, director, outsider):
    await director.send("/start")
    token = await _invite_token(director)

    with time_machine.travel(clock.now() + timedelta(hours=73)):
        await outsider.send(f"/start {token}")

    assert "已过期" in outsider.inbox[-1].plain


async def test_a_made_up_token_is_refused(app, outsider):
    await outsider.send("/start not-a-real-token")
    assert "邀请链接无效" in outsider.inbox[-1].plain


async def test_only_directors_can_invite(app, director, channel_manager):
    await director.send("/start")
    token = await _invite_token(director, "渠道拓展经理")
    await channel_manager.send(f"/start {token}")

    await channel_manager.send("/invite")

    assert "只有运营总监" in channel_manager.inbox[-1].plain


async def test_an_invite_withdraws_a_pending_request(app, sessions, director, user_ops_manager):
    await director.send("/start")
    await user_ops_manager.send("/start")
    await user_ops_manager.press(user_ops_manager.inbox[-1], "User-operations manager")
    card = director.inbox[-1]
    token = await _invite_token(director)
    await user_ops_manager.send(f"/start {token}")

    answer = await director.press(card, "✅ 批准")

    assert answer.show_alert and "已通过邀请链接加入" in answer.text
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == user_ops_manager.id))
    assert staff.role_names == {"user_ops"}
