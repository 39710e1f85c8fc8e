"""KPI targets: a director's per-period targets over the config's, spread over working days."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

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
ZERO, ONE = Decimal(0), Decimal(1)
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
        # A day's or week's part of each month it touches: the month's target spread over the
        # month's working days (from the join day on) in whole units, so the parts add up.
        total, any_target = ZERO, False
        for month in {Period.containing("month", d) for d in (period.start, period.end)}:
            month_target = self._coarse(kpi, staff_id, month, joined)
            if month_target is None:
                continue
            days = [d for d in month.workdays(self.cal) if d >= joined]
            mine = [share for d, share in spread(month_target, days).items() if d in period]
            if mine:
                any_target = True
                total += sum(mine, ZERO)
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
        # The configured period's target, pro-rated to the working days since joining, spread
        # over those days; this period gets the shares of its own days.
        days = [d for d in base.workdays(self.cal) if d >= joined]
        mine = prorate(value, len(days), len(base.workdays(self.cal)))
        return sum((v for d, v in spread(mine, days).items() if d in period), ZERO)


def prorate(value: Decimal, days: int, of_days: int) -> Decimal:
    """`value` × days / of_days, to the nearest whole unit when `value` is whole."""
    if days >= of_days:
        return value
    share = value * days / max(of_days, 1)
    return share.quantize(ONE, ROUND_HALF_UP) if _whole(value) else share


def spread(total: Decimal, days: list[date]) -> dict[date, Decimal]:
    """`total` over `days` in whole units, the remainder one each on the last days (sum exact).

    4 over 10 days: six days of 0, then four of 1. A total that is not whole keeps its fraction
    on the last day, so the parts still add up.
    """
    if not days:
        return {}
    each = (total / len(days)).to_integral_value(ROUND_FLOOR)
    rest = total - each * len(days)
    extra = int(rest.to_integral_value(ROUND_FLOOR))
    shares = {d: each + (1 if i >= len(days) - extra else 0) for i, d in enumerate(days)}
    shares[days[-1]] += rest - extra
    return shares


def _whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def _rank(kind: str) -> int:
    return ("year", "quarter", "month", "week", "day").index(kind)


def _children(period: Period) -> list[Period]:
    found, child = [], Period.containing(CHILD[period.kind], period.start)
    while child.start <= period.end:
        found.append(child)
        child = child.next()
    return found
