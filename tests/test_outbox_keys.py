"""Outbox rows read by the prefix of their keys: exactly those rows, through an index, so a
decision's read does not grow with every message the bot ever sent (decision 67, tenth round)."""

import pytest
from sqlalchemy import select, text

from bot import outbox
from bot.models import Outbox

pytestmark = pytest.mark.databases

KEYS = [
    "req:1:v1:card:5",
    "req:1:v1:card:5:closed",
    "req:1:v1:card:6",
    "req:1:v1:card",  # the prefix without its last colon: another key
    "req:1:v1:cardX",
    "req:1:v1:card;",  # the character after ":"
    "req:10:v1:card:5",  # another request whose id begins with 1
    "req:1:v2:card:5",
    "REQ:1:v1:card:5",  # LIKE is case-insensitive on SQLite; a key is not
]


async def _keys(sessions, prefix: str) -> list[str]:
    async with sessions() as s:
        rows = await s.scalars(
            select(Outbox.dedup_key).where(outbox.keys_starting(s, prefix)).order_by(Outbox.id)
        )
        return list(rows)


async def test_a_prefix_reads_exactly_the_keys_that_begin_with_it(app, sessions):
    async with sessions() as s, s.begin():
        for key in KEYS:
            await outbox.enqueue(s, key, 7001, key)
    assert await _keys(sessions, "req:1:v1:card:") == [
        "req:1:v1:card:5",
        "req:1:v1:card:5:closed",
        "req:1:v1:card:6",
    ]
    assert await _keys(sessions, "req:1:v") == [k for k in KEYS if k.startswith("req:1:v")]
    assert await _keys(sessions, "req:2:") == []


async def test_a_decisions_read_of_its_cards_goes_through_an_index(app, engine):
    """Read from the plan, not timed: SQLite searches its unique index on the key;
    PostgreSQL, with sequential scans off so a small table cannot hide it, its C-collation
    index (migration 0021). With LIKE, both scanned the whole outbox."""
    postgresql = engine.dialect.name == "postgresql"
    low, high = outbox.key_bounds("req:1:v1:card:")
    await _uses_the_key_index(engine, outbox._sent(postgresql).params(low=low, high=high))
    # A press reads the cards with its request: the same index, inside the request's statement.
    column = select(outbox.cards_column(postgresql)).params(low=low, high=high)
    await _uses_the_key_index(engine, column)


async def _uses_the_key_index(engine, query) -> None:
    async with engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(await conn.scalars(text(f"EXPLAIN {sql}")))
            assert "ix_outbox_dedup_key_c" in plan, plan
        else:
            rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            plan = "\n".join(row[-1] for row in rows)
            assert "SEARCH outbox USING" in plan and "(dedup_key>? AND dedup_key<?)" in plan, plan


PREFIX = "req:1:v1:card:"


async def _queue_cards(sessions) -> None:
    """Copies of a card: one sent (its message id known), a photo one, one with files after
    it, and rows under the prefix that are no copies (an edit, a file, the next version)."""
    async with sessions() as s, s.begin():
        await outbox.enqueue(s, f"{PREFIX}5", 7005, "card")
        await outbox.enqueue(s, f"{PREFIX}6", 7006, "card", method="sendPhoto")
        await outbox.enqueue(s, f"{PREFIX}8", 7008, "card")
        await outbox.enqueue(s, f"{PREFIX}8:f1", 7008, "", method="sendDocument")
        await outbox.enqueue(s, f"{PREFIX}5:closed", 7005, "closed", method="editMessageText")
        await outbox.enqueue(s, "req:1:v2:card:5", 7005, "next version")
        sent = await s.scalar(select(Outbox).where(Outbox.dedup_key == f"{PREFIX}5"))
        sent.message_id = 4242


async def _held(s) -> None:
    """What a press reads with its request (approvals._with_proposer), held for the transaction."""
    low, high = outbox.key_bounds(PREFIX)
    postgresql = s.bind.dialect.name == "postgresql"
    column = select(outbox.cards_column(postgresql))
    outbox.hold_cards(s, PREFIX, await s.scalar(column, {"low": low, "high": high}))


async def test_cards_read_with_a_request_are_those_read_alone(app, sessions):
    await _queue_cards(sessions)
    async with sessions() as s, s.begin():
        alone = await outbox.cards_under(s, PREFIX)
    async with sessions() as s, s.begin():
        await _held(s)
        held = await outbox.cards_under(s, PREFIX)
    assert held == alone
    assert alone == [
        outbox.Card(f"{PREFIX}5", 7005, "sendMessage", 4242),
        outbox.Card(f"{PREFIX}6", 7006, "sendPhoto", None),
        outbox.Card(f"{PREFIX}8", 7008, "sendMessage", None),
    ]


async def test_held_cards_give_way_to_a_copy_queued_after_them(app, sessions):
    await _queue_cards(sessions)
    async with sessions() as s, s.begin():
        await _held(s)
        await outbox.enqueue(s, f"{PREFIX}9", 7009, "a late copy")
        cards = await outbox.cards_under(s, PREFIX)
    assert [outbox.reader_of(card) for card in cards] == [5, 6, 8, 9]


async def test_held_cards_are_for_the_transaction_that_read_them(app, sessions):
    await _queue_cards(sessions)
    async with sessions() as s:
        async with s.begin():
            await _held(s)
        async with sessions() as other, other.begin():
            await outbox.enqueue(other, f"{PREFIX}9", 7009, "queued meanwhile")
        async with s.begin():
            cards = await outbox.cards_under(s, PREFIX)
    assert [outbox.reader_of(card) for card in cards] == [5, 6, 8, 9]
