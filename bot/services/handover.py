"""What a deactivated person's "open work" is, and how it moves to someone else."""

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ActivityPlan, Channel, Draft, Obligation, Prompt
from bot.states import UNFINISHED, ObligationStatus


async def move_channels(session: AsyncSession, source: int, target: int) -> int:
    """Their channels in the library get the new owner (history keeps who did what)."""
    moved = await session.execute(
        update(Channel).where(Channel.owner_id == source).values(owner_id=target)
    )
    return moved.rowcount


async def move_plans(session: AsyncSession, source: int, target: int) -> int:
    """Plans not yet finished (waiting, sent back, approved, running) get the new proposer."""
    moved = await session.execute(
        update(ActivityPlan)
        .where(
            ActivityPlan.proposer_id == source,
            ActivityPlan.status.in_(UNFINISHED),
        )
        .values(proposer_id=target)
    )
    return moved.rowcount


async def drop_unfinished(session: AsyncSession, source: int, target: int) -> int:
    """A half-filled form or an open prompt (a reason, a value) cannot be continued by anyone else;
    their open obligations are excused (the new owner owes their own)."""
    await session.execute(delete(Draft).where(Draft.staff_id == source))
    await session.execute(delete(Prompt).where(Prompt.staff_id == source))
    excused = await session.execute(
        update(Obligation)
        .where(Obligation.staff_id == source, Obligation.status == ObligationStatus.OPEN)
        .values(status=ObligationStatus.EXCUSED)
    )
    return excused.rowcount


MOVERS = (move_channels, move_plans, drop_unfinished)
