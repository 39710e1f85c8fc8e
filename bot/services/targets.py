"""KPI targets: a director's per-period targets over the config's, spread over working days."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period, WorkCalendar
from bot.kpis.spec import KpiSpec
from bot.models import Staff, Target
from bot.services import audit
from bot.services.errors import ServiceError

# Coarse to fine; a count target is given for one of the coarse kinds and derived for the rest.
COARSE = ("year", "quarter", "month")
CHILD = {"year": "quarter", "quarter": "month"}
ZERO = Decimal(0)
Key = tuple[str, int | None, str]  # (kpi key, staff id or None for the team, period key)


class TargetError(ServiceError):
    """A target was refused (not positive, unknown KPI)."""


async def set_target(
    session: AsyncSession,
    kpi: KpiSpec,
    period: Period,
    staff: Staff | None,
    value: Decimal,
    actor: Staff,
) -> Target:
    """Set (or replace) the target of `kpi` for one period, for a person or the team."""
    if value <= 0:
        raise TargetError("not_positive", value=value)
    staff_id = staff.id if staff else None
    row = await session.scalar(
        select(Target).where(
            Target.kpi_key == kpi.key,
            Target.period_key == period.key,
            Target.staff_id.is_(None) if staff_id is None else Target.staff_id == staff_id,
        )
    )
    old = row.value if row else None
    if row is None:
        row = Target(kpi_key=kpi.key, period_key=period.key, staff_id=staff_id, value=value,
                     set_by=actor.id, set_at=clock.now())  # fmt: skip
        session.add(row)
    else:
        row.value, row.set_by, row.set_at = value, actor.id, clock.now()
    who = f"staff:{staff_id}" if staff_id else "team"
    await audit.record(session, actor.telegram_id, "kpi.target", f"{kpi.key}:{period.key}:{who}",
                       value=str(value), old=None if old is None else str(old))  # fmt: skip
    await session.flush()
    return row


async def load(session: AsyncSession, cal: WorkCalendar) -> "TargetBook":
    """Every director-set target (a small table), ready to answer for any period."""
    rows = await session.execute(select(Target.kpi_key, Target.staff_id, Target.period_key,
                                        Target.value))  # fmt: skip
    return TargetBook({(k, s, p): Decimal(v) for k, s, p, v in rows}, cal)


@dataclass
class TargetBook:
    """Answers "what is the target" from the explicit rows and the config, without queries."""

    rows: dict[Key, Decimal]
    cal: WorkCalendar

    def personal(self, kpi: KpiSpec, staff_id: int, period: Period, joined: date) -> Decimal | None:
        """One person's target for the period (counts pro-rated from the day they joined)."""
        exact = self.rows.get((kpi.key, staff_id, period.key))
        if exact is not None:
            return exact
        if not kpi.additive:
            return self._level(kpi, staff_id, period)
        return self._count(kpi, staff_id, period, joined)

    def team(self, kpi: KpiSpec, period: Period, personal: list[Decimal | None]) -> Decimal | None:
        """The team's target: a director's team target, else the sum (counts) or the level."""
        exact = self.rows.get((kpi.key, None, period.key))
        if exact is not None:
            return exact
        if not kpi.additive:
            return self._level(kpi, None, period)
        known = [t for t in personal if t is not None]
        return sum(known, ZERO) if known else None

    def _level(self, kpi: KpiSpec, staff_id: int | None, period: Period) -> Decimal | None:
        # A rate set for a month also holds for its weeks and days; the config is the default.
        for kind in reversed(COARSE):
            if _rank(kind) <= _rank(period.kind):
                found = self.rows.get(
                    (kpi.key, staff_id, Period.containing(kind, period.start).key)
                )
                if found is not None:
                    return found
        return kpi.target

    def _count(self, kpi: KpiSpec, staff_id: int, period: Period, joined: date) -> Decimal | None:
        if period.kind in ("day", "week"):
            return self._by_day(kpi, staff_id, period, joined)
        return self._coarse(kpi, staff_id, period, joined)

    def _by_day(self, kpi: KpiSpec, staff_id: int, period: Period, joined: date) -> Decimal | None:
        # Each working day carries an equal share of its month's target (from the join day on);
        # multiplied per month rather than added day by day, so 3000 × 3 / 18 is exactly 500.
        total, any_target = ZERO, False
        for month in {Period.containing("month", d) for d in (period.start, period.end)}:
            month_target = self._coarse(kpi, staff_id, month, joined)
            if month_target is None:
                continue
            days = [d for d in month.workdays(self.cal) if d >= joined]
            mine = [d for d in days if d in period]
            if mine:
                any_target = True
                total += month_target * len(mine) / len(days)
        return total if any_target else None

    def _coarse(self, kpi: KpiSpec, staff_id: int, period: Period, joined: date) -> Decimal | None:
        exact = self.rows.get((kpi.key, staff_id, period.key))
        if exact is not None:
            return exact
        if _rank(period.kind) < _rank(kpi.target_period):  # coarser than the config's: add up
            parts = [self._coarse(kpi, staff_id, p, joined) for p in _children(period)]
            known = [p for p in parts if p is not None]
            return sum(known, ZERO) if known else None
        base = Period.containing(kpi.target_period, period.start)
        value = self.rows.get((kpi.key, staff_id, base.key), kpi.target)
        if value is None:
            return None
        # A share of the configured period by working days, and only the days since joining.
        return value * self._workdays(period, joined) / max(self._workdays(base, base.start), 1)

    def _workdays(self, period: Period, joined: date) -> int:
        return len([d for d in period.workdays(self.cal) if d >= joined])


def _rank(kind: str) -> int:
    return ("year", "quarter", "month", "week", "day").index(kind)


def _children(period: Period) -> list[Period]:
    found, child = [], Period.containing(CHILD[period.kind], period.start)
    while child.start <= period.end:
        found.append(child)
        child = child.next()
    return found
