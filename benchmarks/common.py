"""Shared pieces of the benchmarks: the simulator as a loopback server in its own process, key
entries for it, question tables, one engine run from start to finish, and the summary table.

Not a benchmark itself. Every script in this folder imports it; run a script from the repository
root or anywhere else (`python benchmarks/throughput.py`): the repository root is put on
`sys.path` here, so `core` imports without installing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd

from core.keys import KeyEntry
from core.progress import ProgressSnapshot
from core.runner import Runner
from core.runs import start_run
from core.spec import RunSpec
from core.store import RunStore

__all__ = [
    "MODEL",
    "ROOT",
    "TEMPLATE",
    "EngineRun",
    "SimServer",
    "Stopwatch",
    "SummaryRow",
    "base_parser",
    "finish",
    "fmt_rate",
    "free_port",
    "key_entries",
    "key_names",
    "log",
    "machine",
    "markdown_table",
    "progress_printer",
    "question_frame",
    "run_engine",
    "verdict",
]  # fmt: skip

TEMPLATE = "Compute {question}. Reply with the number only."
MODEL = "simulated"
STARTUP_TIMEOUT_S = 30.0
COUNTERS = ("requests", "ok", "rate_limited", "server_errors", "timeouts", "drops", "nonjson", "unauthorized")


# --- The simulator --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimServer:
    """`python -m core.simulator` on loopback, in its own process (so its CPU is not the engine's
    event loop's). Use as a context manager, or call `stop()`.

        with SimServer("--rpm", "600", "--latency", "0.2") as sim:
            sim.base_url, sim.stats(), sim.totals(), sim.reset()
    """

    def __init__(self, *args: str) -> None:
        self.args = list(args)
        self.port = free_port()
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- lives as long as the server
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.simulator", "--port", str(self.port), *self.args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        line = self._read_line(STARTUP_TIMEOUT_S)
        if "listening" not in line:
            self.stop()
            self._stderr.seek(0)
            raise RuntimeError(f"the simulator did not start: {line!r} {self._stderr.read()[-2000:]}")
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._root = f"http://127.0.0.1:{self.port}"

    def _read_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return ""
        return self.proc.stdout.readline()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stats(self) -> dict[str, dict[str, Any]]:
        """`/_sim/stats`: per API key, the counters plus `times` and `prompts` (one per request)."""
        with urllib.request.urlopen(f"{self._root}/_sim/stats", timeout=60) as r:
            return json.loads(r.read())

    def totals(self, stats: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
        """The counters summed over every key (no per-request lists)."""
        stats = self.stats() if stats is None else stats
        return {c: sum(int(s.get(c, 0)) for s in stats.values()) for c in COUNTERS}

    def per_key(self, stats: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, int]]:
        stats = self.stats() if stats is None else stats
        return {k: {c: int(s.get(c, 0)) for c in COUNTERS} for k, s in stats.items()}

    def reset(self) -> None:
        """Forget the counters (the rate-limit buckets stay as they are)."""
        req = urllib.request.Request(f"{self._root}/_sim/reset", data=b"{}", method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Inputs -------------------------------------------------------------------------------------------


def key_names(n: int, prefix: str = "bench-key") -> list[str]:
    return [f"{prefix}-{i + 1}" for i in range(n)]


def key_entries(base_url: str, names: Sequence[str], rpm: int, tpm: int | None = None) -> list[KeyEntry]:
    """One engine key per name, all at `base_url` with the same limits."""
    return [KeyEntry("Benchmark", base_url, MODEL, name, rpm, tpm) for name in names]


def question_frame(n: int, *, wide: bool = False) -> pd.DataFrame:
    """`n` arithmetic questions ('i + 2i'), all different so no answer is ever a repeat.
    `wide` adds text columns (5 columns in all, ~150 bytes a row), like a real spreadsheet."""
    data: dict[str, list[str]] = {
        "id": [str(i) for i in range(n)],
        "question": [f"{i} + {i * 2}" for i in range(n)],
        "answer": [str(i * 3) for i in range(n)],
    }
    if wide:
        data["category"] = [("algebra", "geometry", "arithmetic", "statistics")[i % 4] for i in range(n)]
        data["notes"] = [f"Row {i}: a short free-text note of the kind spreadsheets carry, about 80 characters." for i in range(n)]
    return pd.DataFrame(data, dtype=object)


# --- One engine run -----------------------------------------------------------------------------------


@dataclass
class EngineRun:
    run_id: str
    state: str
    rows: int
    ok: int
    unparsed: int
    failed: int
    wall_s: float  # start_run (stores the inputs) to the end of wait()
    engine_s: float  # the tracker's elapsed time: sending only
    snapshot: ProgressSnapshot = field(repr=False)
    table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def send_rows_per_s(self) -> float:
        return self.rows / self.engine_s if self.engine_s > 0 else 0.0

    def status_counts(self) -> dict[str, int]:
        if self.table is None:
            return {}
        return {str(k): int(v) for k, v in self.table["status"].value_counts().items()}

    @property
    def exactly_once_ok(self) -> bool:
        """The results table has one row per input row and every one is ok."""
        return self.table is not None and len(self.table) == self.rows and self.status_counts() == {"ok": self.rows}


def run_engine(
    frame: pd.DataFrame,
    keys: Sequence[KeyEntry],
    *,
    concurrency: int,
    max_attempts: int = 4,
    data_dir: str | os.PathLike[str] | None = None,
    with_table: bool = True,
    timeout_s: float = 3600.0,
    on_poll: Callable[[ProgressSnapshot], None] | None = None,
    poll_s: float = 1.0,
) -> EngineRun:
    """Run `frame` through the engine with a fresh `Runner` and store, wait for the end, and
    return what happened. The response cache is off, so every row is really sent."""
    spec = RunSpec(template=TEMPLATE, concurrency=concurrency, use_cache=False, max_attempts=max_attempts)
    tmp = tempfile.TemporaryDirectory(prefix="bench-store-") if data_dir is None else None
    store = RunStore(tmp.name if tmp is not None else data_dir)
    runner = Runner()
    try:
        t0 = time.perf_counter()
        handle = start_run(store, frame, spec, keys, runner=runner)
        deadline = t0 + timeout_s
        while not handle.wait(poll_s):
            if on_poll is not None:
                on_poll(handle.snapshot())
            if time.perf_counter() > deadline:
                handle.cancel()
                handle.wait(30)
                break
        wall = time.perf_counter() - t0
        snap = handle.snapshot()
        try:
            state = handle.result() if handle.done else snap.state
        except Exception as exc:  # noqa: BLE001 -- the engine stopped on an internal error: report it, keep going
            state = f"failed ({type(exc).__name__}: {exc})"
        table = store.results_table(handle.run_id) if with_table else None
        return EngineRun(handle.run_id, state, len(frame), snap.ok, snap.unparsed, snap.failed, wall, snap.elapsed_s, snap, table)
    finally:
        runner.shutdown()
        store.close()
        if tmp is not None:
            tmp.cleanup()


# --- Reporting ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    measurement: str
    result: str
    target: str
    verdict: str


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("pass" if passed else "FAIL")


def fmt_rate(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def markdown_table(rows: Sequence[SummaryRow]) -> str:
    head = ["measurement", "result", "target", "verdict"]
    cells = [head, *[[r.measurement, r.result, r.target, r.verdict] for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]

    def line(c: Sequence[str]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(c, widths)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(c) for c in cells[1:])])


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    p.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run, not a measurement")
    p.add_argument("--summary-json", metavar="PATH", help="also write the summary rows as JSON here (used by run_all.py)")
    return p


def finish(rows: Sequence[SummaryRow], summary_json: str | None) -> None:
    """Print the script's summary table and, if asked, save it for run_all.py."""
    print()
    print(markdown_table(rows))
    if summary_json:
        Path(summary_json).write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1), encoding="utf-8")


def machine() -> str:
    import platform

    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}{load}"


class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @property
    def s(self) -> float:
        return time.perf_counter() - self.t0


_print_lock = threading.Lock()


def progress_printer(every_s: float = 10.0) -> Callable[[ProgressSnapshot], None]:
    """An `on_poll` for run_engine: one progress line every `every_s` seconds."""
    last = [time.monotonic()]

    def show(s: ProgressSnapshot) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            log(f"  ... {s.done:,}/{s.total:,} rows after {s.elapsed_s:.0f} s, {s.rows_per_s:,.1f} rows/s, {s.in_flight} in flight")

    return show


def log(*parts: object) -> None:
    with _print_lock:
        print(*parts, flush=True)
