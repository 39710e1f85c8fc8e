"""Telling a person that a director changed their roles or access."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.forms.spec import FormSpec
from bot.models import Staff
from bot.outbox import enqueue
from bot.render import render
from bot.services import menu
from bot.services.roles import RolesConfig


async def staff_changed(
    session: AsyncSession,
    person: Staff,
    director: Staff,
    known: RolesConfig,
    forms: Sequence[FormSpec],
) -> None:
    """Queue the person's new menu and a note saying what changed and who changed it."""
    stamp = clock.now().isoformat()
    roles = known.labels(person.role_names, person.locale)
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
    await menu.enqueue_commands(session, person, f"staff:{person.id}:menu:{stamp}", forms)
