"""The append-only audit log."""

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import bindparam, event, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from bot import clock
from bot.db import OpsSession, connection, held_for_transaction, take_held_for_transaction
from bot.models import AuditLog


async def record(
    session: AsyncSession, actor: int | None, action: str, target: str | None = None, **details
) -> None:
    """Append one entry: who (Telegram id) did what to which object, with details."""
    await add(session, entry_of(actor, action, target, **details))


async def add(session: AsyncSession, entry: dict) -> None:
    """Append an entry made by `entry_of`."""
    if _later(session):
        # PostgreSQL: written with the transaction's last statement, the claim of what it
        # queued (bot/sender.py), or just before its commit: no round trip of its own.
        held_for_transaction(session.sync_session, _HELD, list).append(entry)
        return
    # Written at once, on the session's connection (so in its transaction): an entry is never
    # read back as an object, and an ORM object cost its flush ~0.2 ms more (decision 67).
    await (await connection(session)).execute(_ENTRY, entry)


def entry_of(actor: int | None, action: str, target: str | None = None, **details) -> dict:
    """One entry's columns, as `record` writes them (and `as_cte` takes them)."""
    return dict(at=clock.now(), actor_telegram_id=actor, action=action, target=target,
                details=details)  # fmt: skip


def _later(session: AsyncSession) -> bool:
    # Not in a savepoint: one rolled back takes its entries with it, which a held entry would
    # outlive. Only a session whose commit writes what is held (db.OpsSession).
    return (
        session.bind.dialect.name == "postgresql"
        and isinstance(session.sync_session, OpsSession)
        and not session.in_nested_transaction()
    )


_HELD = "opsbot.audit_entries"


def take_held(session: AsyncSession) -> list[dict]:
    """The entries held to be written with the transaction's last statement, for the caller to
    write in it (`as_cte`); they are no longer held."""
    return _take(session.sync_session)


def _take(session: Session) -> list[dict]:
    return take_held_for_transaction(session, _HELD) or []


async def write_held(session: AsyncSession) -> None:
    """Write what the transaction holds now (PostgreSQL), so that what follows comes after it;
    no statement when it holds nothing."""
    await session.run_sync(_write_held)


def as_params(entries: Sequence[dict]) -> dict[str, Any]:
    """The parameters of `as_cte(len(entries))`."""
    return {f"audit{i}_{name}": value for i, e in enumerate(entries) for name, value in e.items()}


@cache
def as_cte(count: int, after=None):
    """`count` entries written as a data-modifying CTE (PostgreSQL), for `add_cte`; with
    `after` (a CTE), only as many times as it has rows: once when it has one, not at all when
    the write it stands for changed nothing."""
    # INSERT … SELECT, one SELECT a row: a multi-row VALUES is never in SQLAlchemy's compiled
    # cache, and compiling the claim afresh cost each update ~2 ms of CPU.
    columns = AuditLog.__table__.c
    rows = [
        select(*(bindparam(f"audit{i}_{name}", type_=columns[name].type) for name in _COLUMNS))
        for i in range(count)
    ]
    if after is not None:
        rows = [row.select_from(after) for row in rows]
    entries = rows[0] if count == 1 else union_all(*rows)
    return insert(AuditLog.__table__).from_select(_COLUMNS, entries).cte("audited")


_COLUMNS = ("at", "actor_telegram_id", "action", "target", "details")


@event.listens_for(OpsSession, "before_commit")
def _write_held(session: Session) -> None:
    """Before a commit: what no statement took is written now (one statement)."""
    entries = _take(session)
    if entries:
        session.connection().execute(_ENTRY, entries)


@event.listens_for(OpsSession, "do_orm_execute")
def _before_reading(state: ORMExecuteState) -> None:
    """A read of the log through the session sees what the transaction held for it, as the
    session's reads see its pending objects (a Core read on its connection does not)."""
    if _HELD in state.session.info and any(m.class_ is AuditLog for m in state.all_mappers):
        _write_held(state.session)


_ENTRY = insert(AuditLog.__table__)  # built once: the table's, not annotated by the ORM
