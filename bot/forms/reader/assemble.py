"""Putting a sentence together: each number to the field whose word is nearest in its clause,
the words after a cue to a text field, channels and dates to theirs; what was read twice or
contradicts itself, and what was not used, are kept for the card to show."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from bot.forms.reader import channels as channel_finder
from bot.forms.reader import cues as cue_finder
from bot.forms.reader import dates as date_finder
from bot.forms.reader import numbers as number_finder
from bot.forms.reader.channels import ChannelHit, Known
from bot.forms.reader.cues import CHANNELS, DATE, NUMBER, TEXT, Cue
from bot.forms.reader.numbers import Number
from bot.forms.reader.text import Clause, clauses, is_cjk, normalise
from bot.forms.spec import Choice, FormSpec

REACH = 40  # characters beyond which a word and a number are not even compared
MAX_GAP = 6  # characters between a field's word and its number (fillers not counted)
# Words between a field's word and its number that say nothing: 下载了共120, downloads were 120.
_FILLER = re.compile(
    r"(?:了|的|为|是|有|共|共计|总共|一共|约|大约|达到|达|到|:|=|-|\s|个|带来|新增|今天|今日|"
    r"were|was|of|we|got|had|with|about|around|total|today)+"
)
_CONNECTOR = re.compile(r"\s*(?:[:：]|是|为|就是|主要是|:)\s*")
# A text answer that says there is none: 问题：无.
_NOTHING = {"无", "没有", "暂无", "没", "none", "no", "n/a", "na", "nothing", "-", "—", "/"}
_EMPTY_LEFTOVER = re.compile(
    r"^(?:[\s\d]|今天|今日|上午|下午|晚上|然后|另外|还有|也|又|都|了|的|和|在|去|我|我们|"
    r"today|and|then|i|we|also)*$"
)


@dataclass(frozen=True)
class Found:
    """One field's value and the spans of the text it was read from."""

    field: str
    value: Any  # Decimal (numbers), str (text), date, a choice key or keys, channel names
    spans: tuple[tuple[int, int], ...]
    how: str  # label, synonym, mine, negation, count, library, short, pinyin, near, new, order
    word: str = ""  # the field's word a number was read by ("新增" in 新增20)


@dataclass
class Reading:
    """What a sentence said, field by field, and what the card must point out."""

    text: str
    found: dict[str, Found] = field(default_factory=dict)
    conflicts: dict[str, list[Found]] = field(default_factory=dict)  # different values
    repeated: list[str] = field(default_factory=list)  # the same value read twice
    said_none: dict[str, Found] = field(default_factory=dict)  # 没有问题: a text field, empty
    channels: list[ChannelHit] = field(default_factory=list)  # known ones and new names
    unplaced: list[tuple[Number, str]] = field(default_factory=list)  # (number, words near it)
    vague: list[tuple[Number, tuple[int, int]]] = field(default_factory=list)  # 100多 (clause)
    leftover: list[str] = field(default_factory=list)  # words that went nowhere
    counted: list[Number] = field(default_factory=list)  # "跑了两家": a count of channels named
    used: list[tuple[int, int]] = field(default_factory=list)  # every span a value came from
    period_day: date | None = None

    def snippet(self, spans: Sequence[tuple[int, int]]) -> str:
        """The words of the text between the first and last span."""
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        return self.text[start:end].strip()

    def values(self) -> dict[str, Any]:
        """Field -> value, for tests and the bench."""
        return {key: found.value for key, found in self.found.items()}


def read(
    form: FormSpec,
    text: str,
    *,
    today: date,
    known: Sequence[Known] = (),
    personal: Mapping[str, str] | None = None,
    regions: Sequence[Choice] = (),
    industries: Sequence[Choice] = (),
) -> Reading:
    """Read a sentence into `form`'s fields (nothing is stored: the caller shows a card)."""
    norm = normalise(text)
    reading = Reading(text=text[: len(norm)])
    taken: list[tuple[int, int]] = []
    said = date_finder.period(norm, today)
    if said is not None:
        reading.period_day, span = said
        taken.append(span)
    lex = cue_finder.lexicon(form, personal)
    cues = cue_finder.find(lex, norm, taken)
    text_cues = [c for c in cues if c.kind == TEXT]
    date_hits = [
        d
        for d in date_finder.find(norm, today)
        if not _inside((d.start, d.end), taken + [(c.start, c.end) for c in text_cues])
    ]
    numbers = number_finder.find(norm, taken + [(d.start, d.end) for d in date_hits])
    parts = clauses(norm)
    text_spans = _texts(reading, norm, parts, cues, numbers)
    free = taken + [(s, e) for s, e, _ in text_spans]
    cues = [c for c in cues if c.kind != TEXT and not _inside((c.start, c.end), free)]
    numbers = [n for n in numbers if not _inside((n.start, n.end), free)]
    reading.channels = channel_finder.find(norm, known, free + [(c.start, c.end) for c in cues])
    for clause in parts:
        _pair_numbers(reading, norm, parts, clause, cues, numbers)
    _only_number_field(reading, form)
    _channels(reading, form, cues)
    _dates(reading, form, cues, [d for d in date_hits if not _inside((d.start, d.end), free)])
    _choices(reading, form, norm, free, regions, industries)
    reading.leftover = _leftover(reading, norm, parts)
    return reading


def _inside(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in spans)


def _clause_of(parts: Sequence[Clause], at: int) -> int:
    return next((i for i, c in enumerate(parts) if c.start <= at < c.end), len(parts) - 1)


def _put(reading: Reading, found: Found) -> None:
    """Keep a value; a second one for the field is noted (the last one stays, as people correct
    themselves: "下载120，不对，150")."""
    reading.used += found.spans
    before = reading.found.get(found.field)
    if before is not None:
        if before.value == found.value:
            if found.field not in reading.repeated:
                reading.repeated.append(found.field)
            return
        reading.conflicts.setdefault(found.field, [before]).append(found)
    reading.found[found.field] = found


# ---- text fields ----------------------------------------------------------------------------


def _texts(reading, norm, parts, cues, numbers) -> list[tuple[int, int, str]]:
    """Each text cue takes the rest of its clause and the clauses after it that say nothing
    else (no other field's word with a number, no other cue)."""
    spans: list[tuple[int, int, str]] = []
    text_cues = [c for c in cues if c.kind == TEXT]
    for cue in text_cues:
        if any(s <= cue.start < e for s, e, _ in spans):
            continue  # 计划明天去万科: one plan
        index = _clause_of(parts, cue.start)
        end = parts[index].end
        for later in parts[index + 1 :]:
            if _says_something(later, cue, cues, numbers):
                break
            end = later.end
        spans.append((cue.start, end, cue.field))
        if cue_finder.negated(norm, cue):
            reading.said_none[cue.field] = Found(cue.field, "", ((cue.start, cue.end),), "negation")
            continue
        value_start = cue.end
        connector = _CONNECTOR.match(norm, cue.end)
        if connector is None and cue.how != "label":
            value_start = cue.start  # 明天去万科: the cue is part of what was said
        elif connector is not None:
            value_start = connector.end()
        value = reading.text[value_start:end].strip(" ，,。；;、:：")
        if normalise(value).strip(" .。!！") in _NOTHING:
            reading.said_none[cue.field] = Found(cue.field, "", ((cue.start, end),), "negation")
        elif value:
            _put_text(reading, Found(cue.field, value, ((cue.start, end),), cue.how))
    return spans


def _put_text(reading: Reading, found: Found) -> None:
    reading.used += found.spans
    before = reading.found.get(found.field)
    if before is None:
        reading.found[found.field] = found
    else:  # two cues of one text field: one answer, in the order said
        joined = f"{before.value}；{found.value}"
        reading.found[found.field] = Found(
            found.field, joined, before.spans + found.spans, before.how
        )


def _says_something(clause: Clause, cue: Cue, cues, numbers) -> bool:
    inside = [c for c in cues if clause.start <= c.start < clause.end]
    if any(c.kind in (TEXT, CHANNELS) and c.field != cue.field for c in inside):
        return True
    if any(c.kind == TEXT and c.field == cue.field for c in inside):
        return True
    has_number = any(clause.start <= n.start < clause.end for n in numbers)
    return has_number and any(c.kind == NUMBER for c in inside)


# ---- numbers --------------------------------------------------------------------------------


def _gap(norm: str, start: int, end: int) -> int | None:
    """Characters between two places that are not fillers (None: too far)."""
    between = norm[start:end]
    if re.search(r"[，,。；;]", between):
        return None
    rest = _FILLER.sub("", between)
    return len(rest) if len(rest) <= MAX_GAP else None


def _channels_for(reading, norm, parts, clause: Clause, here_cues) -> list[ChannelHit]:
    """The channels a number word without a number counts: those of its clause, or, when the
    clause says nothing but the word (华润，签了！ / 都在谈), those of the clause before."""
    hits = [h for h in reading.channels if clause.start <= h.start < clause.end]
    if hits:
        return hits
    rest = norm[clause.start : clause.end]
    for cue in here_cues:
        rest = rest.replace(norm[cue.start : cue.end], "")
    index = parts.index(clause)
    if index == 0 or _LONE.sub("", rest):
        return []
    before = parts[index - 1]
    return [h for h in reading.channels if before.start <= h.start < before.end]


_LONE = re.compile(r"[\s都也已经还在了的啦呢吧！!~～]+")


def _pair_numbers(reading, norm, parts, clause: Clause, cues, numbers) -> None:
    here_cues = [
        c for c in cues if clause.start <= c.start < clause.end and c.kind in (NUMBER, CHANNELS)
    ]
    here_numbers = [n for n in numbers if clause.start <= n.start < clause.end]
    reading.vague += [(n, (clause.start, clause.end)) for n in here_numbers if n.vague]
    here_numbers = [n for n in here_numbers if not n.vague]
    pairs = []
    for cue in here_cues:
        for number in here_numbers:
            if number.start - cue.end > REACH or cue.start - number.end > REACH:
                continue  # far apart: no need to look (and a long clause stays linear)
            after = number.start >= cue.end
            gap = _gap(norm, cue.end, number.start) if after else _gap(norm, number.end, cue.start)
            if gap is None or (number.weak and gap > 0):
                continue
            english = _english(norm, cue)
            colon = after and re.match(r"\s*[:=]", norm[cue.end :])
            penalty = 0.0 if colon else (0.5 if after == english else 0.0)
            pairs.append((gap + penalty, abs(number.start - cue.start), cue, number))
    used_cues, used_numbers = set(), set()
    for _, _, cue, number in sorted(pairs, key=lambda p: (p[0], p[1])):
        if id(cue) in used_cues or id(number) in used_numbers:
            continue
        used_cues.add(id(cue))
        used_numbers.add(id(number))
        spans = ((min(cue.start, number.start), max(cue.end, number.end)),)
        if cue.kind == CHANNELS:
            reading.counted.append(number)
        else:
            word = reading.text[cue.start : cue.end]
            _put(reading, Found(cue.field, number.value, spans, cue.how, word))
    clause_channels = _channels_for(reading, norm, parts, clause, here_cues)
    for cue in here_cues:
        if id(cue) in used_cues or cue.kind != NUMBER:
            continue
        if cue_finder.negated(norm, cue) or cue_finder.denied_after(norm, cue, clause.end):
            start = max(clause.start, norm.rfind("没", clause.start, cue.start), cue.start - 6)
            _put(reading, Found(cue.field, Decimal(0), ((start, cue.end),), "negation"))
        elif clause_channels:  # 华润签了: one channel named, one signed
            spans = (
                (min(clause_channels[0].start, cue.start), max(clause_channels[-1].end, cue.end)),
            )
            _put(reading, Found(cue.field, Decimal(len(clause_channels)), spans, "count"))
    for number in here_numbers:
        if id(number) not in used_numbers:
            reading.unplaced.append((number, _words_near(norm, number)))


def _only_number_field(reading: Reading, form: FormSpec) -> None:
    """A form with one number field (an expense's amount) takes the sentence's one number."""
    fields = [f for f in form.fields if cue_finder.kind_of(f.type) == NUMBER]
    if len(fields) != 1 or fields[0].key in reading.found or len(reading.unplaced) != 1:
        return
    number, _ = reading.unplaced.pop()
    _put(reading, Found(fields[0].key, number.value, ((number.start, number.end),), "only"))


def _english(norm: str, cue: Cue) -> bool:
    """An English word: its number usually comes first (120 downloads)."""
    return norm[cue.start : cue.end].isascii()


def _words_near(norm: str, number: Number) -> str:
    """The unknown word a number stands by ("拉新" in 拉新20人), for a person's own synonym."""
    before = re.search(
        r"([\u4e00-\u9fff]{2,4}?)(?:了|的|为|是|有)?\s*$",
        norm[max(0, number.start - 6) : number.start],
    )
    if before:
        return re.sub(r"^(?:今天|今日|又|也|还|共)", "", before[1]) or before[1]
    after = re.match(r"\s*([\u4e00-\u9fff]{2,4})", norm[number.end : number.end + 6])
    if after:
        return after[1]
    words = re.search(r"([a-z][a-z -]{1,30}?)\s*$", norm[max(0, number.start - 30) : number.start])
    after_en = re.match(r"\s*([a-z]{2,30})", norm[number.end : number.end + 31])
    return after_en[1] if after_en else words[1].strip() if words else ""


# ---- channels, dates, choices ---------------------------------------------------------------


def _channels(reading: Reading, form: FormSpec, cues) -> None:
    spec = next((f for f in form.fields if f.type == "channels"), None)
    if spec is None or not reading.channels:
        return
    names: list[str] = []
    for hit in reading.channels:
        if hit.name not in names:
            names.append(hit.name)
    spans = tuple((h.start, h.end) for h in reading.channels)
    how = reading.channels[0].how
    reading.found[spec.key] = Found(spec.key, tuple(names), spans, how)


def _dates(reading: Reading, form: FormSpec, cues, hits) -> None:
    fields = [f for f in form.fields if f.type == "date"]
    if not fields or not hits:
        return
    left = list(hits)
    for cue in [c for c in cues if c.kind == DATE]:
        nearest = min(left, key=lambda h: abs(h.start - cue.end), default=None)
        if nearest is not None and abs(nearest.start - cue.end) <= 12:
            _put(reading, Found(cue.field, nearest.day, ((cue.start, nearest.end),), cue.how))
            left.remove(nearest)
    for spec in fields:  # the rest in form order: 12月1日到12月5日 -> start, end
        if spec.key not in reading.found and left:
            hit = left.pop(0)
            reading.found[spec.key] = Found(spec.key, hit.day, ((hit.start, hit.end),), "order")


def _choices(reading, form: FormSpec, norm: str, free, regions, industries) -> None:
    for spec in form.fields:
        if spec.type not in ("choice", "multichoice", "region", "industry"):
            continue
        pool = {"region": regions, "industry": industries}.get(spec.type, spec.choices)
        hits = []
        for choice in pool:
            for label in (choice.label.zh, choice.label.en):
                at = norm.find(normalise(label))
                if len(label) >= 2 and at >= 0 and not _inside((at, at + len(label)), free):
                    hits.append((at, choice.key, (at, at + len(label))))
                    break
        if not hits:
            continue
        hits.sort()
        if spec.type == "multichoice":
            value = tuple(dict.fromkeys(k for _, k, _ in hits))
            reading.found[spec.key] = Found(spec.key, value, tuple(s for *_, s in hits), "label")
        elif len({k for _, k, _ in hits}) == 1:  # two different choices named: ask, not guess
            reading.found[spec.key] = Found(spec.key, hits[0][1], (hits[0][2],), "label")


def _leftover(reading: Reading, norm: str, parts) -> list[str]:
    """Clauses from which nothing at all was read, when they hold more than fillers."""
    used = [s for f in reading.found.values() for s in f.spans] + reading.used
    used += [span for _, span in reading.vague]
    used += [s for f in reading.said_none.values() for s in f.spans]
    used += [(h.start, h.end) for h in reading.channels]
    used += [(n.start, n.end) for n in reading.counted]
    left = []
    for clause in parts:
        if _inside((clause.start, clause.end), used):
            continue
        words = norm[clause.start : clause.end]
        if not _EMPTY_LEFTOVER.match(words) and any(is_cjk(ch) or ch.isalpha() for ch in words):
            left.append(reading.text[clause.start : clause.end].strip())
    return left[:5]
