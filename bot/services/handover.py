"""What a deactivated person's "open work" is, and how it moves to someone else.

Every mover takes (session, source, target, *, actor, tz): `actor` the Telegram id of who hands
over, `tz` the team's zone (a task card shows its deadline in it).
"""

from zoneinfo import ZoneInfo

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ACTIVITY_FORM, ApprovalRequest, Channel, Draft, Obligation, Prompt
from bot.services import approval_followups, task_series, tasks
from bot.states import UNFINISHED, ObligationStatus


async def move_channels(session: AsyncSession, source: int, target: int, **_) -> int:
    """Their channels in the library get the new owner (history keeps who did what)."""
    moved = await session.execute(
        update(Channel).where(Channel.owner_id == source).values(owner_id=target)
    )
    return moved.rowcount


async def move_plans(session: AsyncSession, source: int, target: int, **_) -> int:
    """Plans not yet finished (waiting, sent back, approved, running) get the new proposer."""
    # A plan's proposer is its request's (decision 65); other requests are not handed over.
    moved = await session.execute(
        update(ApprovalRequest)
        .where(
            ApprovalRequest.form_key == ACTIVITY_FORM,
            ApprovalRequest.proposer_id == source,
            ApprovalRequest.status.in_(UNFINISHED),
        )
        .values(proposer_id=target)
    )
    return moved.rowcount


async def drop_unfinished(session: AsyncSession, source: int, target: int, **_) -> int:
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


async def move_tasks(
    session: AsyncSession, source: int, target: int, *, actor: int | None, tz: ZoneInfo
) -> int:
    """Tasks they owe go to the successor (told with a card); tasks they assigned get the
    successor as assigner; their unsent drafts are cancelled (bot/services/tasks.py); recurring
    tasks move to the successor on either side."""
    moved = await tasks.hand_over(session, source, target, actor, tz=tz)
    return moved + await task_series.hand_over(session, source, target)


MOVERS = (move_channels, move_plans, drop_unfinished, move_tasks, approval_followups.hand_over)
