"""Rate-limited throughput: how close the engine gets to the limit its keys allow, and how many
429s it provokes on the way.

The simulator runs as a loopback server in its own process and enforces 600 requests/min on each
of 4 keys (its bucket holds one second of requests), answering after 0.2 s +/- 0.02 s. The engine
is told the same 600/min per key and runs 2,000 rows at concurrency 32, response cache off.

    theoretical limit = min(keys x rpm / 60, concurrency / latency) = min(40, 160) = 40 rows/s

Printed: achieved rows/s (start_run to the end of the run, storing inputs included) and its
fraction of the limit (target >= 0.95; the engine deliberately paces at 98% of each key's rpm),
429s as a fraction of every request the simulator saw (target < 1%), and whether every row came
out ok exactly once (results table: 2,000 rows, all ok; simulator: each prompt answered once).

    python benchmarks/throughput.py            # ~55 s
    python benchmarks/throughput.py --quick    # 200 rows, a smoke run
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    EngineRun,
    SimServer,
    SummaryRow,
    base_parser,
    finish,
    fmt_rate,
    key_entries,
    key_names,
    log,
    machine,
    progress_printer,
    question_frame,
    run_engine,
    verdict,
)

KEYS = 4
RPM = 600
LATENCY_S = 0.2
JITTER_S = 0.02
CONCURRENCY = 32
ROWS = 2_000
QUICK_ROWS = 200
TARGET_FRACTION = 0.95
TARGET_429 = 0.01


def sim_args(*, rpm: int = RPM, latency: float = LATENCY_S, jitter: float = JITTER_S, dead_keys: Sequence[str] = ()) -> list[str]:
    args = ["--rpm", str(rpm), "--latency", str(latency), "--jitter", str(jitter), "--error-rate", "0", "--seed", "1"]
    for k in dead_keys:
        args += ["--dead-key", k]
    return args


def theoretical_limit(keys: int, rpm: int, concurrency: int, latency: float) -> float:
    return min(keys * rpm / 60.0, concurrency / latency)


def duplicate_answers(stats: dict[str, dict]) -> int:
    """Prompts the simulator answered 200 more than once (the same row sent and paid twice)."""
    seen = Counter(p for s in stats.values() for p in s.get("prompts", ()))
    return sum(n - 1 for n in seen.values() if n > 1)


@dataclass
class Outcome:
    """One workload, as the client saw it and as the provider (simulator) saw it."""

    label: str
    rows: int
    wall_s: float
    ok_rows: int
    limit: float
    requests: int
    rate_limited: int
    unauthorized: int
    duplicates: int
    per_key: dict[str, dict[str, int]] = field(default_factory=dict)
    run: EngineRun | None = None

    @property
    def rows_per_s(self) -> float:
        return self.ok_rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def fraction(self) -> float:
        return self.rows_per_s / self.limit if self.limit else 0.0

    @property
    def lost(self) -> int:
        return self.rows - self.ok_rows

    @property
    def rate_limited_frac(self) -> float:
        return self.rate_limited / self.requests if self.requests else 0.0

    def line(self) -> str:
        return (
            f"{self.label:<44} {self.rows_per_s:7.1f} rows/s ({self.fraction:6.1%} of {self.limit:g})  "
            f"requests {self.requests:5d}  429s {self.rate_limited:4d} ({self.rate_limited_frac:5.1%})  "
            f"401s {self.unauthorized:4d}  lost rows {self.lost:4d}  dup answers {self.duplicates}"
        )


def measure_engine(rows: int, *, dead_keys: int = 0, label: str = "engine") -> Outcome:
    """The engine on the rate-limited workload, against a fresh simulator (fresh buckets).
    With `dead_keys`, that many of the 4 keys get 401 from the simulator."""
    names = key_names(KEYS)
    dead = names[KEYS - dead_keys :] if dead_keys else []
    alive = KEYS - len(dead)
    with SimServer(*sim_args(dead_keys=dead)) as sim:
        keys = key_entries(sim.base_url, names, RPM)
        frame = question_frame(rows)
        run = run_engine(frame, keys, concurrency=CONCURRENCY, on_poll=progress_printer())
        stats = sim.stats()
        totals = sim.totals(stats)
        ok_rows = run.status_counts().get("ok", 0)
        return Outcome(
            label, rows, run.wall_s, ok_rows, theoretical_limit(alive, RPM, CONCURRENCY, LATENCY_S), totals["requests"],
            totals["rate_limited"], totals["unauthorized"], duplicate_answers(stats), sim.per_key(stats), run,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__).parse_args(argv)
    rows = QUICK_ROWS if args.quick else ROWS
    limit = theoretical_limit(KEYS, RPM, CONCURRENCY, LATENCY_S)
    log(f"# Rate-limited throughput ({machine()})")
    log(f"{KEYS} keys x {RPM} requests/min (simulator enforces, engine told the same), latency {LATENCY_S} s "
        f"+/- {JITTER_S}, concurrency {CONCURRENCY}, {rows:,} rows; limit = min({KEYS * RPM / 60:g}, "
        f"{CONCURRENCY / LATENCY_S:g}) = {limit:g} rows/s")  # fmt: skip
    out = measure_engine(rows)
    run = out.run
    assert run is not None
    log(out.line())
    log(f"run state {run.state}; wall {run.wall_s:.2f} s (sending {run.engine_s:.2f} s, {run.send_rows_per_s:.1f} rows/s); "
        f"results table: {len(run.table) if run.table is not None else 0} rows, statuses {run.status_counts()}")  # fmt: skip
    for key, c in sorted(out.per_key.items()):
        log(f"  simulator, key {key}: requests {c['requests']}, ok {c['ok']}, 429 {c['rate_limited']}")
    once = run.exactly_once_ok and out.duplicates == 0 and sum(c["ok"] for c in out.per_key.values()) == rows
    log(f"every row ok exactly once: {once}")
    finish(
        [
            SummaryRow(f"Rate-limited throughput ({KEYS} keys x {RPM}/min, {rows:,} rows)", f"{fmt_rate(out.rows_per_s)} rows/s = {out.fraction:.1%} of {limit:g}", f">= {TARGET_FRACTION:.0%} of limit", verdict(out.fraction >= TARGET_FRACTION)),
            SummaryRow("429s / all requests (same run)", f"{out.rate_limited:,} / {out.requests:,} = {out.rate_limited_frac:.2%}", f"< {TARGET_429:.0%}", verdict(out.rate_limited_frac < TARGET_429)),
            SummaryRow("Every row ok exactly once (same run)", f"{out.ok_rows:,}/{rows:,} ok, {out.duplicates} answered twice", "all, once", verdict(once)),
        ],
        args.summary_json,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
