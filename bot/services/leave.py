"""Leave: days a person is away — they owe no reports, and a director's deputy decides."""

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.models import Leave, Staff
from bot.outbox import enqueue
from bot.render import render
from bot.services import audit
from bot.services import staff as staff_service
from bot.services.errors import ServiceError

MAX_DAYS = 90


class LeaveError(ServiceError):
    """A leave that cannot be recorded; `reason` picks the message."""


async def add(
    session: AsyncSession,
    person: Staff,
    start: date,
    end: date,
    actor: Staff,
    *,
    today: date,
    deputy: Staff | None = None,
) -> Leave:
    """Record leave from `start` to `end` (inclusive); the directors are told when staff add it."""
    if end < start:
        raise LeaveError("dates")
    if end < today:
        raise LeaveError("past")
    if (end - start) > timedelta(days=MAX_DAYS):
        raise LeaveError("too_long", max=MAX_DAYS)
    if deputy is not None and (deputy.id == person.id or not deputy.active):
        raise LeaveError("bad_deputy")
    leave = Leave(staff_id=person.id, start_date=start, end_date=end,
                  deputy_id=deputy.id if deputy else None, created_by=actor.id,
                  created_at=clock.now())  # fmt: skip
    session.add(leave)
    await session.flush()
    await audit.record(session, actor.telegram_id, "leave.add", f"staff:{person.id}",
                       start=start.isoformat(), end=end.isoformat(),
                       deputy=deputy.id if deputy else None)  # fmt: skip
    await _tell(session, leave, person, deputy)
    return leave


async def _tell(session: AsyncSession, leave: Leave, person: Staff, deputy: Staff | None) -> None:
    """Every other director (and the deputy) hears of it once."""
    told = {person.id}
    for director in await staff_service.directors(session):
        if director.id in told:
            continue
        told.add(director.id)
        await _notice(session, leave, person, deputy, director)
    if deputy is not None and deputy.id not in told:
        await _notice(session, leave, person, deputy, deputy)


async def _notice(session, leave: Leave, person: Staff, deputy: Staff | None, reader: Staff):
    await enqueue(
        session, f"leave:{leave.id}:{reader.telegram_id}", reader.telegram_id,
        render("leave_notice.html.j2", reader.locale, name=person.display_name,
               start=leave.start_date.isoformat(), end=leave.end_date.isoformat(),
               deputy=deputy.display_name if deputy else "", you=deputy is reader),
    )  # fmt: skip


async def on_leave(session: AsyncSession, staff_id: int, day: date) -> Leave | None:
    """The person's leave covering `day`, if any."""
    return await session.scalar(
        select(Leave)
        .where(Leave.staff_id == staff_id, Leave.start_date <= day, Leave.end_date >= day)
        .limit(1)
    )


async def away_ids(session: AsyncSession, day: date) -> set[int]:
    """Everyone on leave on `day`."""
    return set(await session.scalars(_AWAY_ON, {"day": day}))


# Built once: every decision asks who is away (SQLAlchemy memoizes its cache key).
_AWAY_ON = select(Leave.staff_id).where(
    Leave.start_date <= bindparam("day"), Leave.end_date >= bindparam("day")
)


async def days_away(session: AsyncSession, staff_id: int, since: date) -> Callable[[date], bool]:
    """Whether `staff_id` is on leave on a day from `since` on (their leaves read once)."""
    spans = list(await session.execute(_SPANS_FROM, {"who": staff_id, "since": since}))
    return lambda day: any(start <= day <= end for start, end in spans)


# Built once: approving a newcomer reads their leave.
_SPANS_FROM = select(Leave.start_date, Leave.end_date).where(
    Leave.staff_id == bindparam("who"), Leave.end_date >= bindparam("since")
)


async def deciders(
    session: AsyncSession, day: date, directors: list[Staff] | None = None
) -> list[Staff]:
    """Who decides approvals on `day`: directors at work, and the deputies of those on leave.
    `directors`: the active directors, when the caller has read them already.

    When every director is away and none named a deputy, all directors still get the cards:
    a decision must stay possible.
    """
    directors = await staff_service.directors(session) if directors is None else directors
    leaves = {lv.staff_id: lv for lv in await _leaves_on(session, day)}
    present = [d for d in directors if d.id not in leaves]
    deputies = [leaves[d.id].deputy_id for d in directors if d.id in leaves]
    for deputy_id in filter(None, deputies):
        deputy = await session.get(Staff, deputy_id)
        if deputy is not None and deputy.active and deputy not in present:
            present.append(deputy)
    return present or directors


async def acting_for(session: AsyncSession, staff_id: int, day: date) -> list[int]:
    """Ids of the directors `staff_id` stands in for on `day`."""
    return [lv.staff_id for lv in await _leaves_on(session, day) if lv.deputy_id == staff_id]


async def _leaves_on(session: AsyncSession, day: date) -> list[Leave]:
    return list(await session.scalars(_LEAVES_ON, {"day": day}))


# Built once: a decision on a directors' step reads the day's leaves (and their deputies).
_LEAVES_ON = select(Leave).where(
    Leave.start_date <= bindparam("day"), Leave.end_date >= bindparam("day")
)


async def mine(session: AsyncSession, staff_id: int, today: date) -> list[Leave]:
    """A person's current and coming leave, soonest first."""
    return list(
        await session.scalars(
            select(Leave)
            .where(Leave.staff_id == staff_id, Leave.end_date >= today)
            .order_by(Leave.start_date)
        )
    )
