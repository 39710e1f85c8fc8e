"""Database engine and sessions, and a DateTime type that is always aware UTC."""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import DateTime, event, insert
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.types import TypeDecorator

from bot import sqlite_onehop

SQLITE_BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and returns them aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use bot.clock.now()")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: keep UTC wall time so values sort and compare as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs) -> AsyncEngine:
    """Create the async engine (SQLite: WAL, busy timeout, foreign keys; PostgreSQL: a pooled
    connection that sat idle is tested before use)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        if url.startswith("sqlite+aiosqlite"):
            kwargs.setdefault("module", sqlite_onehop.dbapi())  # one thread hop per statement
            # …or none: the loop's thread runs an update's reads itself (sqlite_onehop.inline_here;
            # never at the same time as the worker: each connection's calls are awaited in turn).
            kwargs["connect_args"] = {"check_same_thread": False, **kwargs["connect_args"]}
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    elif "pool_pre_ping" not in kwargs:
        _ping_when_idle(engine)
    event.listen(engine.sync_engine, "before_cursor_execute", _without_nul, retval=True)
    return engine


# A pooled PostgreSQL connection idle longer than this is tested before use (see below).
PING_AFTER_IDLE = 5.0  # seconds


def _ping_when_idle(engine: AsyncEngine) -> None:
    """After a PostgreSQL restart every pooled connection is dead: one that sat idle is tested
    before use (a round trip) rather than failing the job or update that takes it, and is
    replaced if dead. One in use moments ago is not tested: `pool_pre_ping` tested every
    checkout, ~0.2 ms of CPU for every transaction of a busy bot (decision 67, ninth round). A
    restart in the middle of busy use fails the statement that meets it, and SQLAlchemy then
    renews the whole pool (its disconnect handling)."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "connect")
    @event.listens_for(pool, "checkin")
    def idle_from_now(_dbapi_conn, record) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def alive(dbapi_conn, record, _proxy) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) <= PING_AFTER_IDLE:
            return
        try:
            dbapi_conn.ping()
        except Exception as error:  # dead: the pool connects afresh and tries again
            raise DisconnectionError() from error


def _without_nul(conn, cursor, statement, parameters, context, executemany):
    # PostgreSQL text cannot hold U+0000 (it refuses the whole statement) and Telegram shows
    # nothing for it, yet forged button data or pasted text can carry one: it is dropped here,
    # the one door every write and lookup goes through, on both databases alike.
    if executemany:
        return statement, [_row_without_nul(row) for row in parameters]
    return statement, _row_without_nul(parameters)


def _row_without_nul(row):
    def clean(value):
        return value.replace("\x00", "") if isinstance(value, str) else value

    if isinstance(row, dict):
        return {key: clean(value) for key, value in row.items()}
    if isinstance(row, list | tuple):
        return type(row)(clean(value) for value in row)
    return row


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    if not _is_memory(dbapi_conn):
        cursor.execute("PRAGMA journal_mode=WAL")
        wal = cursor.fetchone()[0] == "wal"  # some file systems refuse it
        # WAL's recommended setting (SQLite's docs; Rails' default): a commit is not synced to
        # the disk, a checkpoint is. A crash of the process loses nothing; a power cut may lose
        # the last commits, never the file. FULL synced every commit: ~0.12 ms of CPU and
        # 0.26 ms with the write lock held, each (decision 67, eleventh round).
        cursor.execute("PRAGMA synchronous=NORMAL")
        if wal and isinstance(dbapi_conn, sqlite_onehop.OneHopConnection):
            dbapi_conn.take_checkpoints()  # an update's commit runs in the loop's thread
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _is_memory(dbapi_conn) -> bool:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA database_list")
    rows = cursor.fetchall()
    cursor.close()
    return any(row[2] == "" for row in rows if row[1] == "main")


class OpsSession(Session):
    """The sessions `make_sessionmaker` makes (what listens to them: bot/services/audit.py,
    bot/outbox.py)."""


def held_for_transaction(
    session: Session, key: str, make: Callable[[], T] | None = None
) -> T | None:
    """What `session.info[key]` holds for the session's current transaction; None when it holds
    nothing for it (what a transaction that ended, rolled back, left there is not this one's).
    With `make`: made and held when missing."""
    transaction = session.get_transaction()
    held = session.info.get(key)
    if held is not None and held[0] is transaction:
        return held[1]
    if make is None:
        return None
    value = make()
    session.info[key] = (transaction, value)
    return value


def take_held_for_transaction(session: Session, key: str) -> Any | None:
    """`held_for_transaction`, and no longer held; None in a savepoint, where nothing held is
    taken to be written: the savepoint's rollback would take with it what was held before."""
    if session.in_nested_transaction():
        return None
    value = held_for_transaction(session, key)
    session.info.pop(key, None)
    return value


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay usable after commit (no lazy reloads in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=OpsSession)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session, one transaction: commits on success, rolls back on error."""
    async with sessions() as session, session.begin():
        yield session


def insert_for(session_or_conn):
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike)."""
    return insert_for_dialect(session_or_conn.bind.dialect.name == "postgresql")


@cache
def insert_for_dialect(postgresql: bool):
    """`insert_for` by dialect: PostgreSQL's INSERT, or SQLite's."""
    # Imported once, on first use (an import statement per update cost ~0.1 ms of CPU).
    if postgresql:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def loaded(session: AsyncSession, model: type[T], values: dict[str, Any]) -> T:
    """`values` (every column, the id too), just written by a Core INSERT, as a persistent
    object of `session`, as if read back: changed later, it is UPDATEd as usual. The ORM's own
    INSERT of an object (its unit of work, or an ORM INSERT … RETURNING) cost an update
    ~0.3 ms of CPU more (decision 67, ninth round)."""
    # Made as a query's loading makes it: no constructor, the values set in the object's dict
    # without attribute events (the constructor's events cost ~13 µs an object, and an update
    # loads five to ten).
    obj = model.__mapper__.class_manager.new_instance()
    instance_dict(obj).update(values)
    make_transient_to_detached(obj)  # persistent's key, nothing in its history
    session.add(obj)
    return obj


def labelled(prefix: str, model: type) -> list:
    """Every column of `model`'s table labelled `prefix` + its name (several tables read in one
    statement as plain rows, for `row_values`)."""
    return [column.label(f"{prefix}{column.key}") for column in model.__table__.c]


def row_values(row: Row, prefix: str, model: type) -> dict[str, Any]:
    """The columns of `model` read `labelled` with `prefix` in `row`, for `loaded`."""
    return {column.key: row._mapping[f"{prefix}{column.key}"] for column in model.__table__.c}


async def connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection in its current transaction, for Core statements. Asked of the
    session once per transaction: every `session.connection()` crossed into a greenlet and
    rebuilt its proxy (13 µs in a tight loop, up to ~0.1 ms as sampled in the running bot;
    five or six times an approval: decision 67, twelfth round)."""
    held = session.info.get(_HELD)
    if held is not None and held[0] == _transactions(session):
        return held[1]
    conn = await session.connection()
    session.info[_HELD] = (_transactions(session), conn)
    return conn


_HELD = "opsbot.connection"  # session.info: (the transactions, their connection)


def _transactions(session: AsyncSession) -> tuple:
    # A commit or rollback ends the root transaction: the next one asks again. So does a
    # savepoint, begun or ended: the session emits SAVEPOINT when it is next asked for its
    # connection, and a statement run before that would not be undone with the savepoint.
    sync = session.sync_session
    return sync.get_transaction(), sync.get_nested_transaction()


async def insert_row(session: AsyncSession, model: type[T], values: dict[str, Any]) -> T:
    """INSERT a row of `model` (every column but the id) on the session's connection, and
    return it `loaded`."""
    conn = await connection(session)
    new_id = (await conn.execute(_returning_id(model.__table__), values)).scalar_one()
    return loaded(session, model, {**values, "id": new_id})


@cache
def _returning_id(table):
    return insert(table).returning(table.c.id)  # built once per table
