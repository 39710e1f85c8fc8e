"""The text as the reader sees it: normalised character by character, and cut into clauses."""

import re
import unicodedata
from dataclasses import dataclass

# A clause ends at punctuation, a line break, or "then"-like joins; numbers pair within one.
# Not at 、: 华润、万科、保利 is one list (在谈的有华润、万科、保利 counts three).
_CLAUSE_END = re.compile(r"[，,。；;！!？?\n]+|\s+(?:and|then|but|also)\s+|\.(?!\d)(?:\s+|$)")
# Sentence ends: a text field's words stop here unless what follows says nothing else.
STRONG_END = set("。；;！!？?\n")
MAX_TEXT = 2000  # characters read; a report typed as a sentence is far shorter


@dataclass(frozen=True)
class Clause:
    """A stretch of the text between two clause ends: [start, end) in the text."""

    start: int
    end: int
    strong_end: bool  # ends a sentence (not just a comma)


def normalise(text: str) -> str:
    """Full-width forms made plain and letters folded, one character for one character, so that
    positions in the result are positions in what the person typed."""
    out = []
    for ch in text[:MAX_TEXT]:
        plain = unicodedata.normalize("NFKC", ch)
        out.append(plain.casefold() if len(plain) == 1 and len(plain.casefold()) == 1 else ch)
    return "".join(out)


def clauses(text: str) -> list[Clause]:
    """The clauses of a normalised text, in order."""
    found, start = [], 0
    for match in _CLAUSE_END.finditer(text):
        if match.start() > start:
            strong = any(ch in STRONG_END for ch in match[0]) or match[0].startswith(".")
            found.append(Clause(start, match.start(), strong))
        start = match.end()
    if start < len(text):
        found.append(Clause(start, len(text), True))
    return found


def is_cjk(ch: str) -> bool:
    """A Chinese character."""
    return "\u4e00" <= ch <= "\u9fff"
