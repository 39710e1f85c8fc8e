"""The words that name a form's fields in a sentence: labels, aliases, the form's synonyms and a
person's own words, found longest first; and the words that say "none" (没有签约, no signings)."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.forms.reader.text import normalise
from bot.forms.spec import NUMERIC_TYPES, FormSpec

# Kinds of field a sentence can fill, and what their words do.
NUMBER = "number"  # a number nearby is the value
TEXT = "text"  # the words after it are the value
CHANNELS = "channels"  # "visited": the channel names around are the value
DATE = "date"
TEXT_TYPES = ("text", "longtext")
NEGATIONS = ("没有", "没能", "没", "无", "未", "暂无", "还没", "一个都没", "一家都没", "零",
             "no", "zero", "none", "not", "didn't", "did not", "nothing")  # fmt: skip
# A label's generic words: "今日签约数" is also found as "签约" (its core).
_GENERIC = re.compile(r"^(?:今日|今天|本周|本月|本季度|渠道带来的|渠道|新增)|(?:数量|数|量|的)$")


@dataclass(frozen=True)
class Cue:
    """A field's word found in the text: [start, end), and where the word came from."""

    field: str
    kind: str
    start: int
    end: int
    how: str  # "label", "synonym" or "mine" (the person's own word)


@dataclass(frozen=True)
class Lexicon:
    """Every word of a form, longest first, compiled once per form and person."""

    pattern: re.Pattern | None
    words: Mapping[str, tuple[str, str, str]]  # normalised word -> (field, kind, how)


def kind_of(field_type: str) -> str | None:
    """What a field's words do, by its type (None: a sentence does not fill it)."""
    if field_type in NUMERIC_TYPES:
        return NUMBER
    if field_type in TEXT_TYPES:
        return TEXT
    if field_type == "channels":
        return CHANNELS
    if field_type == "date":
        return DATE
    return None


_CACHE: dict[tuple[int, tuple], tuple[FormSpec, Lexicon]] = {}
_CACHE_MAX = 256


def lexicon(form: FormSpec, personal: Mapping[str, str] | None = None) -> Lexicon:
    """The words of `form`, with a person's own (phrase -> field key) taking precedence."""
    mine = tuple(sorted((personal or {}).items()))
    key = (id(form), mine)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is form:  # the id of a form config that lives on
        return cached[1]
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    built = _build(form, mine)
    _CACHE[key] = (form, built)
    return built


def _build(form: FormSpec, mine: tuple[tuple[str, str], ...]) -> Lexicon:
    words: dict[str, tuple[str, str, str]] = {}
    for field in form.fields:
        kind = kind_of(field.type)
        if kind is None:
            continue
        names = [field.label.zh, field.label.en, *field.aliases]
        cores = [_GENERIC.sub("", _GENERIC.sub("", n)) for n in names]
        for how, group in (("synonym", field.synonyms.all()), ("label", [*names, *cores])):
            for word in group:
                key = normalise(word).strip(" ：:？?")
                if len(key) >= 1 and key not in words:
                    words[key] = (field.key, kind, how)
    for phrase, key in mine:
        field = form.field(key)
        if field is not None and kind_of(field.type):
            words[normalise(phrase).strip()] = (key, kind_of(field.type), "mine")
    words = {w: v for w, v in words.items() if w and not _is_number_word(w)}
    return Lexicon(_compile(words), words)


def _is_number_word(word: str) -> bool:
    return word.isdigit()


def _compile(words: Mapping[str, tuple]) -> re.Pattern | None:
    if not words:
        return None
    parts = []
    for word in sorted(words, key=len, reverse=True):
        escaped = re.escape(word)
        # An English word stands alone ("signed", not "designed"); a plural s may follow.
        parts.append(rf"(?<![a-z]){escaped}(?:s|es)?(?![a-z])" if word[-1].isascii() else escaped)
    return re.compile("|".join(parts))


def find(lex: Lexicon, text: str, taken: Sequence[tuple[int, int]] = ()) -> list[Cue]:
    """Every field word in a normalised text, leftmost-longest, outside `taken` spans."""
    if lex.pattern is None:
        return []
    found = []
    for match in lex.pattern.finditer(text):
        if any(match.start() < e and s < match.end() for s, e in taken):
            continue
        word = match[0]
        entry = (
            lex.words.get(word)
            or lex.words.get(word.removesuffix("s"))
            or lex.words.get(word.removesuffix("es"))
        )
        if entry is not None:
            found.append(Cue(entry[0], entry[1], match.start(), match.end(), entry[2]))
    return found


_NEGATION = re.compile(
    "(?:" + "|".join(re.escape(n) for n in sorted(NEGATIONS, key=len, reverse=True)) + r")\s*$"
)
# Between a "none" word and the field's word: 没有新增, 没能签下, no new channels.
_BRIDGE = re.compile(r"(?:有|能|什么|任何|再|any|new|\s)*$")


def negated(text: str, cue: Cue) -> bool:
    """True when the field's word is said not to have happened (没有签约, no signings)."""
    before = text[max(0, cue.start - 12) : cue.start]
    bridge = _BRIDGE.search(before)
    head = before[: bridge.start()] if bridge else before
    if not _NEGATION.search(head):
        return False
    word = _NEGATION.search(head)[0].strip()
    # 无 and 零 only count right before the word: 无签约, 零签约 (not 无锡的).
    return word not in ("无", "零") or not before[bridge.start() :].strip()


# After the field's word: 注册也没有, 签约暂无, 签约为零.
_DENIED_AFTER = re.compile(r"\s*(?:也|都|还|是|为)?\s*(?:没有|没|无|暂无|零)\s*$")


def denied_after(text: str, cue: Cue, clause_end: int) -> bool:
    """True when the clause ends by saying the field's word did not happen (注册也没有)."""
    return bool(_DENIED_AFTER.match(text[cue.end : clause_end]))
