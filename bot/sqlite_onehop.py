"""SQLite through aiosqlite with one trip to its thread per statement, not three or four.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes it as four separate
calls into aiosqlite's worker thread; each is a queue put, a thread switch and a wake-up of the
event loop (~0.2 ms of CPU here), so a two-statement update made nine. This adapter runs the
four together in one call, and skips the commit or rollback of a connection that has no open
transaction (SQLite begins one only before a write). It is handed to SQLAlchemy as the DBAPI
module (`create_async_engine(module=…)`, a documented argument), so the dialect, the pool and
every statement are SQLAlchemy's own (decision 67).

While the bot handles an update (`inline_here`, bot/app.py), a statement that cannot wait runs
in the event loop's own thread, no trip at all: a read (WAL readers take no lock), stopped
after READ_BUDGET and read again in the worker should it run long; a transaction's first write
when SQLite's one write lock is free (tried without a busy wait; taken, the worker waits for
it); every write after it, the lock held; and its commit, which in WAL with synchronous=NORMAL
writes to the WAL and syncs nothing (decision 67, thirteenth round). What syncs the disk is a
checkpoint: SQLite's own, which falls on whichever commit fills the WAL, are off, and the
worker takes one every CHECKPOINT_EVERY commits. Everything a job runs still goes to the
worker, so the loop never waits on a lock or the disk (ninth round).
"""

import collections
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# A read in the loop's thread stops after this long and goes to the worker instead: a long
# report or export must not hold up every other update meanwhile.
READ_BUDGET = 0.005  # seconds
_PROGRESS_STEPS = 2_000  # SQLite virtual machine steps between looks at the clock
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_LOCKED = re.compile(r"database is (locked|busy)")
_INLINE: ContextVar[bool] = ContextVar("sqlite_inline", default=False)
log = logging.getLogger(__name__)
# A connection that takes its own checkpoints (`take_checkpoints`) takes one every this many
# commits. SQLite's default is at 1,000 pages of WAL; an update writes 5 to 10.
CHECKPOINT_EVERY = 100


@contextmanager
def inline_here() -> Iterator[None]:
    """Let the statements awaited inside run in the loop's thread where they cannot wait (the
    update being handled; jobs stay in the worker)."""
    token = _INLINE.set(True)
    try:
        yield
    finally:
        _INLINE.reset(token)


def _inline(conn: sqlite3.Connection, work, operation: str, parameters: Any) -> tuple | None:
    """Run `work` here when it cannot wait: None when it must go to the worker (a first write
    that found the lock taken, or a read that ran past READ_BUDGET and was stopped)."""
    if _WRITE.match(operation):
        # sqlite3 begins a transaction just before a write and holds the write lock from it.
        if conn.in_transaction:
            return work(conn, operation, parameters)
        return _first(conn, work, operation, parameters)
    if not _READ.match(operation):
        return None  # anything else (WITH …, PRAGMA …): the worker, as before
    deadline = time.perf_counter() + READ_BUDGET
    conn.set_progress_handler(lambda: time.perf_counter() > deadline, _PROGRESS_STEPS)
    try:
        return work(conn, operation, parameters)
    except sqlite3.OperationalError as error:
        if str(error) != "interrupted":
            raise
        return None  # a stopped SELECT changed nothing, and its transaction goes on
    finally:
        conn.set_progress_handler(None, 0)


def _first(conn: sqlite3.Connection, work, operation: str, parameters: Any) -> tuple | None:
    """A transaction's first write, here if the write lock is free this instant (no busy wait
    here: another writer holds it, and the worker waits for it with the busy timeout)."""
    (waits,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        return work(conn, operation, parameters)
    except sqlite3.OperationalError as error:
        if not _LOCKED.search(str(error)):
            raise
        return None  # nothing was written: the worker runs it again, waiting for the lock
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(waits)}")


class OneHopCursor:
    """A DBAPI cursor whose execute runs, fetches and closes in the worker thread at once."""

    server_side = False
    arraysize = 1

    def __init__(self, adapt_connection: "OneHopConnection") -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection  # the aiosqlite.Connection
        self._rows: collections.deque = collections.deque()
        self.description = None
        self.rowcount = -1
        self.lastrowid = None

    def execute(self, operation: str, parameters: Any = None) -> None:
        try:
            await_(self._run(_execute_in_thread, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        try:
            await_(self._run(_executemany_in_thread, operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, work, operation: str, parameters: Any) -> None:
        async with self._adapt_connection._execute_mutex:
            conn = self._connection._connection
            if conn is None:
                raise ValueError("no active connection")
            done = _inline(conn, work, operation, parameters) if _INLINE.get() else None
            if done is None:
                done = await self._connection._execute(work, conn, operation, parameters)
        self.description, self.rowcount, self.lastrowid, rows = done
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in the thread."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        """Not used by SQLite."""

    def __enter__(self) -> "OneHopCursor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self):
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list:
        rows = list(self._rows)
        self._rows.clear()
        return rows


def _execute_in_thread(conn: sqlite3.Connection, operation: str, parameters: Any) -> tuple:
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else ()
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _executemany_in_thread(conn: sqlite3.Connection, operation: str, seq: Any) -> tuple:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq)
        return cursor.description, cursor.rowcount, cursor.lastrowid, ()
    finally:
        cursor.close()


def _checkpoint_due(connection: aiosqlite.Connection) -> bool:
    """Count a commit of `connection`; True once every CHECKPOINT_EVERY."""
    connection._opsbot_commits += 1
    if connection._opsbot_commits < CHECKPOINT_EVERY:
        return False
    connection._opsbot_commits = 0
    return True


def _commit_and_checkpoint(conn: sqlite3.Connection) -> None:
    conn.commit()
    try:  # PASSIVE: copies what no reader still needs and waits for nobody
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    except sqlite3.Error:  # committed all the same; the next one copies what this one left
        log.warning("WAL checkpoint failed", exc_info=True)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection with one-hop cursors, no empty commits, and an
    update's commits in the loop's thread."""

    __slots__ = ()
    _cursor_cls = OneHopCursor

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if not self._in_transaction():
            return
        if not self.takes_checkpoints:  # not WAL: a commit may sync the disk
            super().commit()
        elif _checkpoint_due(self._connection):  # a checkpoint syncs the disk: the worker's
            self._await_in_worker(_commit_and_checkpoint)
        elif _INLINE.get():
            # Here: WAL with synchronous=NORMAL syncs nothing at a commit (only a checkpoint
            # does, and this connection makes none of its own), and the lock is held already.
            try:
                self._connection._connection.commit()
            except Exception as error:
                self._handle_exception(error)
        else:
            super().commit()

    @property
    def takes_checkpoints(self) -> bool:
        """Whether this connection checkpoints the WAL itself, every CHECKPOINT_EVERY commits
        (`take_checkpoints`), instead of SQLite at whichever commit fills it."""
        return getattr(self._connection, "_opsbot_commits", None) is not None

    def take_checkpoints(self) -> None:
        """For a file in WAL mode: SQLite's own checkpoints off (one could fall on a commit in
        the loop's thread), this connection's every CHECKPOINT_EVERY commits on, and an
        update's commits in the loop's thread."""
        cursor = self.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        self._connection._opsbot_commits = 0

    def _await_in_worker(self, work) -> None:
        try:
            await_(self._connection._execute(work, self._connection._connection))
        except Exception as error:
            self._handle_exception(error)

    def _in_transaction(self) -> bool:
        # Read from the loop's thread: sqlite3 checks no thread for this attribute, and the
        # worker is idle (this connection's calls are awaited one at a time).
        conn = self._connection._connection
        return conn is not None and conn.in_transaction


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy is given: its connections are OneHopConnections."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = super().connect(*arg, **kw)
        connection.__class__ = OneHopConnection  # same slots: the subclass adds none
        return connection


def dbapi() -> OneHopDBAPI:
    """The module to pass as `create_async_engine(url, module=dbapi())` for sqlite+aiosqlite."""
    return OneHopDBAPI(aiosqlite, sqlite3)
