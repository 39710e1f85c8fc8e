"""Command menus by role and language (Telegram's setMyCommands, per person)."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, t
from bot.models import Staff
from bot.outbox import enqueue

# (command, description, roles that see it; None = everyone on the team)
COMMANDS: list[tuple[str, str, set[str] | None]] = [
    ("daily", N_("File today's channel-expansion report"), {"channel"}),
    ("weekly", N_("File the weekly user-feedback summary"), {"user_ops", "channel"}),
    ("media", N_("File the weekly new-media report"), {"new_media"}),
    ("content", N_("File the weekly content report"), {"content"}),
    ("research", N_("File a research report"), {"new_media", "director"}),
    ("channel", N_("Channel resource library"), {"channel", "director", "user_ops"}),
    ("feedback", N_("Record a user's feedback"), None),
    ("activity", N_("Propose an activity plan, or list mine"), None),
    ("results", N_("Report the results of an ended activity"), None),
    ("pending", N_("Plans waiting for my decision"), {"director"}),
    ("team", N_("Who has filed today, who is late or away"), {"director"}),
    ("budget", N_("The month's activity budget"), {"director"}),
    ("kpi", N_("KPI card: actual against target, and the score"), None),
    ("target", N_("Set a KPI target for a person or the team"), {"director"}),
    ("export", N_("Everything recorded, as a spreadsheet"), {"director"}),
    ("my", N_("My reports and what is due"), None),
    ("leave", N_("Record days away"), None),
    ("help", N_("What I can do for you"), None),
    ("lang", N_("Change language"), None),
    ("cancel", N_("Cancel what you are doing"), None),
    ("invite", N_("Create an invite link for a role"), {"director"}),
    ("staff", N_("Manage staff and roles"), {"director"}),
]
PUBLIC_COMMANDS: list[tuple[str, str]] = [
    ("start", N_("Ask to join the team")),
    ("help", N_("What I can do for you")),
]


def commands_for(staff: Staff) -> list[tuple[str, str]]:
    """The (command, msgid) pairs a person sees, by their roles."""
    roles = staff.role_names
    return [(c, d) for c, d, who in COMMANDS if who is None or roles & who]


def described(commands: list[tuple[str, str]], locale: str) -> list[tuple[str, str]]:
    """Translate the descriptions into `locale`."""
    return [(c, t(locale, d)) for c, d in commands]


async def enqueue_commands(session: AsyncSession, staff: Staff, key: str) -> None:
    """Queue this person's menu (chat scope) in their language."""
    commands = described(commands_for(staff) if staff.active else PUBLIC_COMMANDS, staff.locale)
    await enqueue(
        session,
        key,
        staff.telegram_id,
        "",
        method="setMyCommands",
        extra={"commands": [[c, d] for c, d in commands]},
    )
