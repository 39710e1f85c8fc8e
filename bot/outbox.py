"""Queue of bot-initiated messages (written in the caller's transaction) and the sender."""

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import clock
from bot.models import Lease, Outbox

log = logging.getLogger(__name__)

Buttons = list[list[tuple[str, str]]]
CLAIM_LEASE = timedelta(minutes=2)
SENDER_LEASE = timedelta(seconds=90)
MAX_ATTEMPTS = 8
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SendResult:
    """What the transport reports for one row."""

    message_id: int | None = None
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None


class Transport(Protocol):
    """Sends one outbox payload to Telegram; implemented with PTB in bot/telegram_io.py."""

    async def send(self, row: Outbox, target_message_id: int | None) -> SendResult: ...


async def enqueue(
    session: AsyncSession,
    key: str,
    chat_id: int,
    text: str,
    buttons: Buttons | None = None,
    *,
    method: str = "sendMessage",
    ref_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Queue a message once per `key`; returns False when that key was already queued."""
    payload: dict[str, Any] = {"text": text, "buttons": _plain(buttons), **(extra or {})}
    now = clock.now()
    values = dict(
        dedup_key=key,
        chat_id=chat_id,
        method=method,
        payload=payload,
        ref_key=ref_key,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    result = await session.execute(stmt)
    return result.rowcount == 1


async def enqueue_edit(
    session: AsyncSession, key: str, ref_key: str, text: str, buttons: Buttons | None = None
) -> bool:
    """Queue an edit of the message sent for `ref_key` (e.g. every director's copy of a card)."""
    ref = await session.scalar(select(Outbox).where(Outbox.dedup_key == ref_key))
    if ref is None:
        return False
    return await enqueue(
        session, key, ref.chat_id, text, buttons, method="editMessageText", ref_key=ref_key
    )


def _plain(buttons: Buttons | None) -> list[list[list[str]]]:
    return [[[label, data] for label, data in row] for row in buttons or []]


async def take_sender_lease(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Become the one sending process, or renew that role; False when another process holds it."""
    now = clock.now()
    async with sessions() as s, s.begin():
        claimed = await s.execute(
            update(Lease)
            .where(Lease.name == "sender")
            .where(or_(Lease.holder == HOLDER, Lease.expires_at < now))
            .values(holder=HOLDER, expires_at=now + SENDER_LEASE)
        )
        if claimed.rowcount == 1:
            return True
        if await s.get(Lease, "sender") is not None:
            return False
        s.add(Lease(name="sender", holder=HOLDER, expires_at=now + SENDER_LEASE))
    return True


async def deliver(
    sessions: async_sessionmaker[AsyncSession], transport: Transport, limit: int = 500
) -> int:
    """Send what is due, oldest first; returns how many rows were sent."""
    if not await take_sender_lease(sessions):
        return 0
    sent = 0
    for row_id in await _due_ids(sessions, limit):
        row = await _claim(sessions, row_id)
        if row is None:
            continue  # another sender took it between our read and our claim
        sent += await _send_one(sessions, transport, row)
    return sent


async def _due_ids(sessions, limit: int) -> list[int]:
    now = clock.now()
    async with sessions() as s:
        rows = await s.scalars(
            select(Outbox.id)
            .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
            .order_by(Outbox.id)
            .limit(limit)
        )
        return list(rows)


async def _claim(sessions, row_id: int) -> Outbox | None:
    now = clock.now()
    async with sessions() as s, s.begin():
        claimed = await s.execute(
            update(Outbox)
            .where(Outbox.id == row_id, Outbox.status == "pending")
            .values(status="sending", lease_until=now + CLAIM_LEASE, attempts=Outbox.attempts + 1)
        )
        if claimed.rowcount != 1:
            return None
        return await s.get(Outbox, row_id)


async def _send_one(sessions, transport: Transport, row: Outbox) -> int:
    target = await _target_message_id(sessions, row)
    try:
        result = await transport.send(row, target)
    except Exception as exc:  # a bug in one payload must not stop the queue
        log.exception("outbox row %s failed", row.id)
        result = SendResult(error=repr(exc))
    await _mark(sessions, row, result)
    return 1 if result.error is None else 0


async def _target_message_id(sessions, row: Outbox) -> int | None:
    if row.ref_key is None:
        return None
    async with sessions() as s:
        return await s.scalar(select(Outbox.message_id).where(Outbox.dedup_key == row.ref_key))


async def _mark(sessions, row: Outbox, result: SendResult) -> None:
    now = clock.now()
    values: dict[str, Any]
    if result.error is None:
        values = dict(status="sent", message_id=result.message_id, sent_at=now, last_error=None)
    elif result.permanent or row.attempts >= MAX_ATTEMPTS:
        values = dict(status="failed", last_error=result.error)
    else:
        values = dict(
            status="pending", last_error=result.error, next_attempt_at=_retry_at(row, result, now)
        )
    async with sessions() as s, s.begin():
        await s.execute(
            update(Outbox).where(Outbox.id == row.id).values(lease_until=None, **values)
        )


def _retry_at(row: Outbox, result: SendResult, now: datetime) -> datetime:
    if result.retry_after is not None:
        return now + timedelta(seconds=result.retry_after)
    return now + timedelta(seconds=min(2**row.attempts, 600))
