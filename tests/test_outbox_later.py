"""Rows queued for later (`outbox.enqueue_later`) are written together, in the order they were
queued, before anything in their transaction could miss them: the next row queued, a read of
the outbox, the claim, the commit; never by another transaction (decision 67, fourteenth
round)."""

import pytest
from sqlalchemy import event, select

from bot import outbox
from bot.models import Outbox

pytestmark = pytest.mark.databases


async def _keys(sessions) -> list[str]:
    async with sessions() as s:
        return list(await s.scalars(select(Outbox.dedup_key).order_by(Outbox.id)))


@pytest.fixture
def inserts(engine):
    """The INSERTs into the outbox the engine runs, as a list of their row counts."""
    seen: list[int] = []

    def counted(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO outbox"):
            seen.append(statement.count("?") // 10 or statement.count("$") // 10)

    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", counted)


async def test_rows_held_for_later_are_one_insert_at_the_commit_in_their_order(sessions, inserts):
    with outbox.watching() as queued:
        async with sessions() as s, s.begin():
            await outbox.enqueue_later(s, "closed:1", 7001, "已由 张总 批准。")
            await outbox.enqueue_later(s, "told:1", 7002, "✅ 你的申请已批准。")
            await outbox.enqueue_later(s, "closed:1", 7001, "again")  # a key held: once
            assert inserts == []
    assert inserts == [2]
    assert await _keys(sessions) == ["closed:1", "told:1"]
    assert queued == ["closed:1", "told:1"]


async def test_a_row_queued_at_once_comes_after_the_rows_held_before_it(sessions, inserts):
    with outbox.watching() as queued:
        async with sessions() as s, s.begin():
            await outbox.enqueue_later(s, "closed:1", 7001, "closed")
            assert await outbox.enqueue(s, "closed:1", 7001, "closed") is False  # held first
            assert await outbox.enqueue(s, "told:1", 7002, "told") is True
    assert inserts == [1, 1, 1]  # the held row, then each at once
    assert await _keys(sessions) == ["closed:1", "told:1"]
    assert queued == ["closed:1", "told:1"]


async def test_a_key_queued_before_is_not_queued_again_nor_claimed(sessions):
    async with sessions() as s, s.begin():
        await outbox.enqueue(s, "told:1", 7002, "the first")
    with outbox.watching() as queued:
        async with sessions() as s, s.begin():
            await outbox.enqueue_later(s, "told:1", 7002, "the second")
            await outbox.enqueue_later(s, "told:2", 7002, "another")
    assert queued == ["told:2"]
    async with sessions() as s:
        first = await s.scalar(select(Outbox).where(Outbox.dedup_key == "told:1"))
    assert first.payload["text"] == "the first"


async def test_the_transactions_reads_of_the_outbox_see_the_rows_held(sessions):
    async with sessions() as s, s.begin():
        await outbox.enqueue_later(s, "req:1:v1:card:5", 7005, "a copy of a card")
        cards = await outbox.cards_under(s, "req:1:v1:card:")  # on the connection
        assert [card.dedup_key for card in cards] == ["req:1:v1:card:5"]
        await outbox.enqueue_later(s, "told:1", 7002, "told")
        found = await s.scalar(select(Outbox.chat_id).where(Outbox.dedup_key == "told:1"))
        assert found == 7002  # through the session


async def test_the_claim_takes_the_rows_held(sessions):
    from handlers.reply import _claim_queued, _held, _Holding

    with outbox.watching():
        async with sessions() as s, s.begin():
            await outbox.enqueue_later(s, "told:1", 7002, "told")
            token = _held.set(_Holding())
            try:
                await _claim_queued(s)
                claimed = _held.get().claimed
            finally:
                _held.reset(token)
    assert [row.dedup_key for row, _ in claimed] == ["told:1"]


async def test_a_rolled_back_transactions_rows_are_not_written_by_the_next(sessions):
    async with sessions() as s:
        with pytest.raises(RuntimeError):
            async with s.begin():
                await outbox.enqueue_later(s, "undone:1", 7001, "undone")
                raise RuntimeError("the update failed")
        async with s.begin():  # the same session's next transaction
            await outbox.enqueue(s, "kept:1", 7001, "kept")
    assert await _keys(sessions) == ["kept:1"]


async def test_a_row_held_in_a_savepoint_goes_with_its_rollback(sessions):
    async with sessions() as s, s.begin():
        await outbox.enqueue_later(s, "before:1", 7001, "before")
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                await outbox.enqueue_later(s, "inside:1", 7001, "inside")
                raise RuntimeError("the savepoint failed")
        await outbox.enqueue_later(s, "after:1", 7001, "after")
    assert await _keys(sessions) == ["before:1", "after:1"]
