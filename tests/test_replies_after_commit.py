"""Replies are sent after the update's transaction commits, never inside it (decision 45)."""

import logging

import pytest
import transaction_guard
from sqlalchemy import func, select, text
from telegram.ext import CommandHandler
from transaction_guard import SentInsideTransaction

from bot.db import make_engine, make_sessionmaker
from bot.models import AuditLog, Invite
from bot.services import audit
from bot.simulator.server import ApiError
from handlers.access import staff_only
from handlers.reply import reply, transaction

SAVED = "你的操作已经保存"
NOTHING_CHANGED = "没有做任何更改"


def first_in_group_zero(app, command: str, callback) -> None:
    """A test-only command ahead of every handler of group 0 (the fallbacks would take it)."""
    app.handlers[0].insert(0, CommandHandler(command, callback))


async def test_a_reply_is_sent_after_its_transaction_has_committed(app, sim, engine, director):
    await director.send("/start")
    other = make_engine(engine.url.render_as_string(hide_password=False))
    seen: list[tuple[int, str]] = []

    async def look_from_another_connection(params: dict, files: dict, real):
        if "邀请链接" in params.get("text", ""):
            async with make_sessionmaker(other)() as s, s.begin():
                if other.dialect.name == "sqlite":  # a held write lock fails at once, not in 5 s
                    await s.execute(text("PRAGMA busy_timeout=0"))
                invites = await s.scalar(select(func.count()).select_from(Invite))
                await audit.record(s, None, "test.wrote_meanwhile")
            seen.append((invites, "written"))
        return await real(params, files)

    try:
        with sim.intercept("sendMessage", look_from_another_connection):
            await director.send("/invite channel")
    finally:
        await other.dispose()

    assert "邀请链接" in director.inbox[-1].plain
    # The invite was committed when the link went out, and the database took another write.
    assert seen == [(1, "written")]


async def test_a_handler_that_fails_after_replying_sends_nothing_it_said(
    app, sessions, director, caplog
):
    @staff_only()
    async def half_done(update, context, session, me) -> None:
        await audit.record(session, me.telegram_id, "test.half_done")
        await reply(update, me.locale, "lang_set.html.j2")
        raise RuntimeError("after the reply")

    first_in_group_zero(app, "halfdone", half_done)
    await director.send("/start")
    before = len(director.inbox)

    with caplog.at_level(logging.ERROR):
        await director.send("/halfdone")

    said = [m.plain for m in director.inbox[before:]]
    assert len(said) == 1 and NOTHING_CHANGED in said[0]  # the apology, and only it
    async with sessions() as s:
        assert await s.scalar(select(AuditLog).where(AuditLog.action == "test.half_done")) is None


async def test_a_reply_that_fails_after_the_commit_says_the_change_was_saved(
    app, sim, sessions, director, caplog
):
    await director.send("/start")
    failed: list[str] = []

    async def refuse_the_link(params: dict, files: dict, real):
        if "邀请链接" in params.get("text", "") and not failed:
            failed.append(params["text"])
            raise ApiError(400, "Bad Request: can't parse entities")
        return await real(params, files)

    with caplog.at_level(logging.ERROR), sim.intercept("sendMessage", refuse_the_link):
        await director.send("/invite channel")

    assert failed and SAVED in director.inbox[-1].plain
    assert NOTHING_CHANGED not in director.inbox[-1].plain
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Invite)) == 1
    assert any("after its commit" in r.getMessage() for r in caplog.records)


async def test_a_transaction_inside_the_handlers_sends_after_the_outer_one(app, sessions, director):
    @staff_only()
    async def nested(update, context, session, me) -> None:
        async with transaction(context) as inner:
            await audit.record(inner, me.telegram_id, "test.inner")
            await reply(update, me.locale, "lang_set.html.j2")
        await audit.record(session, me.telegram_id, "test.outer")

    first_in_group_zero(app, "nested", nested)
    await director.send("/start")
    before = len(director.inbox)

    await director.send("/nested")  # the guard fails the test if the reply went out early

    assert len(director.inbox) == before + 1
    async with sessions() as s:
        actions = set(
            await s.scalars(select(AuditLog.action).where(AuditLog.action.like("test.%")))
        )
    assert actions == {"test.inner", "test.outer"}


async def test_the_guard_catches_a_reply_inside_a_transaction(app, sessions, director):
    async def careless(update, context) -> None:
        async with context.db() as session, session.begin():
            await audit.record(session, update.effective_user.id, "test.careless")
            await reply(update, "zh", "lang_set.html.j2")

    first_in_group_zero(app, "careless", careless)
    await director.send("/start")

    await director.send("/careless")

    assert transaction_guard.violations == ["sendMessage"]
    transaction_guard.violations.clear()  # caught, as it should be: not this test's failure
    async with sessions() as s:  # the handler failed, so nothing of it stays
        assert await s.scalar(select(AuditLog).where(AuditLog.action == "test.careless")) is None


async def test_the_guard_catches_a_direct_bot_call_inside_a_transaction(app, sessions, director):
    director.started = True
    async with sessions() as s, s.begin():
        await s.execute(select(1))
        with pytest.raises(SentInsideTransaction):
            await app.bot.send_message(director.id, "x")
    transaction_guard.violations.clear()
    await app.bot.send_message(director.id, "x")  # outside it, the same call goes through
    assert director.inbox[-1].plain == "x"
