"""The sentence reader's precision and recall per field on tests/corpus/reports.tsv.

Precision: of the values read, how many are right; recall: of the values the sentences hold, how
many were read right. Prints figures (and, with --failures, each sentence read wrong); asserts
nothing. Run: .venv/bin/python bench/reader.py
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reader_corpus import Score, cases, got, library, read_case, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", action="store_true", help="list the sentences read wrong")
    args = parser.parse_args()
    started = time.perf_counter()
    total, each = run()
    elapsed = time.perf_counter() - started
    print(f"{len(each)} sentences, {elapsed * 1000 / len(each):.1f} ms each (first one warms up)")
    print(
        f"{'field':<22}{'precision':>10}{'recall':>8}{'right':>7}{'wrong':>7}{'extra':>7}{'missed':>8}"
    )
    for key in total.fields():
        counts = (total.right[key], total.wrong[key], total.extra[key], total.missed[key])
        print(
            f"{key:<22}{total.precision(key):>10.1%}{total.recall(key):>8.1%}"
            + "".join(f"{n:>7}" for n in counts)
        )
    print(f"{'all fields':<22}{total.precision():>10.1%}{total.recall():>8.1%}")
    held = Score()
    for case_id, case_score in each.items():
        if case_id.startswith("h"):
            held.add(case_score)
    print(f"{'held-out sentences':<22}{held.precision():>10.1%}{held.recall():>8.1%}"
          f"  ({sum(k.startswith('h') for k in each)} written after tuning)")  # fmt: skip
    perfect = sum(s.perfect for s in each.values())
    print(f"sentences read entirely right: {perfect}/{len(each)}")
    if args.failures:
        known = library()
        for case in cases():
            if not each[case.id].perfect:
                values = {k: str(v) for k, v in got(read_case(case, known)).items()}
                print(f"{case.id} {case.text}\n   want {case.expected}\n   got  {values}")


if __name__ == "__main__":
    main()
