"""The queue of bot-initiated messages: rows written in the caller's transaction, once per key.

Services import this module to enqueue; `bot/sender.py` sends the rows (docs/delivery.md).
"""

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.db import insert_for
from bot.models import Outbox
from bot.states import OutboxStatus

Buttons = list[list[tuple[str, str]]]


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
    payload: dict[str, Any] = {"text": text, "buttons": _plain(buttons), **(extra or {})}
    now = clock.now()
    values = dict(
        dedup_key=key,
        chat_id=chat_id,
        method=method,
        payload=payload,
        ref_key=ref_key,
        about=about,
        status=OutboxStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    insert = insert_for(session)
    stmt = insert(Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    result = await session.execute(stmt)
    return result.rowcount == 1


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
