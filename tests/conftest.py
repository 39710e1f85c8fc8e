"""Shared fixtures: SQLite and (when reachable) PostgreSQL databases, the simulator, personas.

Every test that uses a database runs on SQLite; those marked `databases` (the database plays a
part: SQL, claims, leases, migrations, concurrency) run on PostgreSQL too (decision 47).
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator

import pytest
import time_machine
import transaction_guard
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from support import TEAM_GROUP, local, make_staff
from telegram import Update
from telegram.request import BaseRequest

from bot import clock
from bot.app import build_application, shutdown, startup
from bot.config import Settings, load_settings
from bot.db import make_engine, make_sessionmaker
from bot.migrate import to_head, upgrade
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


# pytest-xdist runs the suite in worker processes gw0, gw1, …: session fixtures are per worker.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """SQLite for every test using a database; PostgreSQL too for those marked `databases`,
    PostgreSQL alone for those marked `postgresql_only` (several processes on one database)."""
    if "db_url" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker
        kinds = ["sqlite", "postgresql"] if marked("databases") else ["sqlite"]
        if marked("postgresql_only"):
            kinds = ["postgresql"]
        metafunc.parametrize("db_url", kinds, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow (process-level) tests first, so the parallel workers do not end waiting on one."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable otherwise


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
        name = f"opsbot_test_{WORKER}_{uuid.uuid4().hex[:10]}"  # unique across workers
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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A SQLite file migrated to head once per session (per worker); tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "opsbot.db"

    async def migrate() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return str(path)


@pytest.fixture
def db_url(request, tmp_path) -> str:
    """The database's URL: SQLite (a file not yet there; `engine` puts a migrated one there) or
    the run's migrated PostgreSQL database (tests marked `databases`; see pytest_generate_tests)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}"
    return request.getfixturevalue("pg_migrated_url")


@pytest.fixture
def migrated_url(request, db_url: str) -> str:
    """`db_url` at head: on SQLite a copy of the template (a file copy, not a migration)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and not os.path.exists(url.database):
        shutil.copyfile(request.getfixturevalue("sqlite_template"), url.database)
    return db_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database: a copy of the SQLite template, or PostgreSQL emptied."""
    engine = make_engine(migrated_url)
    await to_head(engine)  # a test may have downgraded the shared PostgreSQL database
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
def _no_telegram_call_inside_a_transaction(monkeypatch):
    """Any Bot API call made while its task holds a transaction open fails the test (decision 45),
    even when an error handler swallowed the exception."""
    transaction_guard.violations.clear()
    monkeypatch.setattr(BaseRequest, "post", transaction_guard.guarded(BaseRequest.post))
    yield
    caught = list(transaction_guard.violations)
    transaction_guard.violations.clear()
    assert caught == [], f"Telegram called inside a database transaction: {caught}"


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
async def app(request, sim, settings, engine):
    """The real Application, wired to the simulator in push mode (each update fully handled).

    Without the rate limiter (the simulator's flood limits are off too), unless the test is
    marked `paced`: the limiter has its own tests (test_pacing.py) and the demo runs through it.
    """
    paced = request.node.get_closest_marker("paced") is not None
    application = build_application(settings, engine=engine, paced=paced)
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
