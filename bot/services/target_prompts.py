"""A director's half-set target (KPI, who, period picked; the value still to type): their open
prompt of kind TARGET_VALUE (services/prompts.py), read here as the three things it is about.

Which text answers it is decided by prompts.answering; a value typed once the prompt expired
(prompts.TTL) is not taken any more (/target starts again).
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Prompt as PromptRow
from bot.models import Staff
from bot.services import prompts

KIND = prompts.Kind.TARGET_VALUE


@dataclass(frozen=True)
class Prompt:
    """What the value typed next is the target of."""

    id: int
    kpi_key: str
    staff_id: int | None  # None: the team
    period_key: str


async def ask(
    session: AsyncSession,
    actor: Staff,
    kpi_key: str,
    staff_id: int | None,
    period_key: str,
    message_id: int,
) -> Prompt:
    """Ask `actor` (in message `message_id`) for a target's value."""
    details = {"kpi": kpi_key, "staff": staff_id, "period": period_key}
    row = await prompts.ask(session, actor.id, KIND, details=details, message_id=message_id)
    return of(row)


async def reply_needed(session: AsyncSession, prompt: Prompt, actor: Staff) -> bool:
    """Whether a plain text would go elsewhere (a report being filled): the ask says to reply."""
    found = await prompts.answering(session, actor.id, None)
    return found is None or found.prompt is None or found.prompt.id != prompt.id


async def claim(session: AsyncSession, prompt_id: int, actor: Staff) -> Prompt | None:
    """`actor`'s open target prompt, locked until the transaction ends; None if gone or old."""
    row = await prompts.claim(session, prompt_id, actor.id, KIND)
    return None if row is None else of(row)


async def close(session: AsyncSession, prompt: Prompt) -> None:
    """The value was saved, or the director cancelled: the prompt is no longer open."""
    await prompts.close(session, prompt.id)


def of(row: PromptRow) -> Prompt:
    """The target prompt a prompts row of kind TARGET_VALUE holds."""
    details = row.details
    return Prompt(row.id, details["kpi"], details["staff"], details["period"])
