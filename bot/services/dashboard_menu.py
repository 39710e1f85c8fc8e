"""Each person's menu button opens the dashboard (setChatMenuButton per chat, decision 66)."""

from hashlib import sha256

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.models import Outbox, Staff
from bot.outbox import enqueue

PREFIX = "webmenu:"


async def enqueue_missing(session: AsyncSession, public_url: str | None) -> int:
    """Queue the menu button of everyone who does not have this URL's button in their language
    yet (and the default button for people no longer active); returns how many were queued.

    Keyed by person, URL, language and whether they are active, so each is sent once, and a new
    address, a /lang or a deactivation sends it again."""
    if not public_url:
        return 0
    digest = sha256(public_url.encode()).hexdigest()[:8]
    sent = set(
        await session.scalars(
            select(Outbox.dedup_key).where(Outbox.dedup_key.like(f"{PREFIX}%:{digest}:%"))
        )
    )
    queued = 0
    # Four columns, not Staff rows with their roles: this runs every minute.
    people = await session.execute(select(Staff.id, Staff.telegram_id, Staff.locale, Staff.active))
    for staff_id, telegram_id, locale, active in people:
        key = f"{PREFIX}{staff_id}:{digest}:{locale}:{int(active)}"
        if key in sent:
            continue
        extra = {"url": public_url, "text": t(locale, "📊 Dashboard")}
        button = extra if active else {}  # the default menu button again
        queued += int(
            await enqueue(session, key, telegram_id, "", method="setChatMenuButton",
                          extra=button)
        )  # fmt: skip
    return queued
