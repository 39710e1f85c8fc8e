"""Each person's menu button opens the dashboard (setChatMenuButton per chat, decision 66)."""

from hashlib import sha256

from sqlalchemy import String, case, cast, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.models import Outbox, Staff
from bot.outbox import Row, enqueue_many
from bot.services import roster_version

PREFIX = "webmenu:"


async def enqueue_missing(
    session: AsyncSession, public_url: str | None, *, complete: dict | None = None
) -> int:
    """Queue the menu button of everyone who does not have this URL's button in their language
    yet (and the default button for people no longer active); returns how many were queued.

    Keyed by person, URL, language and whether they are active, so each is sent once, and a new
    address, a /lang or a deactivation sends it again. `complete`: the tick's memory
    (AppState.menus_complete) of the URL everyone had theirs for, at a roster version; nobody is
    looked for again until the version moves."""
    if not public_url:
        return 0
    digest = sha256(public_url.encode()).hexdigest()[:8]
    version = await roster_version.read(session) if complete is not None else None
    if version is not None and complete.get(digest) == version:
        return 0
    rows = [
        Row(f"{PREFIX}{staff_id}:{digest}:{locale}:{int(active)}", telegram_id, "",
            method="setChatMenuButton",
            # the default menu button again for someone no longer active
            extra={"url": public_url, "text": t(locale, "📊 Dashboard")} if active else {})
        for staff_id, telegram_id, locale, active in await session.execute(_unsent(digest))
    ]  # fmt: skip
    if version is not None:
        roster_version.remember_on_commit(session, complete, {digest: version})
    return await enqueue_many(session, rows) if rows else 0


def _unsent(digest: str):
    """The people whose key has no outbox row: an anti-join on the unique dedup_key, so the
    minute tick reads no rows when nothing changed (it used to read every person and every
    menu key, decision 67)."""
    key = (
        PREFIX
        + cast(Staff.id, String)
        + f":{digest}:"
        + Staff.locale
        + case((Staff.active, ":1"), else_=":0")
    )
    sent = exists().where(Outbox.dedup_key == key)
    return select(Staff.id, Staff.telegram_id, Staff.locale, Staff.active).where(~sent)
