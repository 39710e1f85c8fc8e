"""The sentence reader on its corpus: no sentence that passes regresses, and the figures the
README states hold (tests/corpus/reports.tsv, bench/reader.py)."""

import pytest
from reader_corpus import CORPUS, cases, got, library, read_case, run, score

PASSING = [
    line.strip()
    for line in (CORPUS / "passing.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
CASES = {case.id: case for case in cases()}


def test_it_has_the_sentences_the_issue_asks_for():
    assert len(CASES) >= 200
    assert sum(case.id.startswith("e") for case in CASES.values()) >= 20  # some English
    assert set(PASSING) <= set(CASES)


@pytest.mark.parametrize("case_id", PASSING)
def test_it_still_reads_a_sentence_that_passed(case_id):
    case = CASES[case_id]
    result = score(case, read_case(case, library()))
    assert result.perfect, (
        f"{case.text}\nwant {case.expected}\ngot  {got(read_case(case, library()))}"
    )


def test_it_reads_the_corpus_at_the_figures_promised():
    total, _ = run()
    assert total.precision() >= 0.95
    assert total.recall() >= 0.90
