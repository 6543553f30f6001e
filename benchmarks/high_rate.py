"""Speed at high rates: the real command line, end to end, against a bare SDK loop with the same
keys, pacing and concurrency, measured in the same run.

The simulator (its own process, loopback) enforces 6,000 requests/min on every key and answers
after 50 ms. Two workloads, 5,000 rows each, concurrency 64:

    8 keys: limit = min(8 x 6000 / 60, 64 / 0.05) = min(800, 1280) = 800 rows/s
    1 key:  limit = min(1 x 6000 / 60, 64 / 0.05) = min(100, 1280) = 100 rows/s

* bare: `benchmarks/bare_loop.py`, a subprocess: csv in, one `AsyncOpenAI` (aiohttp) per key,
  each paced by its own aiolimiter at the engine's rate (98% of rpm, half a second of burst),
  64 workers dealt out to the keys, csv out. No store, no retries, no parsing.
* engine: `python -m core run IN.csv ... --output OUT.csv`, a subprocess with a fresh data
  directory: table read with pandas, run and every row stored in SQLite, results table and CSV
  written. Response cache on, as a user runs it (a fresh store, so nothing is a hit).

Both are timed as whole processes (start to exit: interpreter, imports, reading, sending,
writing), alternating bare, engine, bare, engine, ...; the median of each is reported, and the
ratio engine/bare is taken per round (each pair ran back to back) and its median reported. CPU
per 1,000 rows is the child's own user + system time (os.wait4 rusage). 429s are counted at
the simulator (/_sim/stats) for every run.

    python benchmarks/high_rate.py               # 8 keys x 3 rounds, then 1 key x 2 rounds (~5 min)
    python benchmarks/high_rate.py --keys 8      # one workload only
    python benchmarks/high_rate.py --quick       # 1,000 rows, 1 round each: a smoke run
    python benchmarks/high_rate.py --before /tmp/main   # also that checkout's command line (git archive main | tar -x -C /tmp/main)
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import MODEL, ROOT, TEMPLATE, SimServer, SummaryRow, base_parser, finish, fmt_rate, key_names, log, machine, question_frame, verdict
from core import constants as C

RPM = 6_000
LATENCY_S = 0.05
CONCURRENCY = 64
ROWS = 5_000
QUICK_ROWS = 1_000
ROUNDS = {8: 3, 1: 2}  # the 1-key run is rate-bound (~50 s a run) and steady: two rounds suffice
TARGET_RATIO = 0.8
KEYS_ENV = "HIGH_RATE_BENCH_KEYS"
HERE = Path(__file__).resolve().parent


def theoretical_limit(keys: int) -> float:
    return min(keys * RPM / 60.0, CONCURRENCY / LATENCY_S)


@dataclass
class Run:
    label: str  # "bare" | "engine"
    rows: int
    ok: int  # rows with an answer in the output file
    wall_s: float  # process start to exit
    cpu_s: float  # the child's user + system time
    requests: int  # at the simulator
    rate_limited: int  # 429s at the simulator
    detail: str = ""
    sim_cpu_s: float | None = None  # the simulator's CPU during this run (Linux only)

    @property
    def rows_per_s(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.rows * 1000 if self.rows else 0.0

    def line(self) -> str:
        return (f"{self.label:<7} {self.ok:,}/{self.rows:,} ok in {self.wall_s:6.2f} s = {self.rows_per_s:6.1f} rows/s; "
                f"CPU {self.cpu_s:5.2f} s = {self.cpu_per_1000:4.2f} s per 1,000 rows; simulator: {self.requests:,} requests, "
                f"{self.rate_limited} 429s{self.sim_load()}{'; ' + self.detail if self.detail else ''}")  # fmt: skip

    def sim_load(self) -> str:
        """The simulator's CPU: it must stay well under one core, or it would be the bottleneck."""
        if self.sim_cpu_s is None or not self.requests or self.wall_s <= 0:
            return ""
        return f", {self.sim_cpu_s / self.requests * 1000:.2f} s CPU per 1,000 = {self.sim_cpu_s / self.wall_s:.0%} of a core"


def timed_child(cmd: list[str], env: dict[str, str], stdout_path: Path, stderr_path: Path, cwd: Path = ROOT) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one child process, from its own rusage."""
    with stdout_path.open("w") as out, stderr_path.open("w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped already: tell Popen
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answered_rows(path: Path, column: str, ok_value: str | None = None) -> int:
    """Rows of an output CSV with an answer (and, for the engine, status ok)."""
    if not path.exists():
        return 0
    with path.open(newline="", encoding="utf-8-sig") as f:
        return sum(1 for r in csv.DictReader(f) if r.get(column) and (ok_value is None or r.get("status") == ok_value))


def measure(label: str, sim: SimServer, keys: list[str], csv_path: Path, rows: int, tmp: Path, i: int, root: Path = ROOT) -> Run:
    """One run of `label`: "bare", or "engine" (the command line of the checkout at `root`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
    out = tmp / f"{label}-{len(keys)}-{i}.csv"
    if label == "bare":
        cmd = [sys.executable, str(HERE / "bare_loop.py"), str(csv_path), str(out), "--base-url", sim.base_url, "--model", MODEL,
               "--keys", ",".join(keys), "--rpm", str(RPM), "--concurrency", str(CONCURRENCY),
               "--safety", str(C.RATE_SAFETY), "--burst-s", str(C.REQUEST_BURST_S)]  # fmt: skip
    else:
        env[KEYS_ENV] = ",".join(keys)
        cmd = [sys.executable, "-m", "core", "run", str(csv_path), "--template", TEMPLATE, "--base-url", sim.base_url,
               "--model", MODEL, "--keys-env", KEYS_ENV, "--rpm", str(RPM), "--concurrency", str(CONCURRENCY),
               "--output", str(out), "--data-dir", str(tmp / f"store-{label}-{len(keys)}-{i}")]  # fmt: skip
    sim.reset()
    stdout, stderr = tmp / f"{label}-{i}.stdout", tmp / f"{label}-{i}.stderr"
    sim_cpu0 = process_cpu_s(sim.pid)
    wall, cpu, code = timed_child(cmd, env, stdout, stderr, cwd=root)
    sim_cpu1 = process_cpu_s(sim.pid)
    totals = sim.totals()
    if label == "bare":
        ok = answered_rows(out, "output")
        try:
            info = json.loads(stdout.read_text().strip().splitlines()[-1])
            detail = f"imports {info['import_s']:.2f} s, sending {info['send_s']:.2f} s, failures {info['failures'] or 'none'}"
        except (IndexError, ValueError, KeyError):
            detail = f"exit {code}: {stderr.read_text()[-500:]}"
    else:
        ok = answered_rows(out, "output", ok_value="ok")  # the engine's output: input columns, output, status, error
        last = [line for line in stderr.read_text().splitlines() if line.strip()]
        detail = f"exit {code}" if code == 0 else f"exit {code}: {' | '.join(last[-3:])}"
    sim_cpu = sim_cpu1 - sim_cpu0 if sim_cpu0 is not None and sim_cpu1 is not None else None
    return Run(label, rows, ok, wall, cpu, totals["requests"], totals["rate_limited"], detail, sim_cpu)


@dataclass
class Workload:
    keys: int
    bare: list[Run]
    engine: list[Run]
    others: dict[str, list[Run]]  # the command lines of other checkouts (--before), by name

    @property
    def limit(self) -> float:
        return theoretical_limit(self.keys)

    def runs(self, side: str) -> list[Run]:
        return self.others[side] if side in self.others else getattr(self, side)

    def ratios_of(self, side: str) -> list[float]:
        """Per round, `side`'s rows/s over the bare loop's of the same round."""
        return [e.rows_per_s / b.rows_per_s if b.rows_per_s else 0.0 for b, e in zip(self.bare, self.runs(side))]

    @property
    def ratios(self) -> list[float]:
        return self.ratios_of("engine")

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def median(self, side: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs(side))

    @property
    def complete(self) -> bool:
        return all(r.ok == r.rows for r in self.bare + self.engine + [r for runs in self.others.values() for r in runs])

    @property
    def rate_limited(self) -> tuple[int, int]:
        return sum(r.rate_limited for r in self.bare), sum(r.rate_limited for r in self.engine)


def run_workload(n_keys: int, rows: int, rounds: int, tmp: Path, before: dict[str, Path] | None = None) -> Workload:
    limit = theoretical_limit(n_keys)
    log(f"\n## {n_keys} key(s) x {RPM:,}/min, latency {LATENCY_S} s, concurrency {CONCURRENCY}, {rows:,} rows: "
        f"limit = min({n_keys * RPM / 60:g}, {CONCURRENCY / LATENCY_S:g}) = {limit:g} rows/s "
        f"(both sides pace at {C.RATE_SAFETY:.0%} of it: {limit * C.RATE_SAFETY:g})")  # fmt: skip
    csv_path = tmp / f"questions-{rows}.csv"
    if not csv_path.exists():
        question_frame(rows).to_csv(csv_path, index=False)
    # Fresh simulator per workload: its buckets start full, as a provider's would for new keys.
    with SimServer("--rpm", str(RPM), "--latency", str(LATENCY_S), "--jitter", "0", "--error-rate", "0") as sim:
        keys = key_names(n_keys, prefix=f"high-rate-{n_keys}")
        before = before or {}
        w = Workload(n_keys, [], [], {name: [] for name in before})
        sides = [("bare", w.bare, ROOT), ("engine", w.engine, ROOT)] + [(name, w.others[name], path) for name, path in before.items()]
        for i in range(rounds):
            for label, bucket, root in sides:
                r = measure(label, sim, keys, csv_path, rows, tmp, i, root)
                bucket.append(r)
                log(f"round {i + 1}: {r.line()}")
            extra = "".join(f", {name}/bare = {w.ratios_of(name)[-1]:.2f}" for name in before)
            log(f"round {i + 1}: engine/bare = {w.ratios[-1]:.2f}{extra}")
    return w


def report(w: Workload) -> list[SummaryRow]:
    bare_rate, engine_rate = w.median("bare", "rows_per_s"), w.median("engine", "rows_per_s")
    bare_cpu, engine_cpu = w.median("bare", "cpu_per_1000"), w.median("engine", "cpu_per_1000")
    b429, e429 = w.rate_limited
    log(f"{w.keys} key(s), medians: bare {bare_rate:.1f} rows/s ({bare_rate / w.limit:.0%} of {w.limit:g}), "
        f"engine {engine_rate:.1f} rows/s ({engine_rate / w.limit:.0%}); engine/bare per round {[round(x, 2) for x in w.ratios]} "
        f"-> median {w.ratio:.2f}; CPU per 1,000 rows: bare {bare_cpu:.2f} s, engine {engine_cpu:.2f} s; "
        f"429s: bare {b429}, engine {e429}")  # fmt: skip
    for name, runs in w.others.items():
        log(f"{w.keys} key(s), checkout {name!r}: {w.median(name, 'rows_per_s'):.1f} rows/s, {name}/bare per round "
            f"{[round(x, 2) for x in w.ratios_of(name)]} -> median {statistics.median(w.ratios_of(name)):.2f}; "
            f"CPU per 1,000 rows {w.median(name, 'cpu_per_1000'):.2f} s; 429s {sum(r.rate_limited for r in runs)}")  # fmt: skip
    if not w.complete:
        log("WARNING: some runs did not answer every row (see the rounds above)")
    rows = w.bare[0].rows if w.bare else 0
    return [
        SummaryRow(
            f"High rate, {w.keys} key{'s' if w.keys > 1 else ''} x 6,000/min, 50 ms, {rows:,} rows, concurrency {CONCURRENCY}: "
            f"command line end to end vs bare `AsyncOpenAI` loop (limit {w.limit:g} rows/s)",
            f"{fmt_rate(engine_rate)} vs {fmt_rate(bare_rate)} rows/s = **{w.ratio:.2f}x**; CPU {engine_cpu:.2f} vs {bare_cpu:.2f} s per 1,000 rows; "
            f"429s {e429} vs {b429}",
            f">= {TARGET_RATIO} x bare",
            verdict(w.ratio >= TARGET_RATIO and w.complete),
        )  # fmt: skip
    ]


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--keys", type=int, nargs="+", choices=sorted(ROUNDS), default=None, help="which workloads (default: 8 then 1)")
    p.add_argument("--rows", type=int, default=None, help=f"rows per run (default {ROWS:,}; --quick {QUICK_ROWS:,})")
    p.add_argument("--rounds", type=int, default=None, help="pairs of runs per workload (default: 3 at 8 keys, 2 at 1 key)")
    p.add_argument(
        "--before",
        type=Path,
        nargs="+",
        default=[],
        metavar="CHECKOUT",
        help="also run the command line of these checkouts (e.g. an export of main), alternated with the others; named by their folder",
    )
    args = p.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    log(f"# Speed at high rates ({machine()})")
    summary: list[SummaryRow] = []
    with tempfile.TemporaryDirectory(prefix="bench-high-rate-") as tmp:
        for n_keys in args.keys or [8, 1]:
            rounds = args.rounds or (1 if args.quick else ROUNDS[n_keys])
            summary += report(run_workload(n_keys, rows, rounds, Path(tmp), {p.resolve().name: p.resolve() for p in args.before}))
    finish(summary, args.summary_json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
