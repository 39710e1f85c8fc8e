"""Marks of an update's sent outbox rows that ride with the process's next transaction (decision
67, eleventh round).

An update's own rows go right after its commit and are then marked sent, with the message ids
later edits need. A transaction of its own for that mark cost an approval ~1.4 ms of CPU, a
tenth of it, while the next update writes a transaction anyway (its record). So the marks
wait, at most MARK_WITHIN, for the next transaction of this process (`ride`), or take one of
their own when that time is up or before the sender sends anything else (`flush`).

Meanwhile the rows stay `sending` under their claim: nothing sends them again, and a later
row of the same chat waits behind them (bot/sender.py). A process that dies before the mark
sends again, once the claims expire, only what went in its last MARK_WITHIN, as before.
"""

import asyncio
import logging
import weakref
from collections.abc import Sequence

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import connection
from bot.models import Outbox
from bot.states import OutboxStatus

log = logging.getLogger(__name__)

# Built once, on the table: most rows end here, and building and keying the UPDATE afresh cost
# ~0.2 ms (the ORM would annotate it afresh on every run).
_OUTBOX = Outbox.__table__
MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(status=OutboxStatus.SENT, lease_until=None, last_error=None,
            message_id=bindparam("sent_id"), sent_at=bindparam("at"))
)  # fmt: skip


class Marks:
    """The marks one database's rows wait with, in this process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[dict] = []
        self._timer: asyncio.TimerHandle | None = None
        self._within = 1.0  # seconds the last marks were let wait
        self._flushing: set[asyncio.Task] = set()

    def defer(self, marks: list[dict], within: float) -> None:
        """Let `marks` ({row_id, sent_id, at}) wait for a transaction, at most `within` s."""
        self._waiting.extend(marks)
        self._within = within
        if self._waiting and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(within, self._time_up)

    async def ride(self, session: AsyncSession) -> list[dict]:
        """Write the waiting marks in `session`'s transaction; what was written is returned
        for `put_back`, should that transaction not commit."""
        taken = self.take()
        await write(session, taken)
        return taken

    def take(self) -> list[dict]:
        """The waiting marks, for the caller to write in its transaction (`write`, or with
        the update's record) and `put_back` should it not commit."""
        taken, self._waiting = self._waiting, []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return taken

    def put_back(self, taken: list[dict]) -> None:
        """Marks a transaction took but did not commit wait again (the next one writes them)."""
        if taken:
            self.defer(taken, within=self._within)

    async def flush(self) -> None:
        """Write the waiting marks now, in a transaction of their own."""
        taken = self.take()
        if not taken:
            return
        try:
            async with self._sessions() as session, session.begin():
                await write(session, taken)
        except BaseException:
            self._waiting[:0] = taken
            self.defer([], within=self._within)  # tried again: by a timer or the next transaction
            raise

    async def close(self) -> None:
        """At shutdown: nothing is left waiting."""
        for task in list(self._flushing):
            await asyncio.gather(task, return_exceptions=True)
        await self.flush()

    def _time_up(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self._flush_logged())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:  # the marks wait on (flush put them back)
            log.exception("marking sent rows failed; they are marked with the next transaction")


async def write(session: AsyncSession, marks: Sequence[dict]) -> None:
    """Mark these rows sent, in `session`'s transaction."""
    if marks:
        await (await connection(session)).execute(MARK_SENT, list(marks))


def as_arrays(marks: Sequence[dict]) -> dict[str, list]:
    """The marks as one array per column, for a PostgreSQL statement that unnests them."""
    return {
        "row_ids": [mark["row_id"] for mark in marks],
        "sent_ids": [mark["sent_id"] for mark in marks],
        "ats": [mark["at"] for mark in marks],
    }


_MARKS: "weakref.WeakKeyDictionary[async_sessionmaker, Marks]" = weakref.WeakKeyDictionary()


def marks_for(sessions: async_sessionmaker[AsyncSession]) -> Marks:
    """The waiting marks of the database `sessions` opens."""
    found = _MARKS.get(sessions)
    if found is None:
        found = _MARKS[sessions] = Marks(sessions)
    return found
