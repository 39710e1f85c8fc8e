"""Dates in a sentence (今天, 昨天, 周五, 下周一, 12月1日, 2026-12-01, yesterday, friday, dec 1),
read against the team's today; and the period a report says it is for (昨天的日报：…).

A small rule set rather than dateparser: the forms are few, their meaning must be exact (周五 is
this week's Friday, Monday to Sunday, as people here use it), and it costs no import time."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.forms.fields import FieldError, parse_date

_RELATIVE = {"前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "明天": 1, "明日": 1,
             "后天": 2, "yesterday": -1, "today": 0, "tomorrow": 1}  # fmt: skip
_CN_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(r"(?P<which>上|下|这|本)?(?:个)?(?:周|星期|礼拜)(?P<day>[一二三四五六日天])")
_EN_WEEKDAY = re.compile(
    r"(?<![a-z])(?P<which>last |next |this )?(?P<day>" + "|".join(_EN_DAYS) + r")(?![a-z])"
)
_FULL = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[日号]?")
_MONTH_DAY = re.compile(
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,2})\s*月\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号]?"
)
_EN_DATE = re.compile(
    r"(?<![a-z])(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s*\d{1,2}"
    r"(?:st|nd|rd|th)?(?![\d])"
)
_RELATIVE_WORD = re.compile("|".join(sorted(_RELATIVE, key=len, reverse=True)))
_PERIOD = re.compile(
    r"^\s*(?:补|补交|补报)?\s*(?P<when>.{2,12}?)\s*(?:的|'s)?\s*(?:日报|周报|报告|report)\s*[:：,，]?"
)
_EN_PERIOD = re.compile(r"^\s*(?:report|daily report) for (?P<when>[a-z0-9 .]{3,14}?)\s*[:,]")


@dataclass(frozen=True)
class DateHit:
    """A date read from the text, [start, end)."""

    day: date
    start: int
    end: int


def find(text: str, today: date) -> list[DateHit]:
    """Every date in a normalised text, in order (overlapping forms: the longest)."""
    hits: list[DateHit] = []
    for pattern, reader in (
        (_FULL, _absolute),
        (_MONTH_DAY, _absolute),
        (_EN_DATE, _absolute),
        (_WEEKDAY, _weekday),
        (_EN_WEEKDAY, _en_weekday),
        (_RELATIVE_WORD, _relative),
    ):
        for match in pattern.finditer(text):
            if any(match.start() < h.end and h.start < match.end() for h in hits):
                continue
            day = reader(match, today)
            if day is not None:
                hits.append(DateHit(day, *match.span()))
    return sorted(hits, key=lambda h: h.start)


def _absolute(match: re.Match, today: date) -> date | None:
    try:
        return parse_date(match[0], today)
    except FieldError:
        return None


def _relative(match: re.Match, today: date) -> date:
    return today + timedelta(days=_RELATIVE[match[0]])


def _week_of(today: date, weekday: int, which: str) -> date:
    monday = today - timedelta(days=today.weekday())
    shift = {"上": -7, "last": -7, "下": 7, "next": 7}.get(which.strip(), 0)
    return monday + timedelta(days=weekday + shift)


def _weekday(match: re.Match, today: date) -> date:
    return _week_of(today, _CN_DAYS[match["day"]], match["which"] or "")


def _en_weekday(match: re.Match, today: date) -> date:
    return _week_of(today, _EN_DAYS.index(match["day"]), match["which"] or "")


def period(text: str, today: date) -> tuple[date, tuple[int, int]] | None:
    """The day a report says it is for, at its start ("昨天的日报：", "report for yesterday:")."""
    match = _PERIOD.match(text) or _EN_PERIOD.match(text)
    if match is None:
        return None
    hits = find(match["when"], today)
    if len(hits) != 1 or hits[0].end - hits[0].start != len(match["when"].strip()):
        return None
    return hits[0].day, match.span()
