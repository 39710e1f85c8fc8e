"""People Telegram will not deliver to (they blocked the bot): marked once, directors told once."""

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.models import Staff
from bot.outbox import enqueue
from bot.render import render
from bot.services import audit
from bot.services import staff as staff_service


def unreachable_since(chat_id: int | ColumnElement[int]):
    """Since when `chat_id` (a value, or a column such as the outbox's) refuses our messages, as
    a scalar subquery (NULL: reachable, or no person), so a caller can read it in the same
    statement as something else."""
    return select(Staff.unreachable_since).where(Staff.telegram_id == chat_id).scalar_subquery()


async def mark_unreachable(session: AsyncSession, chat_id: int, error: str | None) -> None:
    """Record that a person cannot be reached and tell the directors, once per episode."""
    person = await staff_service.by_telegram_id(session, chat_id)
    if person is None or person.unreachable_since is not None:
        return
    person.unreachable_since = clock.now()
    await audit.record(session, None, "staff.unreachable", f"staff:{person.id}", error=error)
    episode = person.unreachable_since.strftime("%Y%m%dT%H%M%S")
    for director in await staff_service.directors(session):
        if director.id == person.id or director.unreachable_since is not None:
            continue
        await enqueue(
            session,
            f"unreachable:{person.id}:{episode}:{director.telegram_id}",
            director.telegram_id,
            render("unreachable.html.j2", director.locale, name=person.display_name),
        )


def mark_reachable(person: Staff) -> bool:
    """They wrote to us again, so we can write to them; True when that changed anything."""
    if person.unreachable_since is None:
        return False
    person.unreachable_since = None
    return True
