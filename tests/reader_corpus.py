"""The sentence reader's corpus (tests/corpus/reports.tsv): loading it, reading each sentence,
and scoring what was read field by field (tests/test_reader_corpus.py, bench/reader.py)."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.forms.reader import Known, Reading, read
from bot.forms.spec import default_reports

CORPUS = Path(__file__).with_name("corpus")
TODAY = date(2026, 12, 4)  # a Friday: 周三 is 12-02, 上周五 11-27
TEXT_SLACK = 12  # a text value may hold this many characters besides the words expected


@dataclass(frozen=True)
class Case:
    """One sentence and what it must yield."""

    id: str
    form: str
    text: str
    expected: dict[str, tuple[str, str]]  # field -> (op, value): "=", "~" or "|" (channels)


@dataclass
class Score:
    """Per field: right, wrong or extra (read, not expected), missed (expected, not read)."""

    right: Counter = field(default_factory=Counter)
    wrong: Counter = field(default_factory=Counter)
    extra: Counter = field(default_factory=Counter)
    missed: Counter = field(default_factory=Counter)

    def add(self, other: "Score") -> None:
        for name in ("right", "wrong", "extra", "missed"):
            getattr(self, name).update(getattr(other, name))

    def precision(self, key: str | None = None) -> float:
        right, read = self._count(key, "right"), self._count(key, "right", "wrong", "extra")
        return right / read if read else 1.0

    def recall(self, key: str | None = None) -> float:
        right, due = self._count(key, "right"), self._count(key, "right", "wrong", "missed")
        return right / due if due else 1.0

    def _count(self, key: str | None, *names: str) -> int:
        return sum(
            sum(getattr(self, n).values()) if key is None else getattr(self, n)[key] for n in names
        )

    def fields(self) -> list[str]:
        seen = self.right + self.wrong + self.extra + self.missed
        return sorted(seen)

    @property
    def perfect(self) -> bool:
        return not (self.wrong or self.extra or self.missed)


def library() -> list[Known]:
    """The channel library the corpus is read against."""
    lines = (CORPUS / "channels.txt").read_text(encoding="utf-8").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [Known(i, name) for i, name in enumerate(names, 1)]


def cases() -> list[Case]:
    """Every sentence of the corpus, in file order."""
    found = []
    for line in (CORPUS / "reports.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        case_id, form, text, expect = line.split("\t")
        found.append(Case(case_id, form, text, _expected(expect)))
    return found


def _expected(expect: str) -> dict[str, tuple[str, str]]:
    wanted: dict[str, tuple[str, str]] = {}
    for part in filter(None, (p.strip() for p in expect.split(";"))):
        op = "~" if "~" in part and ("=" not in part or part.index("~") < part.index("=")) else "="
        key, value = part.split(op, 1)
        wanted[key.strip()] = ("|" if op == "=" and "|" in value else op, value.strip())
    return wanted


def read_case(case: Case, known: list[Known]) -> Reading:
    """The reader's reading of one sentence."""
    reports = default_reports()
    return read(reports.form(case.form), case.text, today=TODAY, known=known,
                regions=reports.regions, industries=reports.industries)  # fmt: skip


def got(reading: Reading) -> dict[str, Any]:
    """What was read, as the corpus writes it."""
    values = dict(reading.values())
    if reading.period_day is not None:
        values["@period"] = reading.period_day
    return values


def score(case: Case, reading: Reading) -> Score:
    """How one reading compares with what the sentence must yield."""
    result = Score()
    values = got(reading)
    for key in set(values) | set(case.expected):
        if key not in case.expected:
            result.extra[key] += 1
        elif key not in values:
            result.missed[key] += 1
        elif matches(case.expected[key], values[key]):
            result.right[key] += 1
        else:
            result.wrong[key] += 1
    return result


def matches(expected: tuple[str, str], value: Any) -> bool:
    """True when a value read is what the corpus expects."""
    op, want = expected
    if op == "|":
        return isinstance(value, tuple) and sorted(value) == sorted(want.split("|"))
    if op == "~":
        text = str(value).casefold()
        return want.casefold() in text and len(text) <= len(want) + TEXT_SLACK
    if isinstance(value, tuple):
        return list(value) == [want]
    if isinstance(value, Decimal):
        return value == Decimal(want)
    if isinstance(value, date):
        return value.isoformat() == want
    return str(value) == want


def run() -> tuple[Score, dict[str, Score]]:
    """Every sentence read and scored: the total, and each sentence's."""
    known = library()
    total, each = Score(), {}
    for case in cases():
        each[case.id] = score(case, read_case(case, known))
        total.add(each[case.id])
    return total, each
