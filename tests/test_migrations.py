"""Migrations: the models and the migrations agree; upgrade → downgrade → upgrade works."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot import migrate
from bot.db import make_engine
from bot.models import Base


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
