"""Command menus by role and language (Telegram's setMyCommands, per person), from the forms
configured and the fixed commands."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.spec import FormSpec, Labels
from bot.i18n import N_, t
from bot.models import Staff
from bot.outbox import enqueue_later

# A menu line's description: a gettext msgid, or a form's own zh/en label from config.
Text = str | Labels
FORMS_FILED = "forms:report"  # where the forms that file reports go, in config order
FORMS_ACTIVITY = "forms:activity"  # where the activity plan and results forms go

# (command, description, roles that see it; None = everyone on the team), and the two places
# the configured forms are listed (their roles say who sees them).
COMMANDS: list[tuple[str, str, set[str] | None]] = [
    (FORMS_FILED, "", None),
    ("channel", N_("Channel resource library"), {"channel", "director", "user_ops"}),
    ("feedback", N_("Record a user's feedback"), None),
    (FORMS_ACTIVITY, "", None),
    ("mine", N_("What I proposed, and where it is"), None),
    ("pending", N_("What waits for my decision"), {"director"}),  # + roles deciding a step
    ("team", N_("Who has filed today, who is late or away"), {"director"}),
    ("budget", N_("Budgets: used, waiting and left"), {"director"}),
    ("kpi", N_("KPI card: actual against target, and the score"), None),
    ("target", N_("Set a KPI target for a person or the team"), {"director"}),
    ("export", N_("Everything recorded, as a spreadsheet"), {"director"}),
    ("my", N_("My reports and what is due"), None),
    ("synonyms", N_("My own words for report fields"), None),
    ("tasks", N_("My tasks, and the ones I assigned"), None),
    ("assign", N_("Assign a task with a deadline"), None),
    ("leave", N_("Record days away"), None),
    ("help", N_("What I can do for you"), None),
    ("lang", N_("Change language"), None),
    ("cancel", N_("Cancel what you are doing"), None),
    ("invite", N_("Create an invite link for a role"), {"director"}),
    ("staff", N_("Manage staff and roles"), {"director"}),
]
# The shipped forms' menu lines, kept in the message catalogues; a form added in config says
# its own (`menu`, else its name).
SHIPPED: dict[str, str] = {
    "daily_channel": N_("File today's channel-expansion report"),
    "weekly_feedback": N_("File the weekly user-feedback summary"),
    "weekly_media": N_("File the weekly new-media report"),
    "weekly_content": N_("File the weekly content report"),
    "research": N_("File a research report"),
    "activity_plan": N_("Propose an activity plan, or list mine"),
    "activity_results": N_("Report the results of an ended activity"),
}
PUBLIC_COMMANDS: list[tuple[str, Text]] = [
    ("start", N_("Ask to join the team")),
    ("help", N_("What I can do for you")),
]


def commands_for(staff: Staff, forms: Sequence[FormSpec]) -> list[tuple[str, Text]]:
    """The (command, description) pairs a person sees, by their roles and the forms they file."""
    roles = staff.role_names
    found: list[tuple[str, Text]] = []
    for command, text, who in COMMANDS:
        if command in (FORMS_FILED, FORMS_ACTIVITY):
            found += [_form_line(f) for f in _forms_at(command, forms) if roles & set(f.roles)]
        elif command == "mine" and not any(roles & set(f.roles) for f in _approved(forms)):
            continue  # proposes nothing that waits for a decision
        else:
            if command == "pending":
                who = who | _deciding_roles(forms)
            if who is None or roles & who:
                found.append((command, text))
    return found


def _approved(forms: Sequence[FormSpec]) -> list[FormSpec]:
    return [f for f in forms if f.target in ("approval", "activity_plan")]


def _deciding_roles(forms: Sequence[FormSpec]) -> set[str]:
    """Roles a configured approval step names (the new-media manager reviews content)."""
    return {s.role() for f in forms if f.approval for s in f.approval.steps if s.role()}


def _forms_at(place: str, forms: Sequence[FormSpec]) -> list[FormSpec]:
    activity = place == FORMS_ACTIVITY
    return [f for f in forms if (f.target != "report") == activity]


def _form_line(form: FormSpec) -> tuple[str, Text]:
    if form.menu is None and form.key in SHIPPED:
        return form.command, SHIPPED[form.key]
    return form.command, form.menu or form.name


def described(commands: list[tuple[str, Text]], locale: str) -> list[tuple[str, str]]:
    """The descriptions in `locale`: msgids translated, configured labels picked."""
    return [(c, d.get(locale) if isinstance(d, Labels) else t(locale, d)) for c, d in commands]


async def enqueue_commands(
    session: AsyncSession, staff: Staff, key: str, forms: Sequence[FormSpec]
) -> None:
    """Queue this person's menu (chat scope) in their language (with the rows queued next:
    `outbox.enqueue_later`)."""
    commands = commands_for(staff, forms) if staff.active else PUBLIC_COMMANDS
    await enqueue_later(
        session,
        key,
        staff.telegram_id,
        "",
        method="setMyCommands",
        extra={"commands": [[c, d] for c, d in described(commands, staff.locale)]},
    )
