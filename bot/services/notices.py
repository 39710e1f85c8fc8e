"""Telling a person that a director changed their roles or access."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.i18n import t
from bot.models import Staff
from bot.outbox import enqueue
from bot.render import render
from bot.services import menu
from bot.services.roles import ROLE_LABELS, ROLES


async def staff_changed(session: AsyncSession, person: Staff, director: Staff) -> None:
    """Queue the person's new menu and a note saying what changed and who changed it."""
    stamp = clock.now().isoformat()
    roles = [t(person.locale, ROLE_LABELS[r]) for r in ROLES if person.has_role(r)]
    await enqueue(
        session,
        f"staff:{person.id}:changed:{stamp}",
        person.telegram_id,
        render(
            "staff_changed.html.j2",
            person.locale,
            active=person.active,
            roles=roles,
            by=director.display_name,
        ),
    )
    await menu.enqueue_commands(session, person, f"staff:{person.id}:menu:{stamp}")
