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
    query = outbox._sent(postgresql).params(low=low, high=high)  # outbox.cards_under
    async with engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if postgresql:
            await conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(await conn.scalars(text(f"EXPLAIN {sql}")))
            assert "ix_outbox_dedup_key_c" in plan, plan
        else:
            rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            plan = "\n".join(row[-1] for row in rows)
            assert "SEARCH outbox USING" in plan and "(dedup_key>? AND dedup_key<?)" in plan, plan
