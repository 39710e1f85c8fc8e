"""The field engine: parse one typed answer against its FieldSpec, and show stored values."""

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from functools import cache, lru_cache
from typing import Any

from bot.forms.spec import (
    DEFAULT_ACCEPT,
    DEFAULT_MAX_MB,
    NUMERIC_TYPES,
    Choice,
    FieldSpec,
    FormSpec,
    Labels,
)
from bot.i18n import t

DEFAULT_CAP = 10**12  # bound of a numeric field whose config sets none: catches a slipped finger
HARD_CAP = 10**15  # nothing at or beyond this is ever stored, whatever the config says
CHANNEL_NAME_MAX = 128
NUMBER_TEXT_MAX = 64  # characters; nobody means a longer text as one number
GROUP_TOKENS_MAX = 20  # per item: bounds the search that shares words among sub-fields
EMPTY = "—"


@dataclass(frozen=True)
class FieldContext:
    """What parsing and display need besides the field: language, team-local today, lists."""

    locale: str
    today: date
    regions: tuple[Choice, ...] = ()
    industries: tuple[Choice, ...] = ()


class FieldError(Exception):
    """An answer that does not fit its field: a stable `reason` code and the message's `params`."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)  # params travel in __dict__, so the error pickles
        self.reason = reason
        self.params = params

    def __str__(self) -> str:
        return f"{self.reason} {self.params}" if self.params else self.reason


def parse_answer(field: FieldSpec, text: str, ctx: FieldContext) -> Any:
    """Parse one typed answer into its stored, JSON-safe form; raise FieldError if it is bad."""
    return _PARSERS[field.type](field, _cleaned(text), ctx)


def parse_choice_key(field: FieldSpec, key: str, ctx: FieldContext) -> str:
    """Check a key that came from a button (it may be stale); raise FieldError if unknown."""
    choices = options(field, ctx)
    if any(c.key == key for c in choices):
        return key
    raise FieldError(_UNKNOWN.get(field.type, "unknown_choice"), options=_labels(choices, ctx))


def options(field: FieldSpec, ctx: FieldContext) -> tuple[Choice, ...]:
    """The choices a choice, multichoice, region or industry field offers (else none)."""
    if field.type == "region":
        return ctx.regions
    if field.type == "industry":
        return ctx.industries
    return field.choices


def error_context(field: FieldSpec, error: FieldError, locale: str) -> dict[str, Any]:
    """Everything templates/form_field_error.html.j2 needs to explain `error`."""
    return {**error.params, "reason": error.reason, "label": field.label.get(locale)}


# Text: newlines normalised, control characters refused, blank means empty.


def _cleaned(text: str) -> str:
    text = re.sub(r"\r\n?|[\u2028\u2029\x85]", "\n", text).replace("\t", " ")
    if any(_is_control(ch) for ch in text):
        raise FieldError("control_chars")
    text = text.strip()
    if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text):
        raise FieldError("empty")  # zero-width spaces alone are as empty as nothing
    return text


def _is_control(ch: str) -> bool:
    # Cs: a lone surrogate cannot be encoded for the database or Telegram.
    return ch != "\n" and unicodedata.category(ch) in ("Cc", "Cs")


def _text(field: FieldSpec, text: str, ctx: FieldContext) -> str:
    if field.type == "text" and "\n" in text:
        raise FieldError("multiline")
    return _short_enough(text, field.max_length)


def _short_enough(text: str, max_length: int) -> str:
    if len(text) > max_length:
        raise FieldError("too_long", max_length=max_length, length=len(text))
    return text


# Numbers: 1234, 1,234.5, １２３, -3, 1.2万, 3k, 1.2w, 一千二百, 两万三, 三点五, 1万2.

_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {
    0x3000: " ",
    0xFFE5: "¥",
    0x2212: "-",
    0xFE63: "-",
}
_CN_DIGITS = dict(
    zip("零〇一二两三四五六七八九壹贰叁肆伍陆柒捌玖", "001223456789123456789", strict=True)
)
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "k": 1000}
_BIG_UNITS = {"万": 10**4, "萬": 10**4, "w": 10**4, "亿": 10**8, "億": 10**8}
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?|.")
_COUNTERS = "个家人次位条户单份件笔名"  # "3个", "5家": counting words people add to whole numbers
_CURRENCY = re.compile(r"^(?:¥|rmb|cny)|(?:元|块钱|块|rmb|cny|yuan)$")


def halfwidth(text: str) -> str:
    """`text` with full-width ASCII (１２３，ａ) and the ideographic space made plain."""
    return text.translate(_HALFWIDTH)


def parse_number(text: str) -> Decimal:
    """A number as people type it (1,234 / １２３ / 1.2万 / 一千二百 / 三点五); else FieldError."""
    s = halfwidth(text).strip().lower()
    if len(s) > NUMBER_TEXT_MAX or re.search(r"[0-9]\s+[0-9]", s):
        raise FieldError("not_a_number")
    s = re.sub(r"\s+", "", s)
    sign = -1 if s[:1] in ("-", "负") else 1
    s = s[1:] if s[:1] in ("-", "+", "负") else s
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    with localcontext() as c:
        c.prec = 60  # exact for anything short enough to get here
        value = Decimal(s) if _PLAIN.fullmatch(s) else _chinese(s)
        return sign * value if value else Decimal(0)


def _chinese(s: str) -> Decimal:
    if s and all(ch in _CN_DIGITS for ch in s):
        return Decimal("".join(_CN_DIGITS[ch] for ch in s))  # 二〇二六, 一二三: digit by digit
    head, point, tail = s.partition("点")
    if not point:
        return _CnReader().read(s, abbreviate=True)
    digits = re.match(r"[0-9零〇一二三四五六七八九]+", tail)
    if not digits:
        raise FieldError("not_a_number")
    fraction = Decimal("0." + "".join(_CN_DIGITS.get(ch, ch) for ch in digits[0]))
    whole = _CnReader().read(head, abbreviate=False) if head else Decimal(0)
    return (whole + fraction) * _multiplier(tail[digits.end() :])


def _multiplier(units: str) -> int:
    product = 1
    for ch in units:
        if ch not in _BIG_UNITS and ch not in _SMALL_UNITS:
            raise FieldError("not_a_number")
        product *= _BIG_UNITS.get(ch) or _SMALL_UNITS[ch]
    return product


class _CnReader:
    """Reads 一万二千零五 / 1.2万 / 两千五 left to right, refusing what is not a number."""

    def __init__(self) -> None:
        self.total = Decimal(0)  # finished 万 / 亿 sections
        self.section = Decimal(0)  # the part below the next big unit
        self.pending: Decimal | None = None  # a digit waiting for its unit
        self.single = False  # the pending digit is one character: 一万二 means 12,000
        self.unit = 0  # the last unit read
        self.small = 10**4  # 千 > 百 > 十 within a section
        self.wan_open = False  # 万 twice without 亿 between is not a number
        self.zero = False  # 零 written: 一万零二 is 10,002

    def read(self, text: str, *, abbreviate: bool) -> Decimal:
        tokens = _TOKEN.findall(text)
        if not tokens:
            raise FieldError("not_a_number")
        for token in tokens:
            self._feed(token)
        return self._result(abbreviate)

    def _feed(self, token: str) -> None:
        if token in _BIG_UNITS:
            self._big(_BIG_UNITS[token])
        elif token in _SMALL_UNITS:
            self._small(_SMALL_UNITS[token])
        elif token in ("零", "〇") and self.pending is None:
            self.zero = True
        elif token in _CN_DIGITS or (token[0].isascii() and token[0].isdigit()):
            self._digit(token)
        else:
            raise FieldError("not_a_number")

    def _digit(self, token: str) -> None:
        if self.pending is not None:
            raise FieldError("not_a_number")
        self.pending = Decimal(_CN_DIGITS.get(token, token))
        self.single = len(token) == 1

    def _small(self, unit: int) -> None:
        if unit >= self.small or (self.pending is None and unit != 10):
            raise FieldError("not_a_number")
        self.section += (1 if self.pending is None else self.pending) * unit
        self.small, self.unit, self.pending, self.zero = unit, unit, None, False

    def _big(self, unit: int) -> None:
        part = self.section + (self.pending or 0)
        if unit == 10**8:
            if not part and not self.total:
                raise FieldError("not_a_number")
            self.total = (self.total + part) * unit
            self.wan_open = False
        else:
            if not part or self.wan_open:
                raise FieldError("not_a_number")
            self.total += part * unit
            self.wan_open = True
        self.section, self.pending, self.zero = Decimal(0), None, False
        self.small, self.unit = 10**4, unit

    def _result(self, abbreviate: bool) -> Decimal:
        if self.pending is not None:
            if abbreviate and self.single and self.unit >= 10 and not self.zero:
                self.pending *= Decimal(self.unit) / 10
            self.section += self.pending
        return self.total + self.section


def _bounds(field: FieldSpec) -> tuple[Decimal, Decimal]:
    low = Decimal(repr(field.min)) if field.min is not None else Decimal(-DEFAULT_CAP)
    high = Decimal(repr(field.max)) if field.max is not None else Decimal(DEFAULT_CAP)
    return max(low, Decimal(1 - HARD_CAP)), min(high, Decimal(HARD_CAP - 1))


def _in_range(field: FieldSpec, value: Decimal) -> Decimal:
    low, high = _bounds(field)
    if low <= value <= high:
        return value
    shown = {"kind": field.type, "min": _show_bound(field, low), "max": _show_bound(field, high)}
    if field.min is not None and field.max is not None:
        raise FieldError("out_of_range", **shown)
    if value < low:
        raise FieldError("below_min", kind=field.type, min=shown["min"])
    raise FieldError("above_max", kind=field.type, max=shown["max"])


def _show_bound(field: FieldSpec, bound: Decimal) -> str:
    text = f"{bound.normalize():,f}"
    if field.type != "money":
        return text
    return "-¥" + text[1:] if text.startswith("-") else "¥" + text


def _number(field: FieldSpec, text: str) -> Decimal:
    try:
        return parse_number(text)
    except FieldError:
        raise FieldError("not_a_number", kind=field.type) from None


def _places(value: Decimal) -> int:
    return max(0, -value.normalize().as_tuple().exponent)


def _int(field: FieldSpec, text: str, ctx: FieldContext) -> int:
    if len(text) > 1 and text[-1] in _COUNTERS:
        text = text[:-1]
    value = _number(field, text)
    if _places(value):
        raise FieldError("not_whole")
    return int(_in_range(field, value))


def _decimal(field: FieldSpec, text: str, ctx: FieldContext) -> str:
    value = _number(field, text)
    if _places(value) > field.decimals:
        if not field.decimals:
            raise FieldError("not_whole")
        raise FieldError("too_many_decimals", decimals=field.decimals)
    return f"{_in_range(field, value).normalize():f}"


def _money(field: FieldSpec, text: str, ctx: FieldContext) -> int:
    value = _number(field, _CURRENCY.sub("", halfwidth(text).strip().lower()))
    if _places(value) > 2:
        raise FieldError("too_many_decimals", decimals=2)
    return int(_in_range(field, value) * 100)


# Choices, regions, industries, and the labels of a one-message report: matched by name.


@lru_cache(maxsize=4096)  # the forms' labels, folded for every line of every report (~3 ms each)
def fold(text: str) -> str:
    """`text` reduced for matching names: width, case, spaces and punctuation do not count."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def resolve(text: str, names: Mapping[str, Sequence[str]], *, loose: bool = True) -> list[str]:
    """Keys whose names match `text`: exact matches if any, else (when `loose`) the keys with a
    name that starts with it, contains it (2+ characters) or is contained in it ("沈阳市")."""
    wanted = fold(text)
    if not wanted:
        return []
    folded = {key: [n for n in map(fold, ns) if n] for key, ns in names.items()}
    exact = [key for key, ns in folded.items() if wanted in ns]
    if exact or not loose:
        return exact
    return [key for key, ns in folded.items() if any(_overlaps(wanted, n) for n in ns)]


def _overlaps(wanted: str, name: str) -> bool:
    if name.startswith(wanted):
        return True
    return (len(wanted) >= 2 and wanted in name) or (len(name) >= 2 and name in wanted)


def choice_names(choices: Iterable[Choice]) -> dict[str, tuple[str, str, str]]:
    """Every name a choice answers to: its key and both labels."""
    return {c.key: (c.key, c.label.zh, c.label.en) for c in choices}


_UNKNOWN = {"region": "unknown_region", "industry": "unknown_industry"}


def _one(field: FieldSpec, text: str, ctx: FieldContext) -> str:
    choices = options(field, ctx)
    keys = resolve(text, choice_names(choices))
    if len(keys) == 1:
        return keys[0]
    if keys:
        raise FieldError("ambiguous", options=_labels([c for c in choices if c.key in keys], ctx))
    raise FieldError(_UNKNOWN.get(field.type, "unknown_choice"), options=_labels(choices, ctx))


def _labels(choices: Iterable[Choice], ctx: FieldContext) -> str:
    return _join([c.label.get(ctx.locale) for c in choices], ctx.locale)


def _join(parts: Iterable[str], locale: str) -> str:
    return (", " if locale == "en" else "、").join(parts)


_LIST_SEP = re.compile(r"[,，、;；\n]+")
_MARKER = re.compile(r"^(?:[0-9]{1,2}(?:[.)]\s+|[、）])|[-*•·]\s*)")  # not "3.15商城"


def _items(text: str, separators: re.Pattern[str] = _LIST_SEP) -> list[str]:
    """The non-blank parts of a list, without the "1. " or "- " a person may put before each."""
    parts = (_MARKER.sub("", part.strip(), count=1).strip() for part in separators.split(text))
    return [p for p in parts if p]


def _multichoice(field: FieldSpec, text: str, ctx: FieldContext) -> list[str]:
    chosen: set[str] = set()
    for part in _items(text):
        chosen.update(_one_or_words(field, part, ctx))
    if not chosen:
        raise FieldError("empty")
    return [c.key for c in field.choices if c.key in chosen]


def _one_or_words(field: FieldSpec, part: str, ctx: FieldContext) -> list[str]:
    # "物业 电力" is two answers, "Property management" one: words first, unless the whole is exact.
    words = part.split()
    if len(words) > 1 and not resolve(part, choice_names(field.choices), loose=False):
        try:
            return [_one(field, word, ctx) for word in words]
        except FieldError:
            pass
    return [_one(field, part, ctx)]


# Dates: 2026-12-01, 2026/12/1, 2026年12月1日, 20261201, 12月1日, 12-01, Dec 1, 5号, 今天, today.

_RELATIVE = {
    **dict.fromkeys(("今天", "今日", "today"), 0),
    **dict.fromkeys(("明天", "明日", "tomorrow"), 1),
    **dict.fromkeys(("昨天", "昨日", "yesterday"), -1),
    "后天": 2,
    "前天": -2,
}
# re.ASCII: \d is 0-9 only (full-width digits were made plain before).
_YMD = re.compile(r"(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})|(\d\d)(\d\d))[日号]?", re.ASCII)
_MD = re.compile(r"(\d{1,2})[-/.月](\d{1,2})[日号]?", re.ASCII)
_D = re.compile(r"(\d{1,2})[日号]", re.ASCII)
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_EN_MD = re.compile(r"([a-z]{3,9})\.?\s*(\d{1,2})(?:st|nd|rd|th)?(?:,?\s*(\d{4}))?", re.ASCII)
_EN_DM = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s*([a-z]{3,9})\.?(?:,?\s*(\d{4}))?", re.ASCII)
_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十]+")


def parse_date(text: str, today: date) -> date:
    """A date as people type it; a year or month left out is the one that puts it nearest today."""
    s = halfwidth(text).strip().lower()
    if s in _RELATIVE:
        return today + timedelta(days=_RELATIVE[s])
    try:
        s = _CN_NUMERAL.sub(lambda m: str(parse_number(m[0])), s)  # 十二月一日
    except FieldError:
        raise FieldError("bad_date") from None
    compact = re.sub(r"\s+", "", s)
    if m := _YMD.fullmatch(compact):
        return _valid(int(m[1]), int(m[2] or m[4]), int(m[3] or m[5]))
    if m := _MD.fullmatch(compact):
        return _nearest(today, [(y, int(m[1]), int(m[2])) for y in _around(today.year)])
    if m := _D.fullmatch(compact):
        return _nearest(today, [(y, mo, int(m[1])) for y, mo in _months_around(today)])
    return _english(s, today)


def _english(s: str, today: date) -> date:
    if m := _EN_MD.fullmatch(s):
        month, day, year = m[1], m[2], m[3]
    elif m := _EN_DM.fullmatch(s):
        day, month, year = m[1], m[2], m[3]
    else:
        raise FieldError("bad_date")
    number = _month_number(month)
    if year:
        return _valid(int(year), number, int(day))
    return _nearest(today, [(y, number, int(day)) for y in _around(today.year)])


def _month_number(name: str) -> int:
    for number, month in enumerate(_MONTHS, 1):
        if month.startswith(name):
            return number
    raise FieldError("bad_date")


def _around(year: int) -> tuple[int, int, int]:
    return (year - 1, year, year + 1)


def _months_around(today: date) -> list[tuple[int, int]]:
    index = today.year * 12 + today.month - 1
    return [(i // 12, i % 12 + 1) for i in (index - 1, index, index + 1)]


def _valid(year: int, month: int, day: int) -> date:
    if not 1900 <= year <= 2200:
        raise FieldError("bad_date")
    try:
        return date(year, month, day)
    except ValueError:
        raise FieldError("bad_date") from None


def _nearest(today: date, candidates: list[tuple[int, int, int]]) -> date:
    found = []
    for y, m, d in candidates:
        try:
            found.append(date(y, m, d))
        except ValueError:
            continue  # 2-29 in a common year, 4-31
    if not found:
        raise FieldError("bad_date")
    return min(found, key=lambda day: abs(day - today))


def _date(field: FieldSpec, text: str, ctx: FieldContext) -> str:
    return parse_date(text, ctx.today).isoformat()


# Channels typed by name, and groups of sub-fields (one item per line).


def _channels(field: FieldSpec, text: str, ctx: FieldContext) -> list[str]:
    names: dict[str, str] = {}
    for item in _items(text):
        name = " ".join(item.split())
        _short_enough(name, CHANNEL_NAME_MAX)
        names.setdefault(fold(name) or name.casefold(), name)  # the first spelling wins
    return _not_too_many(field, list(names.values()))


def _not_too_many(field: FieldSpec, items: list) -> list:
    if not items:
        raise FieldError("empty")
    if len(items) > field.max_items:
        raise FieldError("too_many", max_items=field.max_items, count=len(items))
    return items


_GROUP_SEP = re.compile(r"[\n;；]+")


def _group(field: FieldSpec, text: str, ctx: FieldContext) -> list[dict[str, Any]]:
    lines = _not_too_many(field, _items(text, _GROUP_SEP))
    return [_group_item(field, line, number, ctx) for number, line in enumerate(lines, 1)]


def _group_item(field: FieldSpec, line: str, number: int, ctx: FieldContext) -> dict[str, Any]:
    for tokens, joiner in _splits(line):
        if (
            len(tokens) <= GROUP_TOKENS_MAX
            and (item := _share(field.fields, tokens, joiner, ctx)) is not None
        ):
            return item
    raise FieldError(
        "bad_group_item",
        number=number,
        item=line if len(line) <= 40 else line[:39] + "…",
        expected=" / ".join(f.label.get(ctx.locale) for f in field.fields),
        part=_culprit(field.fields, _splits(line)[0][0], ctx),
    )


def _splits(line: str) -> list[tuple[list[str], str]]:
    """Ways to cut an item into words: by / or ， (spaces then stay inside a value), by spaces."""
    ways = [(line.split(), " ")]
    if re.search(r"[/，]", line):
        ways.insert(0, ([t for t in re.split(r"\s*[/，]\s*", line) if t], "/"))
    return ways


def _share(
    subs: Sequence[FieldSpec], tokens: list[str], joiner: str, ctx: FieldContext
) -> dict[str, Any] | None:
    """The first way to hand the words to the sub-fields in order (trailing optional ones may go
    without): text takes as many words as it can, other types as few. Memoised, so it stays
    cheap on hostile input."""

    @cache
    def share(i: int, j: int) -> dict[str, Any] | None:
        if j == len(tokens):
            return {} if all(not s.required for s in subs[i:]) else None
        if i == len(subs):
            return None
        ends = range(j + 1, len(tokens) + 1)
        for end in reversed(ends) if subs[i].type in ("text", "longtext") else ends:
            try:
                value = parse_answer(subs[i], joiner.join(tokens[j:end]), ctx)
            except FieldError:
                continue
            if (rest := share(i + 1, end)) is not None:
                return {subs[i].key: value, **rest}
        return None

    return share(0, 0)


def _culprit(subs: Sequence[FieldSpec], tokens: list[str], ctx: FieldContext) -> str:
    """The label of the first sub-field whose word does not fit, taking one word each."""
    for sub, token in zip(subs, tokens, strict=False):
        try:
            parse_answer(sub, token, ctx)
        except FieldError:
            return sub.label.get(ctx.locale)
    return ""


# Files: photos and documents sent in the chat, kept as Telegram file ids with what they are.

MB = 1024 * 1024
FILE_NAME_MAX = 128
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


def _typed_for_file(field: FieldSpec, text: str, ctx: FieldContext) -> Any:
    raise FieldError("send_file", kind=field.type)


def check_file(field: FieldSpec, item: Mapping[str, Any], ctx: FieldContext) -> dict[str, Any]:
    """A photo or document sent for a file field, checked (what it is, its type, its size): the
    part of it to store. `item` has kind ("photo" or "document"), file_id, file_unique_id, name
    (a document's), size (bytes, when Telegram says) and mime. Raises FieldError if it does
    not fit: not_a_photo, wrong_file_type, file_too_big."""
    kind = "photo" if item.get("kind") == "photo" else "document"
    name = file_name(item.get("name"))
    mime = str(item.get("mime") or ("image/jpeg" if kind == "photo" else "")).lower()[:100]
    if field.type == "photo" and kind != "photo" and not mime.startswith("image/"):
        raise FieldError("not_a_photo", kind=field.type)
    accept = field.accept or DEFAULT_ACCEPT
    if field.type == "document" and not _accepted(accept, name, mime, kind):
        types = [a if "/" in a else a.upper() for a in accept]
        raise FieldError("wrong_file_type", kind=field.type, types=_join(types, ctx.locale))
    size = item.get("size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    limit = field.max_mb or DEFAULT_MAX_MB
    if size is not None and size > limit * MB:
        raise FieldError(
            "file_too_big", kind=field.type, max_mb=mb_text(limit), size=file_size(size)
        )
    return {
        "kind": kind,
        "file_id": str(item["file_id"]),
        "file_unique_id": str(item.get("file_unique_id") or item["file_id"]),
        "name": name,
        "size": size,
        "mime": mime,
    }


def file_name(name: Any) -> str:
    """A sent file's name as kept: no control characters or slashes, at most 128 characters."""
    cleaned = " ".join(_UNSAFE_NAME.sub(" ", str(name or "")).split())
    if len(cleaned) <= FILE_NAME_MAX:
        return cleaned
    _, dot, ext = cleaned.rpartition(".")
    keep = dot + ext if dot and len(ext) <= 10 else ""
    return cleaned[: FILE_NAME_MAX - len(keep)] + keep


def _accepted(accept: Sequence[str], name: str, mime: str, kind: str) -> bool:
    ext = name.rpartition(".")[2].lower() if "." in name else ("jpg" if kind == "photo" else "")
    for wanted in accept:
        if "/" in wanted:
            if wanted == mime or (wanted.endswith("/*") and mime.startswith(wanted[:-1])):
                return True
        elif _same_ext(wanted, ext):
            return True
    return False


def _same_ext(a: str, b: str) -> bool:
    aliases = {"jpeg": "jpg", "tiff": "tif", "htm": "html"}
    return bool(b) and aliases.get(a, a) == aliases.get(b, b)


def file_question(field: FieldSpec, selected: Sequence[Any], ctx: FieldContext) -> dict[str, Any]:
    """What a file question says: its limits, and the names of the files received so far."""
    accept = field.accept or DEFAULT_ACCEPT
    types = [a if "/" in a else a.upper() for a in accept] if field.type == "document" else []
    return {
        "files": [str(i.get("name") or "?") for i in selected if isinstance(i, Mapping)],
        "max_mb": mb_text(field.max_mb or DEFAULT_MAX_MB),
        "max_items": field.max_items,
        "accept": _join(types, ctx.locale),
    }


def file_size(size: int | None) -> str:
    """Bytes as people read them: 512 B, 350 KB, 1.2 MB (none: empty)."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < MB:
        return f"{round(size / 1024)} KB"
    return f"{mb_text(size / MB)} MB"


def mb_text(mb: float) -> str:
    """Megabytes to one decimal, without a trailing .0 (20, 2.5)."""
    return f"{round(mb, 1):g}"


_PARSERS: dict[str, Callable[[FieldSpec, str, FieldContext], Any]] = {
    "int": _int,
    "decimal": _decimal,
    "money": _money,
    "text": _text,
    "longtext": _text,
    "choice": _one,
    "multichoice": _multichoice,
    "date": _date,
    "group": _group,
    "region": _one,
    "industry": _one,
    "channels": _channels,
    "photo": _typed_for_file,
    "document": _typed_for_file,
}


# Display: plain text for summary cards; templates escape it.


def display(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    """Human text of a stored value, in ctx.locale; never fails, whatever was stored."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    show = _SHOW.get(field.type, _show_plain)
    try:
        return show(field, value, ctx)
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError):
        return _show_plain(field, value, ctx)  # a value stored before the field changed type


def _show_plain(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    if isinstance(value, list):
        return _join(map(str, value), ctx.locale)
    if isinstance(value, dict):
        return " ".join(map(str, value.values()))
    return str(value)


def _show_number(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    if isinstance(value, bool | list | dict):
        raise TypeError(value)
    return f"{Decimal(str(value)).normalize():,f}"


def _show_money(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return ("-" if value < 0 else "") + f"¥{Decimal(abs(value)) / 100:,.2f}"


def _show_choice(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    labels = {c.key: c.label.get(ctx.locale) for c in options(field, ctx)}
    if isinstance(value, list):
        return _join((labels.get(str(v), str(v)) for v in value), ctx.locale)
    return labels.get(str(value), str(value))  # a choice removed since: its key


def _show_group(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    if not isinstance(value, list):
        raise TypeError(value)
    return "\n".join(_show_group_item(field, item, ctx) for item in value)


def _show_group_item(field: FieldSpec, item: Any, ctx: FieldContext) -> str:
    if not isinstance(item, dict):
        return str(item)
    known = [display(f, item[f.key], ctx) for f in field.fields if f.key in item]
    removed = [str(v) for k, v in item.items() if not _has(field, k)]
    return " ".join(known + removed)


def _has(field: FieldSpec, key: str) -> bool:
    return any(f.key == key for f in field.fields)


def _show_files(field: FieldSpec, value: Any, ctx: FieldContext) -> str:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError(value)
    photos = [item for item in value if item.get("kind") == "photo"]
    parts = [t(ctx.locale, "🖼 Photos ×%(n)s", n=len(photos))] if photos else []
    parts += [file_label(item, ctx.locale) for item in value if item.get("kind") != "photo"]
    return _join(parts, ctx.locale)


def file_label(item: Mapping[str, Any], locale: str) -> str:
    """One stored file as a line of a card: 📎 收据.pdf（1.2 MB）."""
    name = str(item.get("name") or "?")
    size = item.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        return f"📎 {name}"
    return "📎 " + t(locale, "%(name)s (%(size)s)", name=name, size=file_size(size))


_SHOW: dict[str, Callable[[FieldSpec, Any, FieldContext], str]] = {
    "int": _show_number,
    "decimal": _show_number,
    "money": _show_money,
    "choice": _show_choice,
    "multichoice": _show_choice,
    "region": _show_choice,
    "industry": _show_choice,
    "group": _show_group,
    "photo": _show_files,
    "document": _show_files,
}


def to_metric(field: FieldSpec, value: Any) -> Decimal | None:
    """The number KPIs read for a metric field: ints and decimals as such, money in fen, channels
    counted; None when there is no (usable) value."""
    if value is None or isinstance(value, bool):
        return None
    if field.type in ("channels", "group"):  # how many channels, how many items
        return Decimal(len(value)) if isinstance(value, list) else None
    if field.type not in NUMERIC_TYPES or isinstance(value, list | dict):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def group_sum(group: FieldSpec, sub: FieldSpec, items: Any) -> Decimal | None:
    """The sum of one numeric sub-field over a group's items (e.g. new followers over all
    platforms); None when no item has a usable value."""
    if not isinstance(items, list):
        return None
    values = [to_metric(sub, item.get(sub.key)) for item in items if isinstance(item, dict)]
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


# Snapshots: what a filed report keeps of its form, so a renamed or removed field still shows.


def fields_snapshot(form: FormSpec) -> dict[str, dict[str, Any]]:
    """JSON-safe labels, choices and sub-fields of every field of `form`, by field key; each entry
    has a "position" because PostgreSQL's JSONB does not keep key order."""
    return {f.key: _snapshot(f, position) for position, f in enumerate(form.fields)}


def _snapshot(field: FieldSpec, position: int) -> dict[str, Any]:
    return {
        "type": field.type,
        "label": field.label.model_dump(),
        "position": position,
        "metric": field.metric,
        "choices": {c.key: c.label.model_dump() for c in field.choices},
        "fields": {f.key: _snapshot(f, i) for i, f in enumerate(field.fields)},
    }


def display_from_snapshot(snapshot_entry: dict[str, Any], value: Any, ctx: FieldContext) -> str:
    """Display a value of a field that may be gone from config, using the labels filed with it."""
    try:
        field = field_from_snapshot(snapshot_entry)
    except (TypeError, ValueError, AttributeError, KeyError):
        field = FieldSpec.model_construct(key="removed", type="text", fields=(), choices=())
    return display(field, value, ctx)


def field_from_snapshot(entry: Mapping[str, Any], key: str = "removed") -> FieldSpec:
    """A FieldSpec rebuilt, unvalidated, from a snapshot entry (for display only); the same
    entry again gets the same (frozen) spec: every card of a request shows its every field."""
    memo = (key, repr(entry))
    spec = _FROM_SNAPSHOT.get(memo)
    if spec is None:
        if len(_FROM_SNAPSHOT) >= _FROM_SNAPSHOT_MAX:
            _FROM_SNAPSHOT.clear()
        spec = _FROM_SNAPSHOT[memo] = _from_snapshot(entry, key)
    return spec


# Rebuilding a spec (pydantic's model_construct for it, its labels and choices) cost ~50 µs a
# field, a card's worth per decision; the entries are few (one per field of each form's
# versions), so a small cache keyed by their text holds them all.
_FROM_SNAPSHOT: dict[tuple[str, str], FieldSpec] = {}
_FROM_SNAPSHOT_MAX = 2048


def _from_snapshot(entry: Mapping[str, Any], key: str) -> FieldSpec:
    subs = sorted(entry.get("fields", {}).items(), key=lambda kv: kv[1].get("position", 0))
    return FieldSpec.model_construct(
        key=key,
        type=str(entry.get("type", "text")),
        label=_snapshot_labels(entry.get("label")),
        choices=tuple(
            Choice.model_construct(key=k, label=_snapshot_labels(v))
            for k, v in entry.get("choices", {}).items()
        ),
        fields=tuple(_from_snapshot(v, k) for k, v in subs),
    )


def _snapshot_labels(labels: Any) -> Labels:
    labels = labels if isinstance(labels, Mapping) else {}
    zh = str(labels.get("zh") or labels.get("en") or "?")
    return Labels.model_construct(zh=zh, en=str(labels.get("en") or zh))
