"""Alembic environment: uses the connection opsbot hands over, or builds an async engine."""

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from bot.db import UTCDateTime, make_engine
from bot.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj, autogen_context):
    """Render app column types as plain SQLAlchemy ones, so migrations never import bot code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with(connection: Connection) -> None:
    """Run migrations on a sync connection (batch mode so SQLite can alter tables)."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(run_with)
    await engine.dispose()


def run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
elif context.is_offline_mode():
    run_offline(config.get_main_option("sqlalchemy.url"))
else:
    # Only reached from the plain `alembic` command line, never inside a running event loop.
    asyncio.run(run_async(config.get_main_option("sqlalchemy.url")))
