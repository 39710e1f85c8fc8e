"""The sender: claims due outbox rows, re-checks that each is still wanted, sends and marks it.

Delivery guarantees (see docs/delivery.md): a row is claimed with a conditional UPDATE before it
is sent, and marked after. A process killed between claim and mark leaves the row `sending`
with an expired claim; the next sender takes it again. So nothing is lost, and the only
duplicate possible is a message Telegram accepted just before the sender died, unmarked.
"""

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    ARRAY,
    String,
    all_,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot import clock, metrics
from bot.db import connection, insert_for
from bot.marks import marks_for
from bot.marks import write as write_marks
from bot.models import Lease, Outbox
from bot.services import (
    activities,
    approval_followups,
    approvals,
    audit,
    joining,
    reachability,
    reminders,
    task_reminders,
    team,
)
from bot.states import UNSENT, OutboxStatus

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
CLAIM_LEASE = timedelta(minutes=2)
SENDER_LEASE = timedelta(seconds=90)
MAX_ATTEMPTS = 8
# An update's own rows that went are marked together, with the process's next transaction
# (bot/marks.py), but none waits longer than this: were the process to die before the mark, a
# row still `sending` goes again once its claim expires, so what may go twice stays what went
# in this time.
MARK_WITHIN = 1.0
HOLDER = f"{socket.gethostname()}:{os.getpid()}"
# Why an edit waits: the message it edits went, but its mark (and message id) has not come.
CARD_UNMARKED = "the message to edit is still being sent"
_OUTBOX = Outbox.__table__

# "Is this still wanted?" by the prefix of a row's `about` ("join:12" -> "join"), named here
# rather than registered by the services, so any process that sends has every check. A row
# whose check says no is cancelled unsent.
WANTED_CHECKS: dict[str, Callable[[AsyncSession, str], Awaitable[bool]]] = {
    "join": joining.card_still_wanted,
    "obl": reminders.reminder_still_wanted,
    "act": activities.card_still_wanted,
    "tasknag": task_reminders.still_wanted,
    "req": approvals.still_wanted,
    "fu": approval_followups.still_wanted,
}


@dataclass(frozen=True)
class SendResult:
    """What the transport reports for one row."""

    message_id: int | None = None
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None
    migrate_to: int | None = None  # the group became this supergroup: resend there
    unreachable: bool = False  # Telegram will not deliver to this chat (blocked, not found)
    paced: bool = False  # not sent: the chat's pace or hold said "not yet" (no call was made)


class Transport(Protocol):
    """Sends one outbox payload to Telegram; implemented with PTB in bot/telegram_io.py.

    A transport that paces chats (TelegramTransport with bot.pacing.ChatPacer) also has
    `ready_in(chat_id) -> float` and `hold(chat_id, seconds)`; deliver uses them when present.
    """

    async def send(self, row: Outbox | Row, target_message_id: int | None) -> SendResult: ...


async def take_sender_lease(sessions: Sessions, holder: str = HOLDER) -> bool:
    """Become the one sending process, or renew that role; False when another process holds it."""
    now = clock.now()
    expires = now + SENDER_LEASE
    async with sessions() as s, s.begin():
        insert = insert_for(s)
        # Twice: when two processes start together, the one whose insert loses sees the
        # winner's row on the second try (and takes it if it is its own or expired).
        for _ in range(2):
            taken = await s.execute(
                update(Lease)
                .where(Lease.name == "sender")
                .where(or_(Lease.holder == holder, Lease.expires_at < now))
                .values(holder=holder, expires_at=expires)
            )
            if taken.rowcount == 1:
                return True
            created = await s.execute(
                insert(Lease)
                .values(name="sender", holder=holder, expires_at=expires)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            if created.rowcount == 1:
                return True
    return False


async def deliver(
    sessions: Sessions,
    transport: Transport,
    limit: int = 1000,
    holder: str = HOLDER,
    rounds: int = 10,
    queued: bool = False,
) -> int:
    """Send what is due, oldest first, while holding the sender lease; returns rows sent.

    Sending can queue more (a refusal queues a notice to the directors), so it goes round
    again, up to `rounds` times, while a round finds rows it has not seen. `queued`: the caller
    has just committed rows, so there is no need to ask whether any are due.
    """
    if not queued and not await _anything_due(sessions):
        return 0  # the common case: no lease write, no transaction
    if not await take_sender_lease(sessions, holder):
        return 0
    await marks_for(sessions).flush()  # a chat's rows sent lately must not look unsent here
    sent = 0
    renewed = time.monotonic()
    seen: set[int] = set()
    waiting: set[int] = set()  # chats not ready in this call (paced or held): leave them alone
    await _learn_holds(sessions, transport)
    for _ in range(rounds):
        batch = [r for r in await _due_rows(sessions, limit) if r[0] not in seen]
        if not batch:
            break
        for row_id, chat_id in batch:
            seen.add(row_id)
            if chat_id in waiting:
                continue
            wait = _ready_in(transport, chat_id)
            if wait > 0:
                # Not yet: the chat's rows wait in the database, so the next pass (any
                # process) does not even read them before their slot.
                async with sessions() as s, s.begin():
                    await _push_chat(s, chat_id, clock.now() + timedelta(seconds=wait))
                waiting.add(chat_id)
                continue
            if time.monotonic() - renewed > SENDER_LEASE.total_seconds() / 3:
                if not await take_sender_lease(sessions, holder):
                    return sent  # another process took over (we were too slow); it carries on
                renewed = time.monotonic()
            claimed = await _claim(sessions, row_id)
            if claimed is None:
                continue  # another sender took it between our read and our claim
            result = await _send_one(sessions, transport, *claimed)
            if result is not None and result.error is None:
                sent += 1
            if result is not None and result.retry_after is not None:
                waiting.add(chat_id)
    return sent


async def deliver_own(
    sessions: Sessions, transport: Transport, keys: list[str], claimed: list | None = None
) -> list[str]:
    """Send the rows an update queued (`keys`), now that it has committed; returns the keys it
    left to the sender (not due, or behind an older row of their chat that is due or sending).

    Like the update's replies they are this process's to send, so there is no sender lease to
    take and no backlog to read: one statement claims them all (decision 67, seventh round),
    in a transaction of its own, or already in the update's (`claimed`: `claim_own`'s rows).
    """
    claimed = await _claim_own(sessions, keys) if claimed is None else claimed
    sent: list[tuple[Row, SendResult]] = []  # went, not yet marked
    oldest = 0.0  # when the first of them went
    for row, since in claimed:
        unmarked = len(sent)
        await _send_one(sessions, transport, row, since, sent)
        if not unmarked and sent:
            oldest = time.monotonic()
        elif sent and time.monotonic() - oldest > MARK_WITHIN:
            await _mark_sent(sessions, sent)
    if sent:  # marked by the process's next transaction, within MARK_WITHIN (bot/marks.py)
        marks_for(sessions).defer(_marks(sent), within=MARK_WITHIN)
    taken = {row.dedup_key for row, _ in claimed}
    return [key for key in keys if key not in taken]


async def _claim_own(sessions: Sessions, keys: list[str]) -> list[tuple[Row, datetime | None]]:
    async with sessions() as s, s.begin():
        await marks_for(sessions).ride(s)  # rows sent lately are not `sending` to the claim
        return await claim_own(s, keys)


async def claim_own(session: AsyncSession, keys: list[str]) -> list[tuple[Row, datetime | None]]:
    """Claim the due rows of `keys`, oldest first, but none behind an older row of its chat
    that is due or being sent: a chat's messages go in the order they were queued. (A row
    waiting for a retry does not hold up the rest, as in `deliver`.) In the caller's
    transaction: the update that queued them claims them before it commits (handlers/reply.py),
    saving a transaction; a claim that commits and is never sent waits out CLAIM_LEASE."""
    now = clock.now()
    params = {"keys": keys, "now": now, "until": now + CLAIM_LEASE}
    await session.flush()  # the claim reads whether a chat is reachable: the session's say
    # Core rows, read like the objects (row.payload, row.chat_id …): nothing is written
    # through them, and loading Outbox objects cost each update ~0.3 ms (decision 67).
    conn = await connection(session)
    postgresql = conn.dialect.name == "postgresql"
    # PostgreSQL: the audit entries held for the transaction's last statement ride with it.
    entries = audit.take_held(session) if postgresql else []
    statement = _claim_own_statement(postgresql, len(entries))
    claimed = await conn.execute(statement, params | audit.as_params(entries))
    return sorted(((row, row.since) for row in claimed), key=lambda found: found[0].id)


@cache
def _claim_own_statement(postgresql: bool, audited: int = 0):
    # Built once per dialect, on first use (every update that queues a message runs it). On
    # PostgreSQL the keys are one array parameter: an expanding IN is rendered again at every
    # run (~0.15 ms of CPU) and, as one statement per number of keys, prepared again too.
    now = bindparam("now")
    older = aliased(Outbox)
    if postgresql:
        keys = bindparam("keys", type_=ARRAY(String))
        ours, not_ours = Outbox.dedup_key == any_(keys), older.dedup_key != all_(keys)
    else:
        keys = bindparam("keys", expanding=True)
        ours, not_ours = Outbox.dedup_key.in_(keys), older.dedup_key.not_in(keys)
    behind = exists().where(
        older.chat_id == Outbox.chat_id,
        older.id < Outbox.id,
        not_ours,
        or_(
            and_(older.status == OutboxStatus.PENDING, older.next_attempt_at <= now),
            older.status == OutboxStatus.SENDING,
        ),
    )
    since = reachability.unreachable_since(Outbox.chat_id).correlate(Outbox)
    claim = (
        update(_OUTBOX)
        .where(ours, _due(now), ~behind)
        .values(
            status=OutboxStatus.SENDING,
            lease_until=bindparam("until"),
            attempts=_OUTBOX.c.attempts + 1,
        )
        .returning(*_OUTBOX.c, since.label("since"))
    )
    return claim.add_cte(audit.as_cte(audited)) if audited else claim


def _ready_in(transport: Transport, chat_id: int) -> float:
    ready_in = getattr(transport, "ready_in", None)
    return ready_in(chat_id) if ready_in is not None else 0.0


async def record_hold(sessions: Sessions, chat_id: int, seconds: float) -> None:
    """Telegram told us to wait `seconds` before writing to `chat_id`: every process and every
    row of that chat waits (a `hold:<chat>` lease row, and the chat's queued rows pushed)."""
    now = clock.now()
    until = now + timedelta(seconds=seconds)
    name = f"hold:{chat_id}"
    async with sessions() as s, s.begin():
        await s.execute(delete(Lease).where(Lease.name.like("hold:%"), Lease.expires_at < now))
        taken = await s.execute(
            update(Lease).where(Lease.name == name).values(holder=HOLDER, expires_at=until)
        )
        if taken.rowcount != 1:
            insert = insert_for(s)
            await s.execute(
                insert(Lease)
                .values(name=name, holder=HOLDER, expires_at=until)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        await _push_chat(s, chat_id, until)


async def _learn_holds(sessions: Sessions, transport: Transport) -> None:
    """Holds recorded by any process (a reply's 429 in another replica) reach this pacer."""
    hold = getattr(transport, "hold", None)
    if hold is None:
        return
    now = clock.now()
    async with sessions() as s:
        rows = await s.execute(
            select(Lease.name, Lease.expires_at).where(
                Lease.name.like("hold:%"), Lease.expires_at > now
            )
        )
        for name, until in rows:
            hold(int(name.split(":", 1)[1]), (until - now).total_seconds())


async def _push_chat(session: AsyncSession, chat_id: int, until: datetime) -> None:
    """No queued row of `chat_id` is due before `until` (a wait is the chat's, not a row's)."""
    # Rows are locked in id order first: two handlers of one process push the same chat at
    # once (they share the sender lease), and PostgreSQL deadlocked when each UPDATE locked the
    # chat's rows in its own scan order (thirty join cards to one director at once).
    due_early = (
        select(Outbox.id)
        .where(Outbox.chat_id == chat_id, Outbox.status == OutboxStatus.PENDING)
        .where(Outbox.next_attempt_at < until)
        .order_by(Outbox.id)
        .with_for_update()
    )
    ids = list(await session.scalars(due_early))
    if ids:
        await session.execute(
            update(Outbox)
            .where(Outbox.id.in_(ids), Outbox.next_attempt_at < until)
            .values(next_attempt_at=until)
        )


def _due(now: datetime):
    # A `sending` row whose claim expired belongs to a sender that died mid-send.
    return or_(
        and_(Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now),
        and_(Outbox.status == OutboxStatus.SENDING, Outbox.lease_until < now),
    )


async def _anything_due(sessions: Sessions) -> bool:
    async with sessions() as s:
        return await s.scalar(select(Outbox.id).where(_due(clock.now())).limit(1)) is not None


async def _due_rows(sessions: Sessions, limit: int) -> list[tuple[int, int]]:
    async with sessions() as s:
        rows = await s.execute(
            select(Outbox.id, Outbox.chat_id)
            .where(_due(clock.now()))
            .order_by(Outbox.id)
            .limit(limit)
        )
        return [(row_id, chat_id) for row_id, chat_id in rows]


async def _claim(sessions: Sessions, row_id: int) -> tuple[Outbox, datetime | None] | None:
    """Claim a due row; None when another sender took it. With the row, in the same statement:
    since when its chat refuses our messages."""
    now = clock.now()
    # SQLite writes RETURNING's columns unqualified, the subquery's too: `chat_id` is the
    # outbox row's because staff has no column of that name (tests/test_delivery.py would see).
    since = reachability.unreachable_since(Outbox.chat_id).correlate(Outbox)
    async with sessions() as s, s.begin():
        claimed = await s.execute(
            update(Outbox)
            .where(Outbox.id == row_id, _due(now))
            .values(
                status=OutboxStatus.SENDING,
                lease_until=now + CLAIM_LEASE,
                attempts=Outbox.attempts + 1,
            )
            .returning(Outbox, since)
        )
        found = claimed.one_or_none()
        return None if found is None else (found[0], found[1])


async def _send_one(
    sessions: Sessions,
    transport: Transport,
    row: Outbox | Row,
    since: datetime | None,
    sent: list[tuple[Outbox | Row, "SendResult"]] | None = None,
) -> SendResult | None:
    """Send one claimed row and mark what came of it; a row that went is added to `sent`
    instead, when given, for the caller to mark with others (`_mark_sent`)."""
    skip, target = await _before_sending(sessions, row, since)
    if skip == CARD_UNMARKED:  # tried again after a backoff, as after a network error
        await _mark(sessions, row, SendResult(error=skip))
        return None
    if skip is not None:
        await _finish(sessions, row, status=OutboxStatus.CANCELLED, last_error=skip)
        return None
    try:
        result = await transport.send(row, target)
    except Exception as exc:  # a bug in one payload must not stop the queue
        log.exception("outbox row %s failed", row.id)
        result = SendResult(error=repr(exc))
    if sent is not None and result.error is None:
        sent.append((row, result))
    else:
        await _mark(sessions, row, result)
    return result


async def _before_sending(
    sessions: Sessions, row: Outbox | Row, since: datetime | None
) -> tuple[str | None, int | None]:
    """Why the row must not go (no longer wanted, or the recipient unreachable: `since`, read
    with the claim), and the message an edit is for."""
    check = WANTED_CHECKS.get(row.about.split(":", 1)[0]) if row.about else None
    if check is not None:
        async with sessions() as s:
            if not await check(s, row.about):
                return f"no longer wanted: {row.about}", None
    if since is not None:
        return "recipient unreachable", None
    if row.ref_key is None:
        return None, None
    if row.payload.get("target") is not None:  # known when the edit was queued
        return None, row.payload["target"]
    # Read here rather than in the claim's RETURNING, where SQLite scans the outbox for it.
    async with sessions() as s:  # most rows need no session at all: none is made for them
        card = (await s.execute(_CARD, {"key": row.ref_key})).first()
    if card is not None and card.message_id is None and card.status == OutboxStatus.SENDING:
        # Sent by another process whose mark has not come yet (bot/marks.py): not "never sent".
        return CARD_UNMARKED, None
    return None, card.message_id if card is not None else None


_CARD = select(Outbox.message_id, Outbox.status).where(Outbox.dedup_key == bindparam("key"))


async def _mark_sent(sessions: Sessions, sent: list[tuple[Outbox | Row, "SendResult"]]) -> None:
    """Mark rows that went, in one transaction and one statement (an update's card edit and
    notice were a transaction each); `sent` is emptied."""
    marks = _marks(sent)
    async with sessions() as s, s.begin():
        await write_marks(s, marks)


def _marks(sent: list[tuple[Outbox | Row, "SendResult"]]) -> list[dict]:
    """The marks of rows that went (counted as sent here); `sent` is emptied."""
    now = clock.now()
    for row, result in sent:
        metrics.count_send(result, gave_up=row.attempts >= MAX_ATTEMPTS)
    marks = [{"row_id": row.id, "sent_id": result.message_id, "at": now} for row, result in sent]
    sent.clear()
    return marks


async def _mark(sessions: Sessions, row: Outbox | Row, result: SendResult) -> None:
    if result.error is None:
        await _mark_sent(sessions, [(row, result)])
        return
    if not result.paced:  # a row held back on our side is not a send
        metrics.count_send(result, gave_up=row.attempts >= MAX_ATTEMPTS)
    now = clock.now()
    if result.migrate_to is not None:
        async with sessions() as s, s.begin():
            await team.follow_migration(s, row.chat_id, result.migrate_to)
            await _move_chat(s, row.chat_id, result.migrate_to)
    elif result.unreachable:
        async with sessions() as s, s.begin():
            await reachability.mark_unreachable(s, row.chat_id, result.error)
            await _set(s, row, status=OutboxStatus.FAILED, last_error=result.error)
    elif result.permanent or row.attempts >= MAX_ATTEMPTS:
        await _finish(sessions, row, status=OutboxStatus.FAILED, last_error=result.error)
    elif result.retry_after is not None:
        # Being told to wait is not a failed attempt: it must never exhaust MAX_ATTEMPTS.
        until = now + timedelta(seconds=result.retry_after)
        async with sessions() as s, s.begin():
            await _set(s, row, status=OutboxStatus.PENDING, last_error=result.error,
                       next_attempt_at=until, attempts=Outbox.attempts - 1)  # fmt: skip
            # The wait is the chat's, not the row's: its other rows must not be tried sooner
            # (a group told to wait 50 s was otherwise tried again by every pass).
            await _push_chat(s, row.chat_id, until)
        if not result.paced:
            await record_hold(sessions, row.chat_id, result.retry_after)
    else:
        backoff = timedelta(seconds=min(2**row.attempts, 600))
        await _finish(
            sessions,
            row,
            status=OutboxStatus.PENDING,
            last_error=result.error,
            next_attempt_at=now + backoff,
        )


async def _move_chat(session: AsyncSession, old: int, new: int) -> None:
    """Everything not yet sent to the old group goes to the supergroup, starting now."""
    await session.execute(
        update(Outbox)
        .where(Outbox.chat_id == old, Outbox.status.in_(UNSENT))
        .values(
            chat_id=new, status=OutboxStatus.PENDING, lease_until=None, next_attempt_at=clock.now()
        )
    )


async def _finish(sessions: Sessions, row: Outbox | Row, **values: Any) -> None:
    async with sessions() as s, s.begin():
        await _set(s, row, **values)


async def _set(session: AsyncSession, row: Outbox | Row, **values: Any) -> None:
    # The session holds no outbox objects to keep in step (the row was read in another).
    await session.execute(
        update(Outbox)
        .where(Outbox.id == row.id)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
