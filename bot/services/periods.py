"""Periods as people type them (2026-11, 本月, last week, 11月, Q4) and as they read them."""

import re
from datetime import date

from bot.calendar import Period
from bot.forms.fields import FieldError, halfwidth, parse_date
from bot.i18n import N_, t

WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))

# word -> (kind, how many periods from the current one)
WORDS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("今天", "今日", "today"), ("day", 0)),
    **dict.fromkeys(("昨天", "昨日", "yesterday"), ("day", -1)),
    **dict.fromkeys(("本周", "这周", "这星期", "本星期", "week", "thisweek"), ("week", 0)),
    **dict.fromkeys(("上周", "上星期", "lastweek"), ("week", -1)),
    **dict.fromkeys(("本月", "这个月", "当月", "month", "thismonth"), ("month", 0)),
    **dict.fromkeys(("上月", "上个月", "lastmonth"), ("month", -1)),
    **dict.fromkeys(("下月", "下个月", "nextmonth"), ("month", 1)),
    **dict.fromkeys(("本季度", "本季", "这季度", "quarter", "thisquarter"), ("quarter", 0)),
    **dict.fromkeys(("上季度", "上个季度", "lastquarter"), ("quarter", -1)),
    **dict.fromkeys(("下季度", "下个季度", "nextquarter"), ("quarter", 1)),
    **dict.fromkeys(("今年", "本年", "year", "thisyear"), ("year", 0)),
    **dict.fromkeys(("去年", "lastyear"), ("year", -1)),
    **dict.fromkeys(("明年", "nextyear"), ("year", 1)),
}
_CN_QUARTER = {"一": 1, "二": 2, "三": 3, "四": 4}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Spaces are gone before these match; re.ASCII: \d is 0-9 only (full-width was made plain).
_CN_MONTH = re.compile(r"(?:(\d{4})年)?(\d{1,2})月份?", re.ASCII)
_CN_YEAR = re.compile(r"(\d{4})年", re.ASCII)
_QUARTER = re.compile(r"(?:(\d{4})年?-?)?(?:q([1-4])|第?([1-4一二三四])季(?:度)?)", re.ASCII)
_EN_MONTH = re.compile(r"([a-z]{3,9})\.?,?(\d{4})?", re.ASCII)


def parse(text: str, today: date, default: str = "month") -> Period:
    """The period `text` names, relative to `today`; empty text is the current `default` period.

    Raises ValueError for anything else (the caller shows examples).
    """
    compact = re.sub(r"\s+", "", halfwidth(text or "")).casefold()
    if not compact:
        return Period.containing(default, today)
    if compact in WORDS:
        kind, offset = WORDS[compact]
        return _shift(Period.containing(kind, today), offset)
    for reader in (_key, _month, _quarter, _year, _english_month, _day):
        found = reader(compact, text, today)
        if found is not None:
            return found
    raise ValueError(f"not a period: {text!r}")


def _shift(period: Period, offset: int) -> Period:
    for _ in range(abs(offset)):
        period = period.next() if offset > 0 else period.previous()
    return period


def _key(compact: str, text: str, today: date) -> Period | None:
    try:
        return Period.parse(compact.upper())
    except ValueError:
        return None


def _month(compact: str, text: str, today: date) -> Period | None:
    match = _CN_MONTH.fullmatch(compact)
    if match is None or not 1 <= int(match[2]) <= 12:
        return None
    year = int(match[1]) if match[1] else today.year
    return Period.containing("month", date(year, int(match[2]), 1))


def _quarter(compact: str, text: str, today: date) -> Period | None:
    match = _QUARTER.fullmatch(compact)
    if match is None:
        return None
    number = match[2] or match[3]
    number = _CN_QUARTER.get(number) or int(number)
    year = int(match[1]) if match[1] else today.year
    return Period.containing("quarter", date(year, 3 * number - 2, 1))


def _year(compact: str, text: str, today: date) -> Period | None:
    match = _CN_YEAR.fullmatch(compact)
    return Period.containing("year", date(int(match[1]), 1, 1)) if match else None


def _english_month(compact: str, text: str, today: date) -> Period | None:
    match = _EN_MONTH.fullmatch(compact)
    if match is None:
        return None
    number = next((i for i, m in enumerate(_MONTHS, 1) if match[1].startswith(m)), None)
    if number is None or not _spells_month(match[1], number):
        return None
    year = int(match[2]) if match[2] else today.year
    return Period.containing("month", date(year, number, 1))


def _spells_month(word: str, number: int) -> bool:
    # "oct", "octo", "october" — a prefix of the full name, at least three letters.
    names = ("january", "february", "march", "april", "may", "june", "july", "august",
             "september", "october", "november", "december")  # fmt: skip
    return names[number - 1].startswith(word) or (number == 9 and word == "sept")


def _day(compact: str, text: str, today: date) -> Period | None:
    try:
        return Period.containing("day", parse_date(text, today))
    except (FieldError, ValueError):
        return None


_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")  # fmt: skip
_CN_NUMBERS = "一二三四"


def label(period: Period, locale: str) -> str:
    """A period as a person reads it: 第50周（12月7日–13日）, 2026年12月 / Week 50 (7–13 Dec)."""
    start, end = period.start, period.end
    if period.kind == "day":
        weekday = t(locale, WEEKDAY_NAMES[start.weekday()])
        return t(locale, "%(weekday)s %(day)s %(mon)s %(year)s", **_parts(start), weekday=weekday)
    if period.kind == "week":
        return t(locale, "Week %(week)s (%(span)s)", week=start.isocalendar().week,
                 span=_span(start, end, locale))  # fmt: skip
    if period.kind == "month":
        return t(locale, "%(month_name)s %(year)s", month_name=_EN_MONTHS[start.month - 1],
                 month=start.month, year=start.year)  # fmt: skip
    if period.kind == "quarter":
        number = (start.month - 1) // 3 + 1
        return t(locale, "Q%(quarter)s %(year)s", quarter=number,
                 quarter_cn=_CN_NUMBERS[number - 1], year=start.year)  # fmt: skip
    return t(locale, "Year %(year)s", year=start.year)


def short_date(d: date, locale: str) -> str:
    """A day without its year, as a person reads it: 12月7日 / 7 Dec."""
    return t(locale, "%(day)s %(mon)s", **_parts(d))


def _parts(d: date) -> dict[str, object]:
    return {"day": d.day, "month": d.month, "mon": _EN_MONTHS[d.month - 1][:3], "year": d.year}


def _span(start: date, end: date, locale: str) -> str:
    """7–13 Dec / 12月7日–13日; across months 30 Nov – 6 Dec / 11月30日–12月6日."""
    first = {f"{k}1": v for k, v in _parts(start).items()}
    last = {f"{k}2": v for k, v in _parts(end).items()}
    if start.month == end.month:
        return t(locale, "%(day1)s–%(day2)s %(mon1)s", **first, **last)
    return t(locale, "%(day1)s %(mon1)s – %(day2)s %(mon2)s", **first, **last)
