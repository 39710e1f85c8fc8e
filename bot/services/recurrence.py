"""Recurrences as people type them (每天 17:00, 每周一 10:00, 每周一三五, 每月1日,
every Monday 5pm), and the working days they fall on (decision 62).

A weekly or daily recurrence skips a day off (a holiday Monday has no 周一 task; a 调休 Saturday
is a working day for 每天); a monthly one moves to the next working day, so a month is never
without its task.
"""

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, time, timedelta

from bot.calendar import WorkCalendar
from bot.i18n import t
from bot.services import deadlines
from bot.services.errors import ServiceError
from bot.services.periods import WEEKDAY_NAMES

WORKDAY, WEEK, MONTH = "workday", "week", "month"
# How far ahead a recurrence may look for its next day (a rule matching no working day ends).
HORIZON_DAYS = 400

_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_DAILY = re.compile(
    r"^(?:每天|每日|每个工作日|每工作日|工作日每天|every\s+(?:work|week)?day|daily|every\s+working\s+day)",
    re.IGNORECASE,
)
_CN_WEEKLY = re.compile(
    r"^每(?:个)?(?:周|星期|礼拜)((?:[、,，和及与]?(?:周|星期|礼拜)?[一二三四五六日天])+)"
)
_EN_WEEKLY = re.compile(
    r"^(?:every|each|weekly\s+on)\s+((?:(?:,|and|&)?\s*[a-z]{3,9}\b\s*)+)", re.IGNORECASE
)
_CN_MONTHLY = re.compile(r"^每(?:个)?月\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号]")
_EN_MONTHLY = re.compile(
    r"^(?:every\s+month|monthly)\s+(?:on\s+)?(?:the\s+|day\s+)?(\d{1,2})(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)


class RecurrenceError(ServiceError):
    """A recurrence read but not usable: "no_time", "bad_day"."""


@dataclass(frozen=True)
class Rule:
    """Every working day, some weekdays, or a day of the month; due at `at` (team zone)."""

    every: str
    days: tuple[int, ...]  # weekdays 0–6 (WEEK) or days of the month (MONTH)
    at: time

    def as_json(self) -> dict:
        """The rule as stored in task_series.rule."""
        return {"every": self.every, "days": list(self.days), "time": self.at.strftime("%H:%M")}

    @classmethod
    def from_json(cls, data: dict) -> "Rule":
        """A stored rule back."""
        hour, minute = (int(part) for part in data["time"].split(":"))
        return cls(data["every"], tuple(data.get("days", ())), time(hour, minute))

    def falls_on(self, day: date, cal: WorkCalendar) -> bool:
        """True when an occurrence is due on `day`."""
        if not cal.is_workday(day):
            return False
        if self.every == WORKDAY:
            return True
        if self.every == WEEK:
            return day.weekday() in self.days
        # A monthly day that is off moves to the next working day, maybe into the next month.
        previous = day.replace(day=1) - timedelta(days=1)
        months = ((day.year, day.month), (previous.year, previous.month))
        return any(_month_day(y, m, d, cal) == day for y, m in months for d in self.days)

    def next_on(self, start: date, cal: WorkCalendar) -> date | None:
        """The first day on or after `start` with an occurrence; None when none within a year."""
        for offset in range(HORIZON_DAYS):
            day = start + timedelta(days=offset)
            if self.falls_on(day, cal):
                return day
        return None


def _month_day(year: int, month: int, day: int, cal: WorkCalendar) -> date:
    """The month's `day` (its last day when shorter), moved to the next working day if off."""
    found = date(year, month, min(day, monthrange(year, month)[1]))
    return found if cal.is_workday(found) else cal.next_workday(found)


def parse(text: str) -> Rule | None:
    """`text` read as a recurrence (None when it does not start like one)."""
    text = " ".join((text or "").split())
    rest, every, days = _head(text)
    if every is None:
        return None
    rest = rest.strip(" ,，、")
    if not rest:
        return Rule(every, days, deadlines.END_OF_DAY)
    timed = deadlines.time_of_day(rest)
    if timed is None:
        raise RecurrenceError("no_time", text=rest)
    return Rule(every, days, timed)


def _head(text: str) -> tuple[str, str | None, tuple[int, ...]]:
    if found := _DAILY.match(text):
        return text[found.end() :], WORKDAY, ()
    if found := _CN_WEEKLY.match(text):
        days = sorted({_CN_WEEKDAYS[c] for c in found[1] if c in _CN_WEEKDAYS})
        return text[found.end() :], WEEK, tuple(days)
    if found := _EN_WEEKLY.match(text):
        words = re.findall(r"[a-z]+", found[1].lower())
        days = [_EN_WEEKDAYS[w] for w in words if w in _EN_WEEKDAYS]
        if days and all(w in _EN_WEEKDAYS or w == "and" for w in words):
            return text[found.end() :], WEEK, tuple(sorted(set(days)))
    for pattern in (_CN_MONTHLY, _EN_MONTHLY):
        if found := pattern.match(text):
            number = found[1] if found[1].isdigit() else str(deadlines.cn_number(found[1]))
            day = int(number) if number.isdigit() else 0
            if not 1 <= day <= 31:
                raise RecurrenceError("bad_day", text=found[0])
            return text[found.end() :], MONTH, (day,)
    return text, None, ()


def text_of(rule: Rule, locale: str) -> str:
    """每周一、周三 10:00 / Every Mon, Wed 10:00 / 每个工作日 18:00 / 每月1日 18:00."""
    at = rule.at.strftime("%H:%M")
    if rule.every == WORKDAY:
        return t(locale, "Every working day %(time)s", time=at)
    if rule.every == WEEK:
        sep = t(locale, ", ")
        names = sep.join(t(locale, WEEKDAY_NAMES[d]) for d in rule.days)
        return t(locale, "Every %(days)s %(time)s", days=names, time=at)
    return t(locale, "Every month on day %(day)s %(time)s", day=rule.days[0], time=at)
