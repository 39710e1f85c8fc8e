"""Numbers as people write them in a sentence: 120, 1,200, 一百二, 1.2万, 3k, 三家, 两个,
百分之三十, 30% — found with their place in the text; dates, times and phone numbers are not."""

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.forms.fields import FieldError, parse_number

COUNTERS = "个家人次位条户单份件笔名篇场所间台套"
_COUNTER = rf"(?:\s*(?:[{COUNTERS}]|块钱|块|元|户人家))?"
_ARABIC = re.compile(
    r"(?<!\d)(?<!\d[.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(?P<unit>万|千|百|w(?![a-z])|k(?![a-z])))?"
    # 1万2, 3千5: the digit after 万/千 is the next place (12,000; 3,500), as people say it.
    r"(?:(?<=[万千])(?P<tail>[1-9])(?![\d.]))?"
    rf"(?P<pct>\s*%)?(?P<counter>{_COUNTER})"
)
_CN = "零〇一二两三四五六七八九十百千万亿"
_CN_NUMBER = re.compile(rf"(?P<num>[{_CN}]+)(?P<counter>{_COUNTER})")
_PERCENT = re.compile(rf"百分之(?P<num>[\d.]+|[{_CN}]+)")
# What looks like a number but is not one: dates, times, phone numbers, ordinals, week names.
_NOT_NUMBERS = re.compile(
    r"\d{4}[-/.年]\d{1,2}(?:[-/.月]\d{1,2}[日号]?)?"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]?|[零一二两三四五六七八九十]{1,3}月[零一二三四五六七八九十]{1,3}[日号]"
    r"|\d{1,2}[:：]\d{2}|\d{1,2}\s*[点时](?:半|\d{1,2}分?)?|[一二两三四五六七八九十]{1,3}点(?:半)?"
    r"|\d{1,2}\s*[号日](?![本])|\d{1,2}/\d{1,2}"
    r"|1\d{10}|\d{3,4}-\d{7,8}|第\s*[\d零一二两三四五六七八九十]+|[周星期礼拜]\s*[一二三四五六日天]"
    r"|一\s*[个家位单]\s*都没|星期\s*[一二三四五六日天]|礼拜\s*[一二三四五六日天]"
)
# 一 inside words: 一起, 一直, 统一… are no numbers.
_NOT_ONE_AFTER = set("起直下些定般样点共致同切边再旦向度块")
_NOT_ONE_BEFORE = set("统唯万之第某逐")
# "about": 十几, 几十, 100多, 三四家 — not filed on a guess.
_VAGUE_AFTER = re.compile(r"\s*(?:多|几|余|来|左右|上下|出头|\+)")


@dataclass(frozen=True)
class Number:
    """A number read from the text, [start, end) including its counter ("3家")."""

    value: Decimal
    start: int
    end: int
    counter: str = ""
    percent: bool = False
    weak: bool = False  # one Chinese digit with no counter ("三"): only next to a field's word
    vague: bool = False  # "100多", "十几", "三四家": about, not exactly


def find(text: str, taken: list[tuple[int, int]] | None = None) -> list[Number]:
    """Every number in a normalised text, in order, outside `taken` spans (extended with the
    dates and times found here, which are no numbers)."""
    blocked = list(taken or []) + [m.span() for m in _NOT_NUMBERS.finditer(text)]
    found: list[Number] = []
    for pattern, reader in ((_PERCENT, _percent), (_ARABIC, _arabic), (_CN_NUMBER, _chinese)):
        for match in pattern.finditer(text):
            if _overlaps(match.span(), blocked):
                continue
            number = reader(match, text)
            if number is not None:
                found.append(number)
                blocked.append((number.start, number.end))
    return sorted(found, key=lambda n: n.start)


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def _value(text: str) -> Decimal | None:
    try:
        return parse_number(text)
    except FieldError:
        return None


def _percent(match: re.Match, text: str) -> Number | None:
    value = _value(match["num"])
    return None if value is None else Number(value, *match.span(), percent=True)


def _arabic(match: re.Match, text: str) -> Number | None:
    value = _value(match["num"] + (match["unit"] or ""))
    if value is None:
        return None
    if match["tail"]:
        value += _value(match["tail"] + match["unit"]) / 10
    counter = match["counter"].strip()
    last = next(match.end(g) for g in ("tail", "unit", "num") if match[g])
    vague = bool(_VAGUE_AFTER.match(text, last))
    return Number(value, *match.span(), counter, bool(match["pct"]), vague=vague)


def _chinese(match: re.Match, text: str) -> Number | None:
    digits, start = match["num"], match.start()
    # A run starting with a unit (万科, 千万) or ending in 万/亿 before a name is not a number.
    while digits and digits[0] in "百千万亿":
        digits, start = digits[1:], start + 1
    if not digits or (start > 0 and text[start - 1] in _NOT_ONE_BEFORE):
        return None
    end_num = start + len(digits)
    after = text[end_num : end_num + 1]
    if digits == "一" and after in _NOT_ONE_AFTER:
        return None
    if digits == "十" and after == "分":  # 十分: very
        return None
    counter = match["counter"].strip()
    vague = _is_range(digits) or "几" in text[end_num : end_num + 1]
    vague = vague or bool(_VAGUE_AFTER.match(text, end_num))
    value = None if _is_range(digits) else _value(digits)
    if value is None and not vague:
        return None
    weak = len(digits) == 1 and not counter
    return Number(value or Decimal(0), start, match.end(), counter, weak=weak, vague=vague)


def _is_range(digits: str) -> bool:
    # 三四家, 五六个: "three or four"
    order = "一二三四五六七八九"
    return (
        len(digits) == 2
        and all(d in order for d in digits)
        and (order.index(digits[1]) == order.index(digits[0]) + 1)
    )
