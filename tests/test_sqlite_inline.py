"""SQLite statements of an update run in the event loop's thread where they cannot wait, and
nothing that may wait (a lock, a long read, a job's work) ever holds up the loop (decision 67,
ninth round)."""

import asyncio
import contextlib
import sqlite3
import threading

import pytest
from sqlalchemy import event, text

from bot import sqlite_onehop
from bot.db import make_engine
from jobs.tick import tick


@pytest.fixture
async def bare(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def where(dbapi_conn, _record) -> None:  # which thread runs a statement, asked in SQL
        raw = dbapi_conn._connection._connection
        raw.create_function("thread", 0, threading.get_ident)

    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER, thread INTEGER)"))
    yield engine
    await engine.dispose()


LOOP = threading.get_ident  # the tests run in the loop's thread


async def _read_thread(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT thread()"))).scalar_one()


async def test_an_updates_read_runs_in_the_loops_thread_a_jobs_in_the_worker(bare):
    with sqlite_onehop.inline_here():
        assert await _read_thread(bare) == LOOP()
    assert await _read_thread(bare) != LOOP()  # a job (no update being handled)


async def test_a_statement_neither_read_nor_write_goes_to_the_worker(bare):
    """A WITH … (it may lead a long read or a write) is not told apart here: the worker runs it."""
    with sqlite_onehop.inline_here():
        async with bare.connect() as conn:
            cte = text("WITH x AS (SELECT thread() AS t) SELECT t FROM x")
            assert (await conn.execute(cte)).scalar_one() != LOOP()


async def test_an_updates_writes_run_here_while_the_write_lock_is_free(bare):
    with sqlite_onehop.inline_here():
        async with bare.begin() as conn:
            for n in range(3):
                await conn.execute(text("INSERT INTO t VALUES (:n, thread())"), {"n": n})
    async with bare.connect() as conn:
        threads = [t for (t,) in await conn.execute(text("SELECT thread FROM t ORDER BY n"))]
        # the first write took the free lock without waiting; the connection waits as before
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 5000
    assert threads == [LOOP(), LOOP(), LOOP()]


async def test_a_long_read_is_stopped_and_read_again_in_the_worker(bare, monkeypatch):
    """A read past READ_BUDGET stops in the loop's thread and the worker answers it whole."""
    monkeypatch.setattr(sqlite_onehop, "READ_BUDGET", 0.0)
    count = text(
        "SELECT count(*), thread() FROM (WITH RECURSIVE c(i) AS "
        "(SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) SELECT i FROM c)"
    )
    with sqlite_onehop.inline_here():
        async with bare.connect() as conn:
            counted, thread = (await conn.execute(count)).one()
            assert (counted, thread != LOOP()) == (200000, True)
            # the connection is as usable afterwards, short reads in the loop's thread again
            assert (await conn.execute(text("SELECT thread()"))).scalar_one() == LOOP()


async def test_a_write_waiting_for_another_writers_lock_leaves_the_loop_free(bare, tmp_path):
    """Another process holds the write lock: the update's write waits for it in the worker,
    and the loop goes on meanwhile (here: it is the loop that lets the other writer finish)."""
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def write() -> None:
        with sqlite_onehop.inline_here():
            async with bare.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1, thread())"))

    writing = asyncio.create_task(write())
    for _ in range(20):  # 0.2 s of the loop running while the write waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert not writing.done()
    other.execute("COMMIT")  # only the loop can get here: had the write blocked it, no tick
    await asyncio.wait_for(writing, 5)
    other.close()
    assert ticks == 20
    async with bare.connect() as conn:
        (thread,) = (await conn.execute(text("SELECT thread FROM t"))).one()
    assert thread != LOOP()  # it waited in the worker


async def test_the_bot_runs_an_updates_statements_here_and_a_ticks_in_the_worker(
    app, director, monkeypatch
):
    ran_here: list[bool] = []

    def spy(conn, work, operation, parameters):
        done = inline(conn, work, operation, parameters)
        ran_here.append(done is not None)
        return done

    inline = sqlite_onehop._inline
    monkeypatch.setattr(sqlite_onehop, "_inline", spy)
    await director.send("/help")
    assert "/staff" in director.inbox[-1].plain
    assert True in ran_here  # the sender's row, read in the loop's thread
    ran_here.clear()
    await tick(app.bot_data, app.bot)
    assert ran_here == []  # a job: every statement in the worker


async def _commit_threads(engine, inserts: int, inline: bool) -> dict[str, set[int]]:
    """Commit `inserts` one-row transactions; which threads ran COMMIT and each checkpoint."""
    seen: dict[str, set[int]] = {"COMMIT": set(), "PRAGMA wal_checkpoint(PASSIVE)": set()}

    def traced(sql: str) -> None:
        if sql in seen:
            seen[sql].add(threading.get_ident())

    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection._connection
        raw.set_trace_callback(traced)
        try:
            for n in range(inserts):
                with sqlite_onehop.inline_here() if inline else contextlib.nullcontext():
                    await conn.execute(
                        text("INSERT INTO t VALUES (:n, randomblob(3000))"), {"n": n}
                    )
                    await conn.commit()
        finally:
            raw.set_trace_callback(None)
    return seen


async def test_an_updates_commit_runs_here_and_a_jobs_in_the_worker(bare):
    """WAL with synchronous=NORMAL: a commit writes to the WAL and syncs nothing."""
    assert (await _commit_threads(bare, 3, inline=True))["COMMIT"] == {LOOP()}
    jobs = (await _commit_threads(bare, 3, inline=False))["COMMIT"]
    assert jobs and LOOP() not in jobs


async def test_the_wal_is_checkpointed_in_the_worker_every_so_many_commits(
    bare, tmp_path, monkeypatch
):
    """SQLite's own checkpoint would fall on a commit in the loop's thread: it is off, and the
    worker takes one every CHECKPOINT_EVERY commits, so the WAL does not grow without end."""
    monkeypatch.setattr(sqlite_onehop, "CHECKPOINT_EVERY", 5)
    seen = await _commit_threads(bare, 60, inline=True)
    checkpoints = seen["PRAGMA wal_checkpoint(PASSIVE)"]
    assert checkpoints and LOOP() not in checkpoints
    # 60 commits of a 3 kB row: ~60 pages of 4 kB in the WAL, had nothing been checkpointed;
    # it starts over after each checkpoint, so it holds about five commits' pages at most.
    assert (tmp_path / "inline.db-wal").stat().st_size < 20 * 4096
