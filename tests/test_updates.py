"""The same update delivered twice has one effect."""

import pytest
from sqlalchemy import func, select

from bot.models import AuditLog, Invite

pytestmark = pytest.mark.databases


async def test_a_redelivered_command_is_answered_once(app, sim, director):
    await director.send("/start")
    await director.send("/help")
    replies = len(director.inbox)

    await sim.inject(sim.updates[-1])

    assert len(director.inbox) == replies


async def test_a_redelivered_invite_command_creates_one_invite(app, sim, sessions, director):
    await director.send("/start")
    await director.send("/invite channel")
    await sim.inject(sim.updates[-1])
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Invite)) == 1


async def test_a_failing_handler_apologises_and_the_bot_keeps_going(
    app, director, monkeypatch, caplog
):
    await director.send("/start")

    def broken(*_):
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.services.menu.commands_for", broken)
    await director.send("/help")

    assert "出了点问题" in director.inbox[-1].plain and "再试" in director.inbox[-1].plain
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    monkeypatch.undo()
    await director.send("/help")
    assert "我能为你做什么" in director.inbox[-1].plain


async def test_an_update_whose_handler_failed_is_handled_when_redelivered(
    app, sim, director, monkeypatch
):
    """The update id is recorded in the handler's own transaction (decision 67): a handler that
    fails rolls the record back with its effect, so Telegram's redelivery gets a real answer."""
    await director.send("/start")

    def broken(*_):
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.services.menu.commands_for", broken)
    await director.send("/help")
    assert "出了点问题" in director.inbox[-1].plain
    monkeypatch.undo()

    await sim.inject(sim.updates[-1])

    assert "我能为你做什么" in director.inbox[-1].plain
    await sim.inject(sim.updates[-1])  # now recorded: a third delivery is not answered
    assert "我能为你做什么" in director.inbox[-1].plain and len(director.inbox) == 3


async def test_unknown_commands_and_stray_text_get_a_hint(app, director):
    await director.send("/start")
    await director.send("/frobnicate")
    assert "不认识命令 /frobnicate" in director.inbox[-1].plain
    await director.send("随便说点什么")
    assert "/help" in director.inbox[-1].plain


async def test_a_forged_button_is_refused_and_audited(app, sessions, director):
    await director.send("/start")
    answer = await director.press_data(1, director.id, "evil:v9:drop-tables")
    assert answer.show_alert and "失效" in answer.text
    async with sessions() as s:
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "button.unknown"))
    assert entry.target == "evil:v9:drop-tables"


async def test_unknown_users_see_the_join_menu(app, sim, outsider):
    assert [c for c, _ in sim.menu(outsider)] == ["start", "help"]
