"""The department's roles (DOMAIN.md) and what each may do."""

from bot.i18n import N_

ROLES = ("director", "channel", "new_media", "content", "user_ops", "activity")
STAFF_ROLES = ROLES[1:]

ROLE_LABELS = {
    "director": N_("Operations director"),
    "channel": N_("Channel-expansion manager"),
    "new_media": N_("New-media manager"),
    "content": N_("Content-planning manager"),
    "user_ops": N_("User-operations manager"),
    "activity": N_("Activity-operations manager"),
}


def is_role(value: str) -> bool:
    """True when `value` names one of the department's roles."""
    return value in ROLES
