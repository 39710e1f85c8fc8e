"""Deadlines as people type them (明天, 周五下午5点, 12/10 17:00, tomorrow 5pm), read on the team's
zone and working calendar.

dateparser reads the English forms and some Chinese ones (明天, 3天后, 周五 17:00, 2026年12月10日);
what it misses is rewritten first into what it reads (decision 57 lists both): Chinese numerals
(三天后), times of day (下午5点 -> 17:00), month-day dates (12月10日 -> 12/10), and 下周一 /
本周五, which it reads as "the coming Monday" instead of "Monday of next week".
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.calendar import WorkCalendar, at_local
from bot.i18n import t
from bot.services.errors import ServiceError
from bot.services.periods import WEEKDAY_NAMES, short_date

# A day typed without a time is due at the end of that working day (team zone).
END_OF_DAY = time(18, 0)
# Longer is not a deadline (and dateparser's work grows with it).
MAX_CHARS = 40

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_DIGITS |= {"八": 8, "九": 9}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# A Chinese number (up to 99) before a unit; never a weekday (周一, 星期三, 礼拜五).
_CN_NUMBER = re.compile(r"(?<![周期拜])([零一二两三四五六七八九十]{1,3})(?=[天日号月点时个分周])")
_FULL_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_WEEK = re.compile(r"(下下|下|本|这|这个|下个)(?:周|星期|礼拜)([一二三四五六日天])")
_CLOCK = re.compile(
    r"(凌晨|早上|早晨|上午|中午|午后|下午|傍晚|晚上|今晚)?\s*(\d{1,2})\s*[点時时]\s*(半|(\d{1,2})\s*分?)?"
)
_PM = ("中午", "午后", "下午", "傍晚", "晚上", "今晚")
# A time of day in the rewritten text: 17:00, 5pm, 5 am, noon.
_TIMED = re.compile(r"\d{1,2}:\d{2}|\d\s*[ap]\.?m\b|\bnoon\b|\bmidnight\b", re.IGNORECASE)


class DeadlineError(ServiceError):
    """A deadline that cannot be used: "unreadable", "past" or "too_long"."""


@dataclass(frozen=True)
class Deadline:
    """A typed deadline understood: the moment (aware, UTC) and how it sits on the calendar."""

    at: datetime
    day: date  # team-local
    timed: bool  # a time of day was typed (else END_OF_DAY)
    day_off: bool  # the day is not a working day
    instead: datetime | None = None  # the working day before (or after) at the same time


def parse(text: str, *, now: datetime, tz: ZoneInfo, cal: WorkCalendar) -> Deadline:
    """Read `text` as a deadline after `now` in zone `tz`; DeadlineError when it is not one."""
    text = " ".join((text or "").split())
    if not text:
        raise DeadlineError("unreadable", text=text)
    if len(text) > MAX_CHARS:
        raise DeadlineError("too_long", max=MAX_CHARS)
    local_now = now.astimezone(tz)
    rewritten = normalise(text, local_now.date())
    found = _dateparser(rewritten, local_now.replace(tzinfo=None))
    if found is None:
        raise DeadlineError("unreadable", text=text)
    timed = bool(_TIMED.search(rewritten))
    moment = at_local(found.date(), found.time() if timed else END_OF_DAY, tz)
    if moment <= now:
        raise DeadlineError("past", text=text)
    return _on_calendar(moment, timed, tz, cal, local_now.date())


def normalise(text: str, today: date) -> str:
    """Rewrite the Chinese forms dateparser misses into forms it reads."""
    text = _CN_NUMBER.sub(lambda m: str(cn_number(m.group(1))), text)
    text = _FULL_DATE.sub(lambda m: f" {m[1]}-{int(m[2]):02d}-{int(m[3]):02d} ", text)
    text = _MONTH_DAY.sub(lambda m: f" {int(m[1])}/{int(m[2])} ", text)
    text = _WEEK.sub(lambda m: f" {_week_day(m[1], m[2], today).isoformat()} ", text)
    text = _CLOCK.sub(_clock, text)
    return " ".join(text.split())


_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")
_AM_PM = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?$", re.IGNORECASE)


def time_of_day(text: str) -> time | None:
    """A time of day alone (10:00, 10点, 下午5点半, 5pm, noon), or None."""
    text = _CLOCK.sub(_clock, _CN_NUMBER.sub(lambda m: str(cn_number(m.group(1))), text)).strip()
    if text.lower() == "noon":
        return time(12, 0)
    if found := _HH_MM.match(text):
        hour, minute = int(found[1]), int(found[2])
    elif found := _AM_PM.match(text):
        hour, minute = int(found[1]) % 12, int(found[2] or 0)
        hour += 12 if found[3].lower() == "p" else 0
    else:
        return None
    return time(hour, minute) if hour < 24 and minute < 60 else None


def cn_number(chars: str) -> int | str:
    """一 -> 1, 十二 -> 12, 二十三 -> 23; anything else is left as it was."""
    tens, _, ones = chars.partition("十")
    if "十" not in chars:
        return _DIGITS[chars] if len(chars) == 1 else chars
    if any(c not in _DIGITS for c in tens + ones) or len(tens) > 1 or len(ones) > 1:
        return chars
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0)


def _week_day(which: str, weekday: str, today: date) -> date:
    """本周五 is Friday of this week, 下周一 Monday of next week, 下下周一 the week after."""
    weeks = {"下下": 2, "下": 1, "下个": 1}.get(which, 0)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks, days=_WEEKDAYS[weekday])


def _clock(match: re.Match) -> str:
    part, hour, half, minutes = match[1], int(match[2]), match[3], match[4]
    if part in _PM and hour < 12 and not (part == "中午" and hour >= 11):
        hour += 12
    minute = 30 if half == "半" else int(minutes or 0)
    if hour > 23 or minute > 59:
        return match[0]
    return f" {hour:02d}:{minute:02d} "


def _dateparser(text: str, base: datetime) -> datetime | None:
    import dateparser  # imported on first use: it costs every opsbot process otherwise

    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": "MDY",  # 12/10 is 12月10日, as written in China
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    return dateparser.parse(text, languages=["zh", "en"], settings=settings)


def _on_calendar(
    moment: datetime, timed: bool, tz: ZoneInfo, cal: WorkCalendar, today: date
) -> Deadline:
    day = moment.astimezone(tz).date()
    instead = suggestion(moment, tz, cal, today)
    return Deadline(moment, day, timed, day_off=instead is not None, instead=instead)


def suggestion(moment: datetime, tz: ZoneInfo, cal: WorkCalendar, today: date) -> datetime | None:
    """For a deadline on a day off: the working day before at the same time (the one after when
    that is already past); None on a working day."""
    local = moment.astimezone(tz)
    if cal.is_workday(local.date()):
        return None
    before = cal.previous_workday(local.date())
    day = before if before >= today else cal.next_workday(local.date())
    return at_local(day, local.time().replace(tzinfo=None), tz)


def text_of(moment: datetime, tz: ZoneInfo, locale: str) -> str:
    """A deadline as the card shows it: 12月11日（周五）17:00 / Fri 11 Dec 17:00."""
    local = moment.astimezone(tz)
    weekday = t(locale, WEEKDAY_NAMES[local.weekday()])
    day, clock_text = short_date(local.date(), locale), local.strftime("%H:%M")
    return t(locale, "%(weekday)s %(date)s %(time)s", weekday=weekday, date=day, time=clock_text)


def day_text(d: date, locale: str) -> str:
    """A day with its weekday: 12月12日（周六） / Sat 12 Dec."""
    weekday = t(locale, WEEKDAY_NAMES[d.weekday()])
    return t(locale, "%(weekday)s %(date)s", weekday=weekday, date=short_date(d, locale))
