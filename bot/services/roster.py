"""Who has filed what today (and this week), who is late, who is away — for /team."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.forms.spec import FormSpec
from bot.models import Obligation, Staff
from bot.services import leave, obligations
from bot.states import FILED, ObligationStatus


@dataclass(frozen=True)
class Line:
    """One person's state for one form's current period."""

    name: str
    state: str  # filed | late | waiting | overdue | away
    at: datetime | None  # when filed, or when due


async def current(
    session: AsyncSession, forms: tuple[FormSpec, ...], today: date
) -> list[tuple[FormSpec, str, list[Line]]]:
    """For each owed form: its current period key and everyone who owes it, by state."""
    now = clock.now()
    away = await leave.away_ids(session, today)
    result = []
    for form in forms:
        if form.cadence not in obligations.PERIOD_KIND:
            continue
        period = obligations.period_of(form, today).key
        rows = await session.execute(
            select(Obligation, Staff)
            .join(Staff, Staff.id == Obligation.staff_id)
            .where(Obligation.form_key == form.key, Obligation.period_key == period)
            .order_by(Staff.display_name)
        )
        pairs = list(rows)
        owing = {s.id for _, s in pairs}
        lines = [_line(o, s, now) for o, s in pairs]
        # People on leave have no obligation for the period: list them as away.
        lines += [
            Line(s.display_name, "away", None)
            for s in await obligations.owers(session, form)
            if s.id in away and s.id not in owing
        ]
        result.append((form, period, lines))
    return result


def _line(obligation: Obligation, staff: Staff, now: datetime) -> Line:
    if obligation.status in FILED:
        return Line(staff.display_name, obligation.status, obligation.filed_at)
    if obligation.status == ObligationStatus.EXCUSED:
        return Line(staff.display_name, "away", None)
    state = "overdue" if obligation.due_at <= now else "waiting"
    return Line(staff.display_name, state, obligation.due_at)
