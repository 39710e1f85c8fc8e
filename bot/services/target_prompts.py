"""A director's half-set target (KPI, who, period picked; the value still to type), kept in the
audit log the way a half-added channel is (docs/decisions.md 20), so no new table is needed.

`kpi.target_asked` is appended when the bot asks for the value (its `target` names the message
that asked); `kpi.target_closed` (target `prompt:<id>`) when it is saved or cancelled. Nothing
is updated in place: the log stays append-only.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.forms import flow
from bot.models import AuditLog, Staff
from bot.services import activities, audit

ASKED = "kpi.target_asked"
CLOSED = "kpi.target_closed"
# A value typed later than this is not taken as the answer any more (/target starts again).
TTL = timedelta(hours=1)


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
    """Record that the bot asked `actor` (in message `message_id`) for a target's value."""
    entry = AuditLog(
        at=clock.now(),
        actor_telegram_id=actor.telegram_id,
        action=ASKED,
        target=f"msg:{message_id}",
        details={"kpi": kpi_key, "staff": staff_id, "period": period_key},
    )
    session.add(entry)
    await session.flush()
    return _prompt(entry)


async def pending(session: AsyncSession, actor: Staff, reply_to: int | None) -> Prompt | None:
    """The prompt a typed message answers: the one it replies to, or else the newest one —
    unless a report question or a decision reason is also waiting, which then comes first."""
    entry = None
    if reply_to is not None:
        asked_there = AuditLog.target == f"msg:{reply_to}"
        entry = await session.scalar(select(AuditLog).where(*_fresh(actor), asked_there).limit(1))
    if entry is None:
        entry = await _newest(session, actor)
        if entry is None or await other_question(session, actor):
            return None
    return None if await _closed(session, entry.id) else _prompt(entry)


async def other_question(session: AsyncSession, actor: Staff) -> bool:
    """Whether a typed message of `actor` is owed elsewhere (a report draft, a decision reason)."""
    return (
        await flow.draft_of(session, actor.id) is not None
        or await activities.reason_prompt(session, actor.id) is not None
    )


async def claim(session: AsyncSession, prompt_id: int, actor: Staff) -> Prompt | None:
    """`actor`'s open prompt, locked until the transaction ends; None if gone, old or closed.

    The write changes nothing; it makes a second press of Save wait for the first to commit
    (row lock on PostgreSQL, write lock on SQLite), so it then finds the prompt closed.
    """
    claimed = await session.execute(
        update(AuditLog)
        .where(AuditLog.id == prompt_id, *_fresh(actor))
        .values(action=AuditLog.action)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1 or await _closed(session, prompt_id):
        return None
    return _prompt(await session.get(AuditLog, prompt_id))


async def close(session: AsyncSession, prompt: Prompt, actor: Staff, outcome: str) -> None:
    """Mark the prompt answered ("saved") or dropped ("cancelled")."""
    await audit.record(session, actor.telegram_id, CLOSED, f"prompt:{prompt.id}", outcome=outcome)
    await session.flush()


async def cancel_pending(session: AsyncSession, actor: Staff) -> bool:
    """Drop `actor`'s newest open prompt (for /cancel); whether there was one."""
    entry = await _newest(session, actor)
    if entry is None or await _closed(session, entry.id):
        return False
    await close(session, _prompt(entry), actor, "cancelled")
    return True


def _fresh(actor: Staff) -> tuple:
    return (
        AuditLog.action == ASKED,
        AuditLog.actor_telegram_id == actor.telegram_id,
        AuditLog.at >= clock.now() - TTL,
    )


async def _newest(session: AsyncSession, actor: Staff) -> AuditLog | None:
    return await session.scalar(
        select(AuditLog).where(*_fresh(actor)).order_by(AuditLog.id.desc()).limit(1)
    )


async def _closed(session: AsyncSession, prompt_id: int) -> bool:
    closing = (AuditLog.action == CLOSED, AuditLog.target == f"prompt:{prompt_id}")
    found = await session.scalar(select(AuditLog.id).where(*closing).limit(1))
    return found is not None


def _prompt(entry: AuditLog) -> Prompt:
    details = entry.details
    return Prompt(entry.id, details["kpi"], details["staff"], details["period"])
