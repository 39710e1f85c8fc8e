"""Working days on China's statutory calendar, reporting periods, and team-zone time helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, get_args

import chinese_calendar

ONE_DAY = timedelta(days=1)
# Longer than any real run of days off (the longest is a week); beyond this a config is broken.
SEARCH_LIMIT_DAYS = 400
# Holidays fixed to the Gregorian date; lunar ones (Spring Festival etc.) cannot be guessed ahead.
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)})

PeriodKind = Literal["day", "week", "month", "quarter", "year"]
PERIOD_KINDS: tuple[str, ...] = get_args(PeriodKind)


def _require_date(d: object) -> date:
    # datetime is a subclass of date, but its calendar day depends on the zone and it never
    # equals a date in a set lookup; callers must pick the day with local_date() first.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {d!r}")
    return d


def _require_aware(moment: object) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}; pass an aware (UTC) datetime")


def _fallback_is_workday(d: date) -> bool:
    return d.weekday() < 5 and (d.month, d.day) not in FIXED_HOLIDAYS


def _as_predicate(provider: Any) -> Callable[[date], bool]:
    # Accept a module or object with is_workday (like chinese_calendar itself) or a bare callable.
    predicate = getattr(provider, "is_workday", provider)
    if not callable(predicate):
        raise TypeError(f"provider must be callable or have is_workday(), got {provider!r}")
    return predicate


def _date_range(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _week_days(d: date) -> list[date]:
    monday = d - timedelta(days=d.weekday())
    return _date_range(monday, monday + timedelta(days=6))


class WorkCalendar:
    """Answers whether a day is worked, with config overrides on top of the statutory calendar."""

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        provider: Any = None,
    ) -> None:
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_workdays = frozenset(extra_workdays)
        for d in self._extra_holidays | self._extra_workdays:
            _require_date(d)
        clash = sorted(self._extra_holidays & self._extra_workdays)
        if clash:
            days = ", ".join(d.isoformat() for d in clash)
            raise ValueError(f"dates both in extra holidays and extra workdays: {days}")
        self._provider = _as_predicate(chinese_calendar if provider is None else provider)
        self._fallback_years: set[int] = set()
        # chinese_calendar validates every date it is asked about (~25 µs); KPI targets ask
        # about the same month's days thousands of times per digest.
        self._known: dict[date, bool] = {}

    def is_workday(self, d: date) -> bool:
        """Return True if d is a working day; never raises for a year without statutory data."""
        known = self._known.get(d)
        if known is None:
            known = self._known[d] = self._is_workday(d)
        return known

    def _is_workday(self, d: date) -> bool:
        _require_date(d)
        if d in self._extra_workdays:
            return True
        if d in self._extra_holidays:
            return False
        try:
            return bool(self._provider(d))
        except NotImplementedError:
            self._fallback_years.add(d.year)
            return _fallback_is_workday(d)

    def is_fallback_year(self, year: int) -> bool:
        """Return True if the statutory provider has no data for that year."""
        try:
            self._provider(date(year, 1, 1))
        except NotImplementedError:
            return True
        return False

    @property
    def fallback_years_used(self) -> frozenset[int]:
        """Years for which the weekday fallback actually answered, so directors can be told."""
        return frozenset(self._fallback_years)

    def next_workday(self, d: date, *, include: bool = False) -> date:
        """Return the first working day after d, or d itself if include and it is one."""
        return self._search(d if include else d + ONE_DAY, ONE_DAY)

    def previous_workday(self, d: date, *, include: bool = False) -> date:
        """Return the last working day before d, or d itself if include and it is one."""
        return self._search(d if include else d - ONE_DAY, -ONE_DAY)

    def _search(self, start: date, step: timedelta) -> date:
        d = start
        for _ in range(SEARCH_LIMIT_DAYS):
            if self.is_workday(d):
                return d
            d += step
        raise ValueError(f"no working day within {SEARCH_LIMIT_DAYS} days of {start.isoformat()}")

    def workdays(self, start: date, end: date) -> list[date]:
        """Return the working days from start to end inclusive; empty if end is before start."""
        _require_date(start)
        _require_date(end)
        return [d for d in _date_range(start, end) if self.is_workday(d)]

    def count_workdays(self, start: date, end: date) -> int:
        """Return how many working days lie from start to end inclusive."""
        return len(self.workdays(start, end))

    def nth_workday(self, start: date, end: date, n: int) -> date | None:
        """The n-th working day from start to end (1 the first, -1 the last; the nearest end when
        there are fewer), or None when none is worked."""
        days = self.workdays(start, end)
        if not days or n == 0:
            return None
        return days[min(n, len(days)) - 1] if n > 0 else days[max(n, -len(days))]

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after d (d itself for n = 0)."""
        for _ in range(n):
            d = self.next_workday(d)
        return d

    def first_workday_of_week(self, d: date) -> date | None:
        """Return the first working day of d's ISO week, or None if the week has none."""
        return next((day for day in _week_days(d) if self.is_workday(day)), None)

    def last_workday_of_week(self, d: date) -> date | None:
        """Return the last working day of d's ISO week, or None if the week has none."""
        return next((day for day in reversed(_week_days(d)) if self.is_workday(day)), None)


def _add_months(first_of_month: date, months: int) -> date:
    years, month_index = divmod(first_of_month.month - 1 + months, 12)
    return date(first_of_month.year + years, month_index + 1, 1)


def _bounds(kind: str, d: date) -> tuple[date, date]:
    _require_date(d)
    if kind == "day":
        return d, d
    if kind == "week":
        monday = d - timedelta(days=d.weekday())
        return monday, monday + timedelta(days=6)
    if kind == "month":
        start = d.replace(day=1)
        return start, _add_months(start, 1) - ONE_DAY
    if kind == "quarter":
        start = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
        return start, _add_months(start, 3) - ONE_DAY
    if kind == "year":
        return date(d.year, 1, 1), date(d.year, 12, 31)
    raise ValueError(f"unknown period kind {kind!r}; expected one of {', '.join(PERIOD_KINDS)}")


# Checked in order; each must match the whole key. ASCII only, so "２０２６" is not a year.
_KEY_PATTERNS: tuple[tuple[PeriodKind, re.Pattern[str]], ...] = (
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)),
    ("week", re.compile(r"(\d{4})-W(\d{2})", re.ASCII)),
    ("month", re.compile(r"(\d{4})-(\d{2})", re.ASCII)),
    ("quarter", re.compile(r"(\d{4})-Q(\d)", re.ASCII)),
    ("year", re.compile(r"(\d{4})", re.ASCII)),
)


def _start_from_key(kind: PeriodKind, year: int, number: int = 1, day: int = 1) -> date:
    if kind == "week":
        return date.fromisocalendar(year, number, 1)
    if kind == "quarter":
        if not 1 <= number <= 4:
            raise ValueError(f"quarter must be 1..4, got {number}")
        return date(year, 3 * number - 2, 1)
    return date(year, number, day)


@dataclass(frozen=True)
class Period:
    """A reporting period in the team zone: a day, ISO week, month, quarter or year."""

    kind: PeriodKind
    start: date
    end: date

    def __post_init__(self) -> None:
        if (self.start, self.end) != _bounds(self.kind, self.start):
            raise ValueError(f"{self.start}..{self.end} is not a whole {self.kind}")

    @classmethod
    def containing(cls, kind: PeriodKind, d: date) -> Period:
        """Return the period of that kind that contains d."""
        return cls(kind, *_bounds(kind, d))

    @classmethod
    def parse(cls, key: str) -> Period:
        """Parse a key such as 2026-11-26, 2026-W48, 2026-11, 2026-Q4 or 2026."""
        for kind, pattern in _KEY_PATTERNS:
            match = pattern.fullmatch(key)
            if match is None:
                continue
            try:
                start = _start_from_key(kind, *(int(group) for group in match.groups()))
            except ValueError as exc:
                raise ValueError(f"bad {kind} period key {key!r}: {exc}") from None
            return cls.containing(kind, start)
        raise ValueError(
            f"bad period key {key!r}; expected a form like 2026-11-26, 2026-W48, 2026-11, "
            "2026-Q4 or 2026"
        )

    @property
    def key(self) -> str:
        """Return the stable text key, e.g. 2026-W48 (ISO week year) or 2026-Q4."""
        year, month = self.start.year, self.start.month
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            iso = self.start.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        if self.kind == "month":
            return f"{year:04d}-{month:02d}"
        if self.kind == "quarter":
            return f"{year:04d}-Q{(month - 1) // 3 + 1}"
        return f"{year:04d}"

    def next(self) -> Period:
        """Return the period of the same kind right after this one."""
        return Period.containing(self.kind, self.end + ONE_DAY)

    def previous(self) -> Period:
        """Return the period of the same kind right before this one."""
        return Period.containing(self.kind, self.start - ONE_DAY)

    def days(self) -> list[date]:
        """Return every date of the period, in order."""
        return _date_range(self.start, self.end)

    def workdays(self, cal: WorkCalendar) -> list[date]:
        """Return the working days of the period on that calendar."""
        return cal.workdays(self.start, self.end)

    def __contains__(self, d: object) -> bool:
        day = _require_date(d)
        return self.start <= day <= self.end


def local_date(moment: datetime, tz: tzinfo) -> date:
    """Return the calendar day of an aware moment in zone tz (the team's: settings.team.tz)."""
    _require_aware(moment)
    return moment.astimezone(tz).date()


def at_local(d: date, t: time, tz: tzinfo) -> datetime:
    """Return the aware UTC moment of wall time t on day d in zone tz (the team's)."""
    _require_date(d)
    if t.tzinfo is not None:
        raise ValueError(f"wall time must be naive, the zone comes from tz; got {t!r}")
    return datetime.combine(d, t, tzinfo=tz).astimezone(UTC)
