"""What the /kpi, /target and /export handlers share: labels, people by name, periods."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import filters

from bot import clock
from bot.calendar import local_date
from bot.forms.fields import fold
from bot.models import Staff
from bot.services import kpi
from bot.services import staff as staff_service
from bot.services.errors import ServiceError
from bot.services.kpi_input import by_name
from bot.state import BotContext

PRIVATE = filters.ChatType.PRIVATE
LABEL_MAX = 40
TEAM = "t"
PERIOD = r"[\w-]+"  # a period's key in button data (2026-10, 2026-W49, …); handlers parse it


def label(text: str) -> str:
    """A button label clipped to LABEL_MAX characters."""
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def args(update: Update) -> str:
    """What follows the command word."""
    parts = (update.effective_message.text or "").split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def today(context: BotContext) -> date:
    """Today in the team's zone."""
    return local_date(clock.now(), context.settings.team.tz)


def explain(exc: ServiceError) -> dict:
    """The template context of kpi_error.html.j2 for a refused input."""
    return {"reason": exc.reason, "text": "", "name": "", "mine": False, **exc.details}


async def find(session: AsyncSession, context: BotContext, text: str) -> Staff | None:
    """Someone assessed, by @username, Telegram id, or name (spaces and case do not count)."""
    if text.startswith("@") or text.isdigit():
        return await staff_service.by_handle(session, text)
    if not fold(text):  # nothing to look for: no query
        return None
    return by_name(await kpi.assessed_staff(session, context.settings.kpi), text)


async def assessed(session: AsyncSession, context: BotContext, staff_id: int) -> Staff | None:
    """The person with this id, if a KPI applies to them."""
    people = await kpi.assessed_staff(session, context.settings.kpi)
    return next((p for p in people if p.id == staff_id), None)
