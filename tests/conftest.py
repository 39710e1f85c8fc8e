"""Shared fixtures: SQLite and (when reachable) PostgreSQL databases, the simulator, personas."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from support import TEAM_GROUP, local, make_staff
from telegram import Update

from bot import clock
from bot.app import build_application, shutdown, startup
from bot.config import Settings, load_settings
from bot.db import make_engine, make_sessionmaker
from bot.migrate import upgrade
from bot.models import Base
from bot.simulator import TelegramSimulator

TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "opsbot_test_bot"
DIRECTOR_ID = 1001
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_ADMIN_URL = os.environ.get("OPSBOT_TEST_DATABASE_URL", PG_DEFAULT)


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason to skip."""

    async def probe() -> None:
        engine = make_engine(PG_ADMIN_URL, connect_args={"timeout": 3})
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except Exception as exc:
        where = make_url(PG_ADMIN_URL).render_as_string(hide_password=True)
        return (
            f"PostgreSQL not reachable at {where} ({type(exc).__name__}); "
            "start it or set OPSBOT_TEST_DATABASE_URL"
        )
    return None


PG_SKIP_REASON = _pg_reachable()


async def _admin(sql: str) -> None:
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_database_factory():
    """Creates throw-away PostgreSQL databases; drops them at the end of the run."""
    if PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    created: list[str] = []

    def create() -> str:
        name = f"opsbot_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield create
    for name in created:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_migrated_url(pg_database_factory) -> str:
    """One migrated PostgreSQL database for the run; tests empty it before use."""
    url = pg_database_factory()

    async def migrate() -> None:
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A migrated, empty database: every test that uses it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}"
    return request.getfixturevalue("pg_migrated_url")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    await upgrade(engine)
    if engine.dialect.name == "postgresql":
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture(autouse=True)
def _real_clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
async def sim() -> AsyncIterator[TelegramSimulator]:
    async with TelegramSimulator(token=TOKEN, bot_username=BOT_USERNAME) as simulator:
        yield simulator


@pytest.fixture
def settings(sim, db_url, monkeypatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("OPSBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(os.path.dirname(__file__))  # no stray ./opsbot.toml is picked up
    return load_settings(
        telegram={
            "token": TOKEN,
            "base_url": sim.base_url,
            "base_file_url": sim.base_file_url,
            "pace_per_chat": False,  # the simulator's flood limits are off too (tests turn both on)
        },
        database={"url": db_url},
        team={"name": "互联网运营部", "directors": [DIRECTOR_ID]},
    )


@pytest.fixture
async def app(sim, settings, engine):
    """The real Application, wired to the simulator in push mode (each update fully handled)."""
    application = build_application(settings, engine=engine)
    await application.initialize()
    await startup(application)

    async def push(data: dict) -> None:
        await application.process_update(Update.de_json(data, application.bot))

    sim.on_update = push
    yield application
    sim.on_update = None
    application.bot_data.engine = None  # the engine fixture disposes it
    await shutdown(application)
    await application.shutdown()


@pytest.fixture
def director(sim):
    return sim.user(
        id=DIRECTOR_ID, first_name="张", last_name="总", username="zhang", language_code="zh"
    )


@pytest.fixture
def channel_manager(sim):
    return sim.user(
        id=2002, first_name="王", last_name="伟", username="wangwei", language_code="zh"
    )


@pytest.fixture
def user_ops_manager(sim):
    return sim.user(id=2003, first_name="Li", last_name="Na", username="lina", language_code="en")


@pytest.fixture
async def lina(app, sim, sessions, user_ops_manager, director):
    """The user-ops manager (English) on the team since the week before, the director (Chinese),
    both started, and the team group (TEAM_GROUP) bound."""
    with time_machine.travel(local("2026-11-16 09:00"), tick=True):  # Monday of the week before
        await make_staff(sessions, user_ops_manager, "user_ops")
    await director.send("/start")
    await user_ops_manager.send("/start")
    group = sim.group(id=TEAM_GROUP, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    return user_ops_manager


@pytest.fixture
def outsider(sim):
    return sim.user(id=9009, first_name="陌生人", language_code="zh")
