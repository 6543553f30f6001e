"""Write demo_arithmetic.csv: 300 arithmetic questions with exact answers, for the app's demo mode.

Same shape as the seed article's data: integers 1..100, two or three operators from + - x, with
'x' written for multiplication. Seeded, so running it again rewrites the same file byte for byte:

    python core/data/make_demo.py
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

ROWS = 300
SEED = 20240601
OUT = Path(__file__).with_name("demo_arithmetic.csv")


def value(numbers: list[int], ops: list[str]) -> int:
    """x before + and -, left to right. Written apart from the simulator's parser on purpose:
    the tests check one against the other."""
    terms, signs = [numbers[0]], [1]
    for op, n in zip(ops, numbers[1:]):
        if op == "x":
            terms[-1] *= n
        else:
            terms.append(n)
            signs.append(1 if op == "+" else -1)
    return sum(s * t for s, t in zip(signs, terms))


def make_rows(rows: int = ROWS, seed: int = SEED) -> list[tuple[int, str, int]]:
    rng = random.Random(seed)
    out = []
    for i in range(1, rows + 1):
        ops = [rng.choice("+-x") for _ in range(rng.choice((2, 3)))]
        numbers = [rng.randint(1, 100) for _ in range(len(ops) + 1)]
        question = str(numbers[0]) + "".join(f" {op} {n}" for op, n in zip(ops, numbers[1:]))
        out.append((i, question, value(numbers, ops)))
    return out


def main(path: Path = OUT) -> int:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("id", "question", "answer"))
        writer.writerows(make_rows())
    print(f"wrote {ROWS} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
