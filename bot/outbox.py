"""The queue of bot-initiated messages: rows written in the caller's transaction, once per key.

Services import this module to enqueue; `bot/sender.py` sends the rows (docs/delivery.md).
"""

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, event, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from bot import clock
from bot.db import (
    OpsSession,
    connection,
    held_for_transaction,
    insert_for,
    insert_for_dialect,
    take_held_for_transaction,
)
from bot.models import Outbox
from bot.states import OutboxStatus

Buttons = list[list[tuple[str, str]]]
# A file kept from a user's message, and how the Bot API sends one by its file_id.
MEDIA_KINDS = {"photo": "sendPhoto", "document": "sendDocument"}
CAPTION_MAX = 1024  # Telegram's limit on a photo's or document's caption
ALBUM_MAX = 10  # items in one sendMediaGroup

# Rows queued by this task since `watching()` began. A handler flushes the outbox after its
# commit only when it queued something: a reply that queued nothing then reads nothing more (the
# sender job sends any other backlog).
_queued: ContextVar[list[str] | None] = ContextVar("queued", default=None)


@contextmanager
def watching() -> Iterator[list[str]]:
    """Collect the keys of the rows queued in this task (nested: the outer block sees all)."""
    outer = _queued.get()
    if outer is not None:
        yield outer
        return
    keys: list[str] = []
    token = _queued.set(keys)
    try:
        yield keys
    finally:
        _queued.reset(token)


def key_bounds(prefix: str) -> tuple[str, str]:
    """The keys that begin with `prefix` are those from the first to before the second."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def keys_between(postgresql: bool, low: Any = None, high: Any = None):
    """Rows whose key is from `low` to before `high` (`key_bounds`; by default the parameters
    "low" and "high"), as a range the key's index serves. `LIKE 'prefix%'` read the whole
    outbox, which keeps every key it ever sent: SQLite uses an index for LIKE only when it is
    case-insensitive, PostgreSQL only in the C collation (ix_outbox_dedup_key_c, which orders
    the keys as SQLite's own index does; migration 0021)."""
    low = bindparam("low") if low is None else low
    high = bindparam("high") if high is None else high
    key = Outbox.dedup_key.collate("C") if postgresql else Outbox.dedup_key
    return and_(key >= low, key < high)


def keys_starting(session: AsyncSession, prefix: str):
    """Rows whose key begins with `prefix` (`keys_between`, the session's dialect)."""
    return keys_between(session.bind.dialect.name == "postgresql", *key_bounds(prefix))


class Card(NamedTuple):
    """One reader's copy of a card as `cards_under` finds it: what an edit of it needs."""

    dedup_key: str
    chat_id: int
    method: str
    message_id: int | None


async def cards_under(session: AsyncSession, prefix: str) -> list[Card]:
    """The messages (not edits) queued under keys `prefix` + a Telegram id: every reader's copy
    of a card, read once with what an edit of each needs (`enqueue_edit_of`); a card's files,
    queued under its key and more, are not among them. The reader is the key's last part.
    Cards read with another statement of this transaction (`hold_cards`) are not read again."""
    held = held_for_transaction(session.sync_session, _HELD_CARDS)
    if held is not None and held[0] == prefix:
        del session.info[_HELD_CARDS]
        return held[1]
    await write_later(session)  # a copy held for later is one too
    conn = await connection(session)  # rows, not Outbox objects: read only (see sender)
    low, high = key_bounds(prefix)
    sent = await conn.execute(_sent(conn.dialect.name == "postgresql"), {"low": low, "high": high})
    return _copies(prefix, (Card(*row) for row in sent))


def cards_column(postgresql: bool):
    """`cards_under`'s rows for the keys from the parameter "low" to before "high", as one JSON
    column: a statement that reads something else reads them too (`hold_cards`)."""
    table = Outbox.__table__
    parts = [table.c[name] for name in Card._fields]
    if postgresql:
        cards = func.coalesce(func.json_agg(func.json_build_array(*parts)),
                              literal_column("'[]'::json"))  # fmt: skip
    else:
        cards = func.json_group_array(func.json_array(*parts))
    return select(cards).where(keys_between(postgresql), _is_sent()).scalar_subquery()


def hold_cards(session: AsyncSession, prefix: str, cards: str | list) -> None:
    """Keep what `cards_column` read for `cards_under(prefix)` later in this transaction: a
    decision reads its request and the cards it closes in one statement. Dropped as soon as a
    row under `prefix` is queued."""
    found = json.loads(cards) if isinstance(cards, str) else cards
    copies = _copies(prefix, (Card(*values) for values in found))
    session.info.pop(_HELD_CARDS, None)  # one card's copies at a time: the latest read
    held_for_transaction(session.sync_session, _HELD_CARDS, lambda: (prefix, copies))


_HELD_CARDS = "outbox.held_cards"


def _forget_cards(session: AsyncSession, keys: list[str]) -> None:
    # A new copy queued under the held prefix: cards_under reads them all again.
    held = held_for_transaction(session.sync_session, _HELD_CARDS)
    if held is not None and any(key.startswith(held[0]) for key in keys):
        del session.info[_HELD_CARDS]


def _copies(prefix: str, rows) -> list[Card]:
    # In key order, as the key's index returns them on either database.
    return sorted((r for r in rows if r.dedup_key.removeprefix(prefix).isdigit()),
                  key=lambda card: card.dedup_key)  # fmt: skip


def reader_of(card: Card) -> int:
    """The Telegram id a card read by `cards_under` was queued for."""
    return int(card.dedup_key.rsplit(":", 1)[1])


def _is_sent():
    # Equalities, not IN: an IN list is rendered again at every run (on PostgreSQL ~0.3 ms).
    return or_(*(Outbox.method == kind for kind in ("sendMessage", "sendPhoto", "sendDocument")))


@cache
def _sent(postgresql: bool):
    # Built once per dialect: every decision reads the cards it closes (SQLAlchemy memoizes a
    # statement's cache key).
    table = Outbox.__table__
    columns = (table.c[name] for name in Card._fields)
    return select(*columns).where(keys_between(postgresql), _is_sent())


def queued() -> list[str]:
    """The keys of the rows queued in this task since `watching()` began (none outside it)."""
    return _queued.get() or []


async def enqueue(
    session: AsyncSession,
    key: str,
    chat_id: int,
    text: str,
    buttons: Buttons | None = None,
    *,
    method: str = "sendMessage",
    ref_key: str | None = None,
    about: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Queue a message once per `key`; returns False when that key was already queued."""
    values = _row(key, chat_id, text, buttons, method, ref_key, about, extra)
    await write_later(session)  # rows held by enqueue_later go first: the order they came in
    _forget_cards(session, [key])
    # Core, on the session's connection: with parameters, session.execute would take the
    # INSERT for an ORM bulk insert, whose result has no rowcount.
    conn = await connection(session)
    result = await conn.execute(_insert_once(conn.dialect.name == "postgresql"), values)
    if result.rowcount == 1:
        _watch([key])
    return result.rowcount == 1


async def enqueue_later(
    session: AsyncSession,
    key: str,
    chat_id: int,
    text: str,
    buttons: Buttons | None = None,
    *,
    method: str = "sendMessage",
    ref_key: str | None = None,
    about: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """`enqueue` for a caller that needs no answer: the row is held and written together with
    the rows held after it, in one INSERT, before this transaction next queues, reads (through
    the session, `cards_under`) or claims a row, or commits. A decision's closed card and the
    proposer's notice are one statement (one round trip on PostgreSQL; decision 67)."""
    if not isinstance(session.sync_session, OpsSession) or session.in_nested_transaction():
        # A savepoint's rollback must take its rows; a plain session writes nothing at commit.
        await enqueue(session, key, chat_id, text, buttons, method=method, ref_key=ref_key,
                      about=about, extra=extra)  # fmt: skip
        return
    _forget_cards(session, [key])
    held = held_for_transaction(session.sync_session, _LATER, dict)
    held.setdefault(key, _row(key, chat_id, text, buttons, method, ref_key, about, extra))


async def write_later(session: AsyncSession) -> None:
    """Write what `enqueue_later` holds for this transaction now, in one statement."""
    rows = _take_later(session.sync_session)
    if rows:
        conn = await connection(session)
        _watch_new(rows, await conn.execute(_insert_new(conn.dialect.name == "postgresql"), rows))


_LATER = "outbox.later"


def _take_later(session: Session) -> list[dict[str, Any]]:
    # None in a savepoint: they wait for the transaction's next write outside it, or its commit.
    return list((take_held_for_transaction(session, _LATER) or {}).values())


@event.listens_for(OpsSession, "before_commit")
def _write_at_commit(session: Session) -> None:
    """Before a commit: what is held is written now (one statement)."""
    rows = _take_later(session)
    if rows:
        connection = session.connection()
        postgresql = connection.dialect.name == "postgresql"
        _watch_new(rows, connection.execute(_insert_new(postgresql), rows))


@event.listens_for(OpsSession, "do_orm_execute")
def _before_reading(state: ORMExecuteState) -> None:
    """A read of the outbox through the session sees the rows held, as it sees its pending
    objects (a Core read on its connection writes them first itself: `write_later`)."""
    if _LATER in state.session.info and any(m.class_ is Outbox for m in state.all_mappers):
        _write_at_commit(state.session)


def _watch_new(rows: list[dict[str, Any]], result) -> None:
    new = set(result.scalars())  # the keys inserted: one queued before is not returned
    _watch([row["dedup_key"] for row in rows if row["dedup_key"] in new])


def _watch(keys: list[str]) -> None:
    watched = _queued.get()
    if watched is not None:
        watched.extend(keys)


def _row(
    key: str, chat_id: int, text: str, buttons: Buttons | None, method: str,
    ref_key: str | None, about: str | None, extra: dict[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    now = clock.now()
    payload: dict[str, Any] = {"text": text, "buttons": _plain(buttons), **(extra or {})}
    return dict(dedup_key=key, chat_id=chat_id, method=method, payload=payload, ref_key=ref_key,
                about=about, status=OutboxStatus.PENDING, attempts=0, created_at=now,
                next_attempt_at=now)  # fmt: skip


@cache
def _insert_new(postgresql: bool):
    # Several rows, one statement: SQLAlchemy's insertmanyvalues renders them as one INSERT
    # from the statement compiled once; RETURNING says which keys were new.
    return _insert_once(postgresql).returning(Outbox.__table__.c.dedup_key)


@cache
def _insert_once(postgresql: bool):
    # Built once per dialect, run with each row's values: building and keying the statement
    # afresh cost every queued message ~0.3 ms of CPU (decision 67, seventh round).
    insert = insert_for_dialect(postgresql)
    return insert(Outbox.__table__).on_conflict_do_nothing(index_elements=["dedup_key"])


@dataclass(frozen=True)
class Row:
    """A text message (or another call without buttons) to queue with `enqueue_many`."""

    key: str
    chat_id: int
    text: str
    about: str | None = None
    method: str = "sendMessage"
    extra: dict[str, Any] | None = None  # more of the call's parameters (setChatMenuButton's)


async def enqueue_many(session: AsyncSession, rows: list[Row]) -> int:
    """Queue many text messages (no buttons), each once per key, a few statements in all;
    returns how many were new."""
    values = [_row(r.key, r.chat_id, r.text, None, r.method, None, r.about, r.extra) for r in rows]
    if not values:
        return 0
    _forget_cards(session, [r.key for r in rows])
    # One statement compiled once, its rows sent in pages by SQLAlchemy's "insertmanyvalues"; a
    # multi-row VALUES was compiled afresh for every chunk (~0.5 s each for 500 rows).
    insert = insert_for(session)
    stmt = (
        insert(Outbox)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Outbox.dedup_key)
    )
    new = list(await session.scalars(stmt, values))  # after what enqueue_later holds (see above)
    _watch(new)
    return len(new)


async def enqueue_photo(
    session: AsyncSession,
    key: str,
    chat_id: int,
    png: bytes,
    caption: str = "",
    *,
    about: str | None = None,
) -> bool:
    """Queue an image (a digest's chart) once per `key`; the bytes travel in the row."""
    extra = {"photo_b64": base64.b64encode(png).decode("ascii"), "filename": "chart.png"}
    return await enqueue(session, key, chat_id, caption, method="sendPhoto", about=about,
                         extra=extra)  # fmt: skip


async def enqueue_card(
    session: AsyncSession,
    key: str,
    chat_id: int,
    text: str,
    buttons: Buttons | None = None,
    files: list[dict[str, Any]] | None = None,
    *,
    about: str | None = None,
) -> bool:
    """Queue a card that carries files a user sent (photos, documents: dicts with `kind` and
    `file_id`, as form answers keep them).

    One file and a text within a caption's limit: the file with the card as its caption and
    buttons (so a receipt and its claim arrive as one message). Otherwise the card, then the
    files after it: photos together as an album, documents together, ten to a group. The
    card's row has `key`; the files' rows `key:f1`, `key:f2` …
    """
    files = [f for f in files or [] if f.get("kind") in MEDIA_KINDS and f.get("file_id")]
    if len(files) == 1 and len(text) <= CAPTION_MAX:
        method = MEDIA_KINDS[files[0]["kind"]]
        extra = {"file_id": files[0]["file_id"]}
        return await enqueue(session, key, chat_id, text, buttons, method=method, about=about,
                             extra=extra)  # fmt: skip
    queued = await enqueue(session, key, chat_id, text, buttons, about=about)
    for n, group in enumerate(_groups(files), start=1):
        if len(group) == 1:
            method, extra = MEDIA_KINDS[group[0]["kind"]], {"file_id": group[0]["file_id"]}
        else:
            items = [{"type": f["kind"], "file_id": f["file_id"]} for f in group]
            method, extra = "sendMediaGroup", {"media": items}
        await enqueue(session, f"{key}:f{n}", chat_id, "", method=method, about=about,
                      extra=extra)  # fmt: skip
    return queued


def _groups(files: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Photos with photos, documents with documents (Telegram mixes neither), ten at most."""
    groups = []
    for kind in MEDIA_KINDS:
        same = [f for f in files if f["kind"] == kind]
        groups += [same[i : i + ALBUM_MAX] for i in range(0, len(same), ALBUM_MAX)]
    return groups


async def enqueue_edit(
    session: AsyncSession, key: str, ref_key: str, text: str, buttons: Buttons | None = None
) -> bool:
    """Queue an edit of the message sent for `ref_key` (e.g. every director's copy of a card);
    a card sent as a file with a caption gets its caption edited."""
    ref = await session.scalar(_BY_KEY, {"key": ref_key})
    if ref is None:
        return False
    return await enqueue_edit_of(session, key, ref, text, buttons)


_BY_KEY = select(Outbox).where(Outbox.dedup_key == bindparam("key"))  # built once (see above)


async def enqueue_edit_of(
    session: AsyncSession,
    key: str,
    ref: Outbox | Card,
    text: str,
    buttons: Buttons | None = None,
) -> bool:
    """`enqueue_edit` of a row the caller has read already (every copy of a card at once): an
    Outbox object or a row with its dedup_key, chat_id, method and message_id."""
    method, text, target = _edit_of(ref, text)
    return await enqueue(session, key, ref.chat_id, text, buttons, method=method,
                         ref_key=ref.dedup_key, extra=target)  # fmt: skip


async def edit_later(
    session: AsyncSession, key: str, ref: Outbox | Card, text: str, buttons: Buttons | None = None
) -> None:
    """`enqueue_edit_of`, held as `enqueue_later` holds a row (a decision closing its cards)."""
    method, text, target = _edit_of(ref, text)
    await enqueue_later(session, key, ref.chat_id, text, buttons, method=method,
                        ref_key=ref.dedup_key, extra=target)  # fmt: skip


def _edit_of(ref: Outbox | Card, text: str) -> tuple[str, str, dict[str, Any] | None]:
    method = "editMessageText"
    if ref.method in MEDIA_KINDS.values():
        method, text = "editMessageCaption", text[:CAPTION_MAX]
    # The message to edit, when already sent: the sender need not read it again. A card
    # queued but not sent yet is looked up when the edit goes out.
    return method, text, {"target": ref.message_id} if ref.message_id is not None else None


def _plain(buttons: Buttons | None) -> list[list[list[str]]]:
    return [[[label, data] for label, data in row] for row in buttons or []]
