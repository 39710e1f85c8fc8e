"""Channels named in a sentence, matched against the channel library: the whole name, its short
form (华润 for 华润物业), pinyin initials (hr, wkwy), near matches (a homophone typed by the
pinyin keyboard: 万可 for 万科; one character off in a long name); and new names to offer."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot import pinyin
from bot.forms.reader.text import is_cjk, normalise

# Words that say what kind of enterprise a name is; a name without them is its short form.
_KIND_WORDS = ("物业服务", "物业管理", "物业", "服务", "电力公司", "供电公司", "供电局",
               "供电", "电力", "热力", "燃气", "地产", "置业", "科技", "集团", "公司", "银行",
               "医院")  # fmt: skip
_LEGAL = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "股份", "集团", "公司")
# A new enterprise named in passing: 2–8 characters before a kind word (绿城物业, 鞍钢集团).
_NEW = re.compile(
    r"(?P<name>[\u4e00-\u9fff]{2,8}?(?:物业服务|物业|电力公司|供电公司|供电局|热力公司|"
    r"燃气公司|地产|置业|集团|公司|银行|医院|学校|小区))"
)
# What may stand before a name without being part of it.
_LEAD = re.compile(
    r"^(?:今天|今日|上午|下午|晚上|又|也|还|都|再|和|与|跟|及|以及|还有|"
    r"跑了|跑|拜访了|拜访|走访了|走访|去了|去|见了|接触了|接触|联系了|对接了|对接|"
    r"签了|签约了|签约|签下|了|的|家|个|[零一二两三四五六七八九十\d]+[家个])+"
)
_GENERIC_NAMES = {"物业", "电力", "电力公司", "公司", "集团", "供电公司", "地产", "小区",
                  "这家", "那家", "几家", "两家", "一家", "各家", "其他", "别的"}  # fmt: skip
_BREAKS = "的是在了和与跟都也就还把被给让去到向"
NEAR_MIN = 5  # one character off only counts in a name this long


@dataclass(frozen=True)
class Known:
    """A channel of the library, as the reader needs it."""

    id: int
    name: str


@dataclass(frozen=True)
class ChannelHit:
    """A channel found in the text: a known one (with `how`), or a new name (channel None)."""

    channel: Known | None
    name: str
    start: int
    end: int
    how: str  # "library", "short", "pinyin", "near" or "new"


def find(
    text: str, known: Sequence[Known], taken: Sequence[tuple[int, int]] = ()
) -> list[ChannelHit]:
    """Every channel named in a normalised text, outside `taken` spans, in order."""
    hits: list[ChannelHit] = []
    blocked = list(taken)
    for finder in (_exact, _pinyin, _near):
        for hit in finder(text, tuple(known)):
            if not _overlaps((hit.start, hit.end), blocked):
                hits.append(hit)
                blocked.append((hit.start, hit.end))
    for match in _NEW.finditer(text):
        hit = _new(match, text, blocked)
        if hit is not None:
            hits.append(hit)
            blocked.append((hit.start, hit.end))
    return sorted(hits, key=lambda h: h.start)


def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in spans)


@lru_cache(maxsize=4096)
def forms_of(name: str) -> tuple[str, str]:
    """(full, short) of a channel name: 万科物业有限公司 -> (万科物业, 万科)."""
    full = "".join(ch for ch in normalise(name) if ch.isalnum())
    for suffix in _LEGAL:
        if full.endswith(suffix) and len(full) > len(suffix) + 1:
            full = full[: -len(suffix)]
    short = full
    for word in _KIND_WORDS:
        if short.endswith(word) and len(short) - len(word) >= 2:
            short = short[: -len(word)]
            break
    return full, short


def _exact(text: str, known: tuple[Known, ...]) -> list[ChannelHit]:
    """Whole names first, then short forms that name one channel only."""
    table = _table(known)
    hits = []
    for form, (channel, how) in table:
        for match in re.finditer(re.escape(form), text):
            hits.append(ChannelHit(channel, channel.name, match.start(), match.end(), how))
    # Longest names win where two overlap (万科物业 over 万科).
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[ChannelHit] = []
    for hit in hits:
        if not _overlaps((hit.start, hit.end), [(k.start, k.end) for k in kept]):
            kept.append(hit)
    return kept


@lru_cache(maxsize=64)
def _table(known: tuple[Known, ...]) -> list[tuple[str, tuple[Known, str]]]:
    shorts: dict[str, list[Known]] = {}
    table: list[tuple[str, tuple[Known, str]]] = []
    for channel in known:
        full, short = forms_of(channel.name)
        if full:
            table.append((full, (channel, "library")))
        if short != full and len(short) >= 2:
            shorts.setdefault(short, []).append(channel)
    fulls = {f for f, _ in table}
    for short, channels in shorts.items():
        if len(channels) == 1 and short not in fulls:  # 万科 for two channels names neither
            table.append((short, (channels[0], "short")))
    return table


_ASCII_WORD = re.compile(r"(?<![a-z])[a-z]{2,8}(?![a-z])")


def _pinyin(text: str, known: tuple[Known, ...]) -> list[ChannelHit]:
    """hr, wkwy: initials of a short or whole name, when they name one channel."""
    words = list(_ASCII_WORD.finditer(text))
    if not words:
        return []
    initials = _initials(known)
    hits = []
    for match in words:
        channels = initials.get(match[0], [])
        if len(channels) == 1:
            hits.append(ChannelHit(channels[0], channels[0].name, *match.span(), "pinyin"))
    return hits


@lru_cache(maxsize=64)
def _initials(known: tuple[Known, ...]) -> dict[str, list[Known]]:
    table: dict[str, list[Known]] = {}
    for channel in known:
        for form in set(forms_of(channel.name)):
            if len(form) >= 2 and all(is_cjk(ch) for ch in form):
                key = pinyin.initials(form)
                if channel not in table.setdefault(key, []):
                    table[key].append(channel)
    return table


def _near(text: str, known: tuple[Known, ...]) -> list[ChannelHit]:
    """A homophone of a name (万可 for 万科), or one character off in a long name."""
    runs = list(re.finditer(r"[\u4e00-\u9fff]{2,}", text))
    if not runs or not known:
        return []
    from rapidfuzz.distance import Levenshtein

    sounds = _sounds(known)
    sizes = sorted({size for _, size in sounds.values()}, reverse=True)
    longs = [(c, forms_of(c.name)[0]) for c in known if len(forms_of(c.name)[0]) >= NEAR_MIN]
    hits = []
    for run in runs:
        word, at = run[0], run.start()
        syllables = [_syllable(ch) for ch in word]
        for size in sizes:
            for i in range(len(word) - size + 1):
                found = sounds.get("".join(syllables[i : i + size]))
                if found is not None and found[1] == size:
                    hits.append(ChannelHit(found[0], found[0].name, at + i, at + i + size, "near"))
        for channel, full in longs:
            for size in (len(full) - 1, len(full), len(full) + 1):
                for i in range(len(word) - size + 1):
                    piece = word[i : i + size]
                    if piece != full and Levenshtein.distance(piece, full, score_cutoff=1) <= 1:
                        hits.append(
                            ChannelHit(channel, channel.name, at + i, at + i + size, "near")
                        )
    return hits


@lru_cache(maxsize=8192)
def _syllable(ch: str) -> str:
    return pinyin.syllables(ch)[0]


@lru_cache(maxsize=64)
def _sounds(known: tuple[Known, ...]) -> dict[str, tuple[Known, int]]:
    """Pinyin of each short and whole name -> (the channel, the name's length), when unique."""
    table: dict[str, list[tuple[Known, int]]] = {}
    for channel in known:
        for form in set(forms_of(channel.name)):
            if len(form) >= 2 and all(is_cjk(ch) for ch in form):
                entry = table.setdefault("".join(pinyin.syllables(form)), [])
                if channel not in [c for c, _ in entry]:
                    entry.append((channel, len(form)))
    return {k: v[0] for k, v in table.items() if len(v) == 1}


def _new(match: re.Match, text: str, blocked: Sequence[tuple[int, int]]) -> ChannelHit | None:
    name, start = match["name"], match.start()
    # The name starts after the last word that cannot be in one: 新开发了融创物业 -> 融创物业.
    cut = max((name.rfind(ch) for ch in _BREAKS), default=-1)
    if cut >= 0:
        name, start = name[cut + 1 :], start + cut + 1
    lead = _LEAD.match(name)
    if lead:
        name, start = name[lead.end() :], start + lead.end()
    end = start + len(name)
    if _overlaps((start, end), blocked):
        return None
    if len(name) < 4 or name in _GENERIC_NAMES or forms_of(name)[1] in _GENERIC_NAMES:
        return None
    return ChannelHit(None, name, start, end, "new")
