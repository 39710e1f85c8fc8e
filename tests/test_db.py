"""The database layer: aware UTC datetimes round-trip; SQLite is configured for concurrency."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from bot import db
from bot.db import make_engine
from bot.models import AuditLog

pytestmark = pytest.mark.databases


async def test_it_round_trips_aware_datetimes_as_utc(sessions):
    shanghai_noon = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    async with sessions() as s, s.begin():
        s.add(AuditLog(at=shanghai_noon, actor_telegram_id=1, action="x", details={}))
    async with sessions() as s:
        stored = await s.scalar(select(AuditLog.at))
    assert stored == shanghai_noon
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored.hour == 4


async def test_it_refuses_naive_datetimes(sessions):
    with pytest.raises(Exception, match="naive"):
        async with sessions() as s, s.begin():
            s.add(AuditLog(at=datetime(2026, 1, 1), actor_telegram_id=1, action="x", details={}))


async def test_it_orders_datetimes_correctly_across_zones(sessions):
    early = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    later_in_other_zone = datetime(2026, 12, 2, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    async with sessions() as s, s.begin():
        s.add(AuditLog(at=later_in_other_zone, actor_telegram_id=1, action="late", details={}))
        s.add(AuditLog(at=early, actor_telegram_id=1, action="early", details={}))
    async with sessions() as s:
        actions = list(await s.scalars(select(AuditLog.action).order_by(AuditLog.at)))
    assert actions == ["early", "late"]


async def test_it_stores_telegram_ids_beyond_32_bits(sessions):
    big = -1001234567890
    async with sessions() as s, s.begin():
        s.add(AuditLog(at=datetime.now(UTC), actor_telegram_id=big, action="x", details={}))
    async with sessions() as s:
        assert await s.scalar(select(AuditLog.actor_telegram_id)) == big


async def test_the_connection_held_for_core_statements_follows_the_sessions_transactions(sessions):
    """`db.connection` asks the session once per transaction: after a commit or a rollback the
    next statement runs in the new transaction, and a savepoint shares its connection."""

    async def write(session, action: str) -> None:
        row = {"at": datetime.now(UTC), "actor_telegram_id": 1, "action": action, "details": {}}
        await (await db.connection(session)).execute(AuditLog.__table__.insert(), row)

    async with sessions() as s:
        await write(s, "committed")
        assert await db.connection(s) is await db.connection(s)
        await s.commit()
        await write(s, "rolled back")
        await s.rollback()
        await write(s, "kept")
        async with s.begin_nested() as savepoint:
            await write(s, "undone")
            await savepoint.rollback()
        await write(s, "after the savepoint")
        await s.commit()
    async with sessions() as s:
        actions = set(await s.scalars(select(AuditLog.action)))
    assert actions == {"committed", "kept", "after the savepoint"}


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    """WAL with synchronous NORMAL (1): a commit is not synced, a checkpoint is (decision 67)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 1
    await engine.dispose()


async def test_sqlite_makes_one_trip_to_its_thread_per_statement(tmp_path, monkeypatch):
    """bot/sqlite_onehop.py: execute, fetch and close in one call into aiosqlite's worker thread;
    a transaction that wrote nothing needs no commit there (decision 67)."""
    import aiosqlite.core

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
    trips: list[str] = []
    real = aiosqlite.core.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    async with engine.connect() as conn:  # a read: one trip, no commit, no rollback
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    assert len(trips) == 1
    trips.clear()
    async with engine.begin() as conn:  # a write: the statement, then the commit
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}])
        rows = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).all()
    assert [r.name for r in rows] == ["a", "b"] and len(trips) == 3
    await engine.dispose()


# ---- PostgreSQL: a pooled connection that sat idle is tested before use ----------------------


async def _backend(engine) -> int:
    async with engine.begin() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


@pytest.mark.postgresql_only
async def test_an_idle_pooled_connection_that_died_is_replaced_unnoticed(db_url, monkeypatch):
    """PostgreSQL restarted (here: the connection's backend terminated) while the bot sat idle:
    the next transaction gets a fresh connection instead of an error."""
    engine = make_engine(db_url)
    try:
        first = await _backend(engine)
        admin = make_engine(db_url)
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await admin.dispose()
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # it has sat idle long enough
        assert await _backend(engine) != first
    finally:
        await engine.dispose()


@pytest.mark.postgresql_only
async def test_a_connection_in_use_moments_ago_is_not_tested_again(db_url, monkeypatch):
    """A busy bot's transactions pay no round trip before each one."""
    pings: list[object] = []
    real = AsyncAdapt_asyncpg_connection.ping

    def counted(self) -> None:
        pings.append(self)
        real(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    engine = make_engine(db_url)
    try:
        for _ in range(5):
            await _backend(engine)
        assert pings == []  # each taken moments after its last use (or just connected)
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
        await _backend(engine)
        assert len(pings) == 1
    finally:
        await engine.dispose()
