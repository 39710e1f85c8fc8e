"""Alembic driven from code: config built here, migrations run on the app's own engine.

Alembic is imported only to migrate: a start-up at head reads alembic_version with plain SQL
and the heads from the scripts' text (importing Alembic and its scripts cost ~0.3 s of every
start; decision 67).
"""

import ast
import re
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import MIGRATIONS_DIR

if TYPE_CHECKING:
    from alembic.config import Config

# `revision: str = "0001"` and `down_revision: str | None = "0001"` (or a tuple, for a merge).
_REVISION = re.compile(r"^(down_revision|revision)(?:\s*:[^=]*)?\s*=\s*(.+)$", re.MULTILINE)

# Any constant works; it only has to be the same for every opsbot process on one database.
PG_MIGRATION_LOCK = 7_215_021


def alembic_config(url: str | None = None) -> "Config":
    """An Alembic Config that finds the migrations relative to the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the schema; one migrating process at a time."""
    from alembic import command

    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def to_head(engine: AsyncEngine) -> None:
    """Upgrade the schema unless it is already at head: a fresh or old database is migrated,
    one at head costs one read of alembic_version instead of a full Alembic run."""
    if not await at_head(engine):
        await upgrade(engine)


async def at_head(engine: AsyncEngine) -> bool:
    """Whether the database's revision(s) are exactly this code's head(s)."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_stamped)
    return current == heads()


def _stamped(conn: Connection) -> set[str]:
    """The revisions alembic_version holds (none: a new database)."""
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


@cache  # the scripts are read once per process; they do not change while it runs
def heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code: the revisions no other
    script names as its down_revision (read from the scripts' text, as Alembic would find)."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            found = ast.literal_eval(value.split("#")[0].strip())
            names = {found} if isinstance(found, str) else set(found or ())
            (revisions if name == "revision" else parents).update(names)
    return frozenset(revisions - parents)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Downgrade the schema to `revision` ("base" for nothing)."""
    from alembic import command

    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

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
