"""Migrations: the models and the migrations agree; upgrade → downgrade → upgrade works."""

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot import migrate
from bot.db import make_engine
from bot.models import Base

pytestmark = pytest.mark.databases


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_database_factory")()


def _diff(conn):
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _tables(conn):
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


async def test_it_creates_exactly_the_models_schema(empty_url):
    engine = make_engine(empty_url)
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


async def test_it_upgrades_downgrades_and_upgrades_again(empty_url):
    engine = make_engine(empty_url)
    assert await migrate.current(engine) is None
    await migrate.upgrade(engine)
    head = await migrate.current(engine)
    assert head is not None
    await migrate.downgrade(engine, "base")
    assert await migrate.current(engine) is None
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set()
    await migrate.upgrade(engine)
    assert await migrate.current(engine) == head
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set(Base.metadata.tables)
    await engine.dispose()


async def test_upgrading_twice_is_harmless(empty_url):
    engine = make_engine(empty_url)
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)
    assert await migrate.current(engine) is not None
    await engine.dispose()


async def test_it_settles_obligations_whose_report_was_filed_but_never_linked(empty_url):
    """Migration 0010 repairs what the code before decision 38 left behind."""
    engine = make_engine(empty_url)
    await migrate.upgrade(engine, "0009")
    day = "2026-11-26"
    rows = [  # (staff, obligation status, report filed at, due, closes)
        (1, "missed", f"{day} 02:00:08", f"{day} 10:00:00", "2026-11-27 04:00:00"),  # on time
        (2, "open", f"{day} 11:00:00", f"{day} 10:00:00", "2026-11-27 04:00:00"),  # late
        (3, "missed", "2026-11-27 05:00:00", f"{day} 10:00:00", "2026-11-27 04:00:00"),  # closed
        (4, "missed", None, f"{day} 10:00:00", "2026-11-27 04:00:00"),  # really missed
    ]
    async with engine.begin() as conn:
        for staff, status, filed, due, closes in rows:
            await conn.execute(
                text(
                    "INSERT INTO staff (id, telegram_id, display_name, locale, active, joined_at) "
                    "VALUES (:id, :tg, 'x', 'zh', true, :at)"
                ),
                {"id": staff, "tg": 1000 + staff, "at": _ts(f"{day} 01:00:00")},
            )
            await conn.execute(
                text(
                    "INSERT INTO obligations (id, staff_id, form_key, period_key, due_at, "
                    "closes_at, status, reminder_step, created_at) VALUES "
                    "(:id, :id, 'daily', :day, :due, :closes, :status, 2, :due)"
                ),
                {
                    "id": staff,
                    "day": day,
                    "due": _ts(due),
                    "closes": _ts(closes),
                    "status": status,
                },
            )
            if filed:
                await conn.execute(
                    text(
                        "INSERT INTO reports (staff_id, form_key, period_key, answers, fields, "
                        "version, late, filed_at, updated_at) VALUES "
                        "(:id, 'daily', :day, '{}', '{}', 1, false, :at, :at)"
                    ),
                    {"id": staff, "day": day, "at": _ts(filed)},
                )

    await migrate.upgrade(engine)

    async with engine.connect() as conn:
        status = dict((await conn.execute(text("SELECT id, status FROM obligations"))).all())
        links = dict(
            (await conn.execute(text("SELECT staff_id, obligation_id FROM reports"))).all()
        )
        late = dict((await conn.execute(text("SELECT staff_id, late FROM reports"))).all())
    await engine.dispose()
    assert status == {1: "filed", 2: "late", 3: "missed", 4: "missed"}
    assert links == {1: 1, 2: 2, 3: None}
    assert (bool(late[1]), bool(late[2])) == (False, True)


def _ts(value: str):
    return datetime.fromisoformat(value)


async def test_to_head_migrates_a_fresh_or_old_database_and_leaves_one_at_head_alone(
    empty_url, monkeypatch
):
    """startup() calls to_head: a cheap check first, a full Alembic run only when behind."""
    engine = make_engine(empty_url)
    assert not await migrate.at_head(engine)
    await migrate.to_head(engine)  # fresh: migrated
    assert await migrate.current(engine) in migrate.heads()
    await migrate.downgrade(engine, "-1")
    assert not await migrate.at_head(engine)
    await migrate.to_head(engine)  # one revision behind: migrated
    assert await migrate.at_head(engine)

    async def no_alembic_run(*_args, **_kw):
        raise AssertionError("a database at head was migrated again")

    monkeypatch.setattr(migrate, "upgrade", no_alembic_run)
    await migrate.to_head(engine)  # at head: only alembic_version is read
    await engine.dispose()
