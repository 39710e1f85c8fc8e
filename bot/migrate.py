"""Alembic driven from code: config built here, migrations run on the app's own engine."""

from functools import cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from bot import MIGRATIONS_DIR

# Any constant works; it only has to be the same for every opsbot process on one database.
PG_MIGRATION_LOCK = 7_215_021


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config that finds the migrations relative to the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the schema; one migrating process at a time."""
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def to_head(engine: AsyncEngine) -> None:
    """Upgrade the schema unless it is already at head: a fresh or old database is migrated,
    one at head costs one read of alembic_version instead of a full Alembic run."""
    if not await at_head(engine):
        await upgrade(engine)


async def at_head(engine: AsyncEngine) -> bool:
    """Whether the database's revision(s) are exactly this code's head(s)."""
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return set(current) == heads()


@cache  # the scripts are read once per process; they do not change while it runs
def heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Downgrade the schema to `revision` ("base" for nothing)."""
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def _run(engine: AsyncEngine, action) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_locked, action)


def _locked(conn: Connection, action) -> None:
    if conn.dialect.name == "postgresql":
        # Two processes starting together must not both migrate; the lock ends with the transaction.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    action(cfg)
