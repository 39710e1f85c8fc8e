"""The KPI sheet of an export: each person's and the team's KPIs for the periods of a range."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import PERIOD_KINDS, Period, WorkCalendar
from bot.config import Settings
from bot.i18n import N_, normalise, t
from bot.services import kpi
from bot.services.kpi import Result
from bot.services.sheets import Formatted, Sheet

HEADER = (
    N_("Period"), N_("Person"), N_("KPI"), N_("Actual"), N_("Target"), N_("Completion"),
    N_("Weight"), N_("Score"), N_("Not scored because"),
)  # fmt: skip
PROBLEMS = {
    "no_data": N_("no data for this period"),
    "no_target": N_("no target"),
    "source_gone": N_("its source field is no longer in the form"),
}
PERCENT = "0.0%"
PLACES = Decimal("0.0001")
# A quarter or a year is also broken down by month; shorter periods are shown as they are.
BROKEN_DOWN = ("quarter", "year")


async def kpi_sheet(
    session: AsyncSession,
    settings: Settings,
    cal: WorkCalendar,
    start: date,
    end: date,
    locale: str,
    now: datetime,
) -> Sheet:
    """One row per person (or the team), KPI and period, for every period of start..end."""
    locale = normalise(locale)
    people = await kpi.assessed_staff(session, settings.kpi)
    team = t(locale, N_("Team"))
    rows: list[list[object]] = []
    for period in periods_in(start, end):
        found = await kpi.assess(session, settings.kpi, settings.reports, cal, settings.team.tz,
                                 period, now, people)  # fmt: skip
        for card in found.cards:
            score = _number(card.score)
            name = card.staff.display_name
            rows += [_row(period, name, r, locale, r.kpi.weight, score) for r in card.results]
        rows += [_row(period, team, r, locale, None, None) for r in found.team]
    return t(locale, N_("KPIs")), [t(locale, h) for h in HEADER], rows


def periods_in(start: date, end: date) -> list[Period]:
    """The range itself when it is one period, and every month of it when it is longer."""
    exact = exact_period(start, end)
    if exact is not None and exact.kind not in BROKEN_DOWN:
        return [exact]
    found = [exact] if exact is not None else []
    month = Period.containing("month", start)
    while month.start <= end:
        found.append(month)
        month = month.next()
    return found


def exact_period(start: date, end: date) -> Period | None:
    """The day, week, month, quarter or year that is exactly start..end, if any."""
    for kind in PERIOD_KINDS:
        period = Period.containing(kind, start)
        if period.end == end and period.start == start:
            return period
    return None


def _row(period: Period, who: str, r: Result, locale: str, weight, score) -> list[object]:
    return [
        period.key, who, r.kpi.name.get(locale), _value(r, r.actual), _value(r, r.target),
        None if r.completion is None else Formatted(r.completion.quantize(PLACES), PERCENT),
        _number(weight), score, t(locale, PROBLEMS[r.problem]) if r.problem else None,
    ]  # fmt: skip


def _value(r: Result, value: Decimal | None) -> object:
    """Rates as percentages, counts and amounts as plain numbers."""
    if value is None:
        return None
    return Formatted(value.quantize(PLACES), PERCENT) if r.kpi.percent else _number(value)


def _number(value: Decimal | None) -> int | Decimal | None:
    if value is None:
        return None
    value = value.quantize(PLACES)
    return int(value) if value == value.to_integral_value() else value.normalize()
