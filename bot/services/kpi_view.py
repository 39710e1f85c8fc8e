"""A KPI card's lines as people read them: value, target, bar, completion, pace and score."""

from dataclasses import dataclass
from datetime import date

from bot.calendar import ONE_DAY, Period, WorkCalendar
from bot.kpis.display import amount, bar, pct, show
from bot.services import kpi
from bot.services.kpi import Card, Result


@dataclass(frozen=True)
class Line:
    """One KPI on a card, ready to show."""

    name: str
    weight: str | None
    actual: str
    target: str
    bar: str
    completion: str
    problem: str | None
    pace: str | None  # what each working day left needs; None when not a count or not now
    on_plan: bool = False


def line(r: Result, locale: str, days_left: int | None, *, weighted: bool) -> Line:
    """One result as a card line; `days_left` (working days after today) gives the pace."""
    needed = kpi.needed_per_day(r.target, r.actual, days_left or 0) if r.kpi.additive else None
    on_plan = needed == 0
    pace = None if needed is None or on_plan else show(r.kpi, needed, locale)
    return Line(
        name=r.kpi.name.get(locale),
        weight=amount(r.kpi.weight) if weighted else None,
        actual=show(r.kpi, r.actual, locale),
        target=show(r.kpi, r.target, locale),
        bar=bar(r.completion),
        completion=pct(r.completion),
        # A spread share of 0 (the month's few units fall on later days) is not a missing target.
        problem="zero_target" if r.problem == "no_target" and r.target == 0 else r.problem,
        pace=pace,
        on_plan=on_plan,
    )


def score(card: Card) -> str | None:
    """The card's weighted score as shown; None when nothing is scored."""
    return None if card.score is None else amount(card.score)


def best(card: Card) -> str | None:
    """The card's highest possible score (above 100 when KPIs count beyond their target)."""
    return None if card.max_score is None else amount(card.max_score)


def team_best(cards: list[Card]) -> str | None:
    """The highest possible score over everyone's cards, for the team card's heading."""
    found = max((c.max_score for c in cards if c.max_score is not None), default=None)
    return None if found is None else amount(found)


def days_left(cal: WorkCalendar, period: Period, today: date) -> int | None:
    """Working days after today when `period` is the current month (what the pace spreads the
    rest of the target over); None for any other period."""
    if period != Period.containing("month", today):
        return None
    return cal.count_workdays(today + ONE_DAY, period.end) or None
