"""Audit entries are written with the transaction that made them, and only with it: on
PostgreSQL they ride with its last statement or go just before its commit (decision 67,
thirteenth round); a rollback, whole or to a savepoint, takes them with it."""

import pytest
from sqlalchemy import func, select

from bot import sender
from bot.models import AuditLog
from bot.outbox import enqueue, watching
from bot.services import audit

pytestmark = pytest.mark.databases


async def _actions(sessions) -> list[str]:
    async with sessions() as s:
        return list(await s.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def test_entries_are_written_with_the_commit_in_their_order(sessions):
    async with sessions() as s, s.begin():
        await audit.record(s, 1, "first", "x:1", n=1)
        await audit.record(s, 1, "second", "x:1", n=2)
    async with sessions() as s:
        rows = (await s.execute(select(AuditLog.action, AuditLog.details))).all()
    assert sorted(rows) == [("first", {"n": 1}), ("second", {"n": 2})]
    assert await _actions(sessions) == ["first", "second"]


async def test_entries_ride_with_the_claim_of_what_the_transaction_queued(sessions):
    with watching() as queued:
        async with sessions() as s, s.begin():
            await audit.record(s, 7, "decided", "req:1", step=1)
            await enqueue(s, "told:1", 7001, "已批准")
            claimed = await sender.claim_own(s, queued)
            # written by then, in the transaction (PostgreSQL: by the claim's statement), as a
            # read on the connection sees (a read through the session would write it itself)
            counted = select(func.count()).select_from(AuditLog)
            assert await (await s.connection()).scalar(counted) == 1
    assert [row.dedup_key for row, _ in claimed] == ["told:1"]
    assert await _actions(sessions) == ["decided"]


async def test_a_rolled_back_transactions_entries_are_not_written_later(sessions):
    async with sessions() as s:
        with pytest.raises(RuntimeError):
            async with s.begin():
                await audit.record(s, 1, "undone", "x:1")
                raise RuntimeError("the update failed")
        async with s.begin():  # the same session's next transaction
            await audit.record(s, 1, "kept", "x:2")
    assert await _actions(sessions) == ["kept"]


async def test_an_entry_made_in_a_savepoint_that_rolled_back_is_gone(sessions):
    async with sessions() as s, s.begin():
        await audit.record(s, 1, "before", "x:1")
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                await audit.record(s, 1, "refused", "x:1")
                raise RuntimeError("refused")
        await audit.record(s, 1, "after", "x:1")
    assert await _actions(sessions) == ["before", "after"]


async def test_a_read_of_the_log_through_the_session_sees_the_transactions_entries(sessions):
    async with sessions() as s, s.begin():
        await audit.record(s, 1, "feedback.create", "feedback:1")
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "feedback.create"))
        assert entry is not None and entry.target == "feedback:1"
    assert await _actions(sessions) == ["feedback.create"]  # written once


async def test_entries_made_before_a_savepoint_outlive_its_rollback(sessions):
    """A read of the log or the savepoint's own release inside it does not write them there."""
    async with sessions() as s, s.begin():
        await audit.record(s, 1, "before", "x:1")
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                await s.scalar(select(AuditLog).where(AuditLog.action == "before"))
                raise RuntimeError("refused")
        await audit.record(s, 1, "between", "x:1")
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                async with s.begin_nested():
                    pass  # released: its commit
                raise RuntimeError("refused")
    assert await _actions(sessions) == ["before", "between"]
