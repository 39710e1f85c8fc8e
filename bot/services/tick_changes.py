"""What a run of the tick changed in the database: read before it, compared after it.

`opsbot jobs due` runs the tick's own code (jobs/tick.py `enqueue_due`) in a transaction it
rolls back and reports these changes; everything here reads, nothing decides what is due.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ActivityPlan, Obligation, Outbox, Staff
from bot.services import team
from bot.states import ObligationStatus

OBLIGATION = (Obligation.id, Obligation.staff_id, Obligation.form_key, Obligation.period_key,
              Obligation.due_at, Obligation.status)  # fmt: skip
MESSAGE = (Outbox.id, Outbox.dedup_key, Outbox.chat_id, Outbox.method, Outbox.payload)


@dataclass(frozen=True)
class Snapshot:
    """What the tick may change, read before it runs."""

    last_outbox: int
    last_obligation: int
    open_obligations: frozenset[int]
    plans: dict[int, tuple]


@dataclass(frozen=True)
class PlanChange:
    """An activity plan the tick moved on (status) or gave a decision deadline."""

    id: int
    title: str
    old_status: str
    status: str
    decide_by: datetime | None  # set only when the tick changed it


@dataclass(frozen=True)
class Changes:
    """Plain rows (they outlive a rollback), with the names needed to read them."""

    created: list[Row]  # obligations: OBLIGATION columns
    closed: list[Row]  # obligations open before, closed now, with their new status
    messages: list[Row]  # outbox rows queued: MESSAGE columns
    plans: list[PlanChange]
    people: dict[int, Row]  # staff id → (id, telegram_id, display_name)
    group: int | None  # the team group's chat id


async def snapshot(session: AsyncSession) -> Snapshot:
    """Read what the tick may change, before it runs."""
    open_ids = await session.scalars(
        select(Obligation.id).where(Obligation.status == ObligationStatus.OPEN)
    )
    return Snapshot(
        last_outbox=await _max_id(session, Outbox.id),
        last_obligation=await _max_id(session, Obligation.id),
        open_obligations=frozenset(open_ids),
        plans=await _plans(session),
    )


async def since(session: AsyncSession, before: Snapshot) -> Changes:
    """What changed since `before` was taken, in the order it happened."""
    created = await session.execute(
        select(*OBLIGATION).where(Obligation.id > before.last_obligation).order_by(Obligation.id)
    )
    was_open = await session.execute(
        select(*OBLIGATION)
        .where(Obligation.id <= before.last_obligation, Obligation.status != ObligationStatus.OPEN)
        .order_by(Obligation.id)
    )
    messages = await session.execute(
        select(*MESSAGE).where(Outbox.id > before.last_outbox).order_by(Outbox.id)
    )
    people = await session.execute(select(Staff.id, Staff.telegram_id, Staff.display_name))
    return Changes(
        created=list(created),
        closed=[row for row in was_open if row.id in before.open_obligations],
        messages=list(messages),
        plans=_plan_changes(before.plans, await _plans(session)),
        people={row.id: row for row in people},
        group=(await team.get(session)).group_chat_id,
    )


async def _max_id(session: AsyncSession, column) -> int:
    return (await session.scalar(select(column).order_by(column.desc()).limit(1))) or 0


async def _plans(session: AsyncSession) -> dict[int, tuple]:
    rows = await session.execute(
        select(ActivityPlan.id, ActivityPlan.title, ActivityPlan.status, ActivityPlan.decide_by)
    )
    return {row.id: tuple(row) for row in rows}


def _plan_changes(before: dict[int, tuple], after: dict[int, tuple]) -> list[PlanChange]:
    found = []
    for plan_id, (_, title, status, decide_by) in after.items():
        old = before.get(plan_id)
        if old is None or (status == old[2] and decide_by in (old[3], None)):
            continue
        new_deadline = decide_by if decide_by != old[3] else None
        found.append(PlanChange(plan_id, title, old[2], status, new_deadline))
    return found
