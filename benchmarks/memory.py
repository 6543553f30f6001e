"""Peak memory of a 100,000-row run, and the time to write its results table to CSV.

The benchmark starts the simulator (own process, loopback, no rate limit, no latency) and then a
*child* Python process that does the run alone, so that the child's peak RSS is the engine's:

1. imports (pandas, openai, aiohttp, core): baseline RSS;
2. builds 100,000 rows x 5 columns (~150 bytes of text a row) in memory;
3. runs them through the engine (`start_run`, concurrency 32, one key with an rpm that never
   limits, response cache off), polling the progress snapshot once a second as the UI does;
4. builds the download: `store.results_table(run_id)` and `core.exports.to_csv_bytes`, timed.

Peak RSS is read three ways in the child: VmHWM from /proc/self/status (the high-water mark of
this process's own memory; Linux only), a psutil sampler thread (every 50 ms), and
`resource.getrusage(RUSAGE_SELF).ru_maxrss` (which on Linux may also carry the parent's peak
across fork+exec, so it is shown but not used for the verdict). Target: well under 1 GiB.

    python benchmarks/memory.py                # 100,000 rows: a few minutes
    python benchmarks/memory.py --rows 20000
    python benchmarks/memory.py --quick        # 5,000 rows
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROWS = 100_000
QUICK_ROWS = 5_000
CONCURRENCY = 32
UNLIMITED_RPM = 10_000_000
MIB = 1024 * 1024
TARGET_BYTES = 1024 * MIB  # "well under": the verdict wants less than half of it


# --- The child: the run itself -----------------------------------------------------------------------


def _vm_hwm() -> int | None:
    """This process's peak RSS in bytes (Linux /proc), None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _ru_maxrss() -> int:
    import resource

    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024  # bytes on macOS, KiB on Linux


class _Sampler(threading.Thread):
    """RSS every `interval` seconds: the peak, and a sample at each tenth of the run."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.peak = self.rss()
        self._halt = threading.Event()

    def rss(self) -> int:
        return int(self._proc.memory_info().rss)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, self.rss())


def child(base_url: str, rows: int, concurrency: int, out_path: str) -> None:
    from benchmarks.common import key_entries, log, question_frame, run_engine
    from core.exports import to_csv_bytes
    from core.progress import ProgressSnapshot
    from core.store import RunStore

    sampler = _Sampler()
    sampler.start()
    result: dict[str, Any] = {"rows": rows, "concurrency": concurrency}
    result["baseline_rss"] = sampler.rss()
    result["baseline_hwm"] = _vm_hwm()

    t0 = time.perf_counter()
    frame = question_frame(rows, wide=True)
    result["frame_s"] = time.perf_counter() - t0
    result["frame_bytes"] = int(frame.memory_usage(deep=True).sum())
    result["after_frame_rss"] = sampler.rss()

    timeline: list[tuple[int, float, int]] = []  # (rows done, seconds, rss)
    next_mark = [rows // 10]

    def poll(s: ProgressSnapshot) -> None:
        if s.done >= next_mark[0]:
            rss = sampler.rss()
            timeline.append((s.done, s.elapsed_s, rss))
            log(f"  ... {s.done:,}/{s.total:,} rows after {s.elapsed_s:.0f} s, {s.rows_per_s:,.0f} rows/s now, RSS {rss / MIB:,.0f} MiB")
            while next_mark[0] <= s.done:
                next_mark[0] += rows // 10

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as data_dir:
        keys = key_entries(base_url, ["memory-key"], UNLIMITED_RPM)
        run = run_engine(frame, keys, concurrency=concurrency, data_dir=data_dir, with_table=False, on_poll=poll, timeout_s=3 * 3600)
        result.update(state=run.state, ok=run.ok, unparsed=run.unparsed, failed=run.failed, wall_s=run.wall_s, engine_s=run.engine_s)
        result["after_run_rss"] = sampler.rss()
        result["run_peak_sampled"] = sampler.peak
        result["run_peak_hwm"] = _vm_hwm()
        result["run_peak_ru_maxrss"] = _ru_maxrss()
        result["timeline"] = timeline
        result["db_bytes"] = sum(p.stat().st_size for p in Path(data_dir).iterdir() if p.is_file())

        store = RunStore(data_dir)
        try:
            t1 = time.perf_counter()
            table = store.results_table(run.run_id)
            t2 = time.perf_counter()
            data = to_csv_bytes(table)
            t3 = time.perf_counter()
        finally:
            store.close()
        result.update(table_s=t2 - t1, csv_s=t3 - t2, csv_bytes=len(data), table_rows=len(table),
                      table_ok=int((table["status"] == "ok").sum()))  # fmt: skip
        del data, table
    sampler.stop()
    result["total_peak_sampled"] = sampler.peak
    result["total_peak_hwm"] = _vm_hwm()
    result["total_peak_ru_maxrss"] = _ru_maxrss()
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


# --- The parent: simulator, child, report ------------------------------------------------------------


def _mib(x: int | None) -> str:
    return "n/a" if x is None else f"{x / MIB:,.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import ROOT, SimServer, SummaryRow, base_parser, finish, fmt_rate, log, machine, verdict

    p = base_parser(__doc__)
    p.add_argument("--rows", type=int, default=None, help=f"rows (default {ROWS:,}; --quick {QUICK_ROWS:,})")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY)
    p.add_argument("--child", metavar="BASE_URL", help=argparse.SUPPRESS)  # internal: the measured process
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    if args.child:
        child(args.child, rows, args.concurrency, args.out)
        return 0

    log(f"# Peak memory of a {rows:,}-row run ({machine()})")
    log(f"simulator: no rate limit, no latency; engine: concurrency {args.concurrency}, one unlimited key, cache off; "
        "run in a child process")  # fmt: skip
    with SimServer("--rpm", "0", "--latency", "0", "--jitter", "0", "--error-rate", "0") as sim, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", sim.base_url, "--rows", str(rows),
               "--concurrency", str(args.concurrency), "--out", str(out)]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
        child_s = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            log(f"the child failed (exit {proc.returncode})")
            return 1
        r = json.loads(out.read_text(encoding="utf-8"))
        sim_requests = sim.totals()["requests"]

    done = r["ok"] + r["unparsed"]
    rate = done / r["wall_s"] if r["wall_s"] else 0.0
    peak = r["run_peak_hwm"] or r["run_peak_sampled"]
    total_peak = r["total_peak_hwm"] or r["total_peak_sampled"]
    log(f"run: state {r['state']}, {r['ok']:,} ok, {r['unparsed']:,} unparsed, {r['failed']:,} failed; simulator saw {sim_requests:,} requests")
    log(f"time: {r['wall_s']:.1f} s from start_run (sending {r['engine_s']:.1f} s) = {fmt_rate(rate)} rows/s; child process {child_s:.1f} s in all")
    log(f"input frame: {r['frame_bytes'] / MIB:,.1f} MiB (pandas, deep), built in {r['frame_s']:.2f} s; SQLite files {r['db_bytes'] / MIB:,.1f} MiB")
    log(f"RSS: baseline after imports {_mib(r['baseline_rss'])}; after building the frame {_mib(r['after_frame_rss'])}; "
        f"after the run {_mib(r['after_run_rss'])}")  # fmt: skip
    log(f"peak RSS during the run: VmHWM {_mib(r['run_peak_hwm'])}, sampled {_mib(r['run_peak_sampled'])}, ru_maxrss {_mib(r['run_peak_ru_maxrss'])}")
    log(
        f"peak RSS including the CSV export: VmHWM {_mib(r['total_peak_hwm'])}, sampled {_mib(r['total_peak_sampled'])}, ru_maxrss {_mib(r['total_peak_ru_maxrss'])}"
    )
    log("RSS and speed over the run (rows/s since the previous mark; a falling speed means a per-row cost that grows):")
    prev_done, prev_t = 0, 0.0
    for d, t, rss in r["timeline"]:
        seg = (d - prev_done) / (t - prev_t) if t > prev_t else 0.0
        log(f"  {d:>9,} rows at {t:6.1f} s: RSS {rss / MIB:,.0f} MiB, {fmt_rate(seg)} rows/s")
        prev_done, prev_t = d, t
    log(f"results_table: {r['table_s']:.2f} s ({r['table_rows']:,} rows, {r['table_ok']:,} ok); to_csv_bytes: {r['csv_s']:.2f} s "
        f"({r['csv_bytes'] / MIB:,.1f} MiB)")  # fmt: skip
    complete = r["table_rows"] == rows and r["table_ok"] == rows
    finish(
        [
            SummaryRow(f"Peak RSS, {rows:,}-row run (engine process alone)", f"{_mib(peak)} (baseline after imports {_mib(r['baseline_rss'])})", "well under 1 GiB (< 512 MiB)", verdict(peak < TARGET_BYTES // 2 and complete)),
            SummaryRow(f"Speed of the same run (no limits, concurrency {args.concurrency})", f"{fmt_rate(rate)} rows/s ({r['wall_s']:.0f} s)", "(reference)", verdict(None)),
            SummaryRow(f"Results table + CSV of {rows:,} rows", f"{r['table_s'] + r['csv_s']:.1f} s ({r['table_s']:.1f} + {r['csv_s']:.1f}); peak RSS with it {_mib(total_peak)}", "(reference)", verdict(None)),
        ],
        args.summary_json,
    )  # fmt: skip
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
