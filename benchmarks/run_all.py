"""Every benchmark, one after the other, then one Markdown table for README.md:
measurement | result | target | verdict.

Each benchmark runs as its own subprocess (`python benchmarks/<name>.py --summary-json FILE`), so
that one run's threads, sockets and memory never weigh on the next; their output streams through
as they go. Runs: throughput.py (~1 min), ceiling.py (~1-2 min), high_rate.py (~5 min),
seed_approach.py (~6 min), memory.py (~3 min), store_lock.py (~10 s).

    python benchmarks/run_all.py                       # everything, ~17 minutes
    python benchmarks/run_all.py --quick               # smaller sizes, a smoke run (~2 minutes)
    python benchmarks/run_all.py --only throughput ceiling
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, SummaryRow, base_parser, log, machine, markdown_table

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("throughput", "ceiling", "high_rate", "seed_approach", "memory", "store_lock")


def run_one(name: str, quick: bool, tmp: Path) -> tuple[list[SummaryRow], float, int]:
    summary = tmp / f"{name}.json"
    cmd = [sys.executable, str(HERE / f"{name}.py"), "--summary-json", str(summary), *(["--quick"] if quick else [])]
    t0 = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode
    seconds = time.perf_counter() - t0
    if not summary.exists():
        return [SummaryRow(f"{name}.py", f"did not finish (exit {code})", "-", "FAIL")], seconds, code
    rows = [SummaryRow(**r) for r in json.loads(summary.read_text(encoding="utf-8"))]
    return rows, seconds, code


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    args = p.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    rows: list[SummaryRow] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        for name in names:
            log(f"\n===== {name}.py{' --quick' if args.quick else ''} =====")
            got, seconds, code = run_one(name, args.quick, Path(tmp))
            failed |= code != 0
            rows.extend(got)
            log(f"({name}.py took {seconds:.0f} s)")
    log(f"\n## Benchmarks{' (--quick: smoke sizes, not measurements)' if args.quick else ''}\n")
    log(f"{machine()}; simulator on loopback in its own process. Reproduce: `python benchmarks/run_all.py`.\n")
    table = markdown_table(rows)
    log(table)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if failed or any(r.verdict == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
