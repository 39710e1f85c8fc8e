"""The roster version: a number database triggers raise on every change that can give someone
something the tick makes rows for (an obligation, a menu button; migration 0020), and the tick's
memory of what it found complete at a version."""

from collections.abc import Callable

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import RosterVersion

_VERSION = select(RosterVersion.version).where(RosterVersion.id == 1)


async def read(session: AsyncSession) -> int | None:
    """The current version; None when its row is missing: unknown, so nothing may be skipped."""
    return await session.scalar(_VERSION)


def remember_on_commit(session: AsyncSession, memory: dict, found: dict) -> None:
    """Make `memory` what `found` says once the session's outermost transaction commits, never
    after a rollback: what a rolled-back transaction saw (a dry run's rows) was never true.
    Replaced, not merged: what earlier days needed is not kept."""

    def remember() -> None:
        memory.clear()
        memory.update(found)

    _on_commit(session, remember)


def _on_commit(session: AsyncSession, remember: Callable[[], None]) -> None:
    pending, outermost = [remember], session.sync_session.get_transaction()

    def committed(_sync_session) -> None:
        if pending and not outermost.is_active:  # its own commit, not a savepoint's release
            pending.pop()()

    def rolled_back(_sync_session) -> None:
        pending.clear()

    event.listen(session.sync_session, "after_commit", committed)
    event.listen(session.sync_session, "after_rollback", rolled_back)
