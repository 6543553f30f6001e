"""Engine overhead: the engine's requests/s against a simulator that answers at once, next to a
bare loop of SDK calls doing the same work, on the same machine, at the same concurrency.

The simulator (its own process, loopback) has no rate limit and no latency (`--rpm 0 --latency 0
--jitter 0`), so the only limit is CPU: both sides share the machine's cores with the simulator.

* bare loop: one `openai.AsyncOpenAI(max_retries=0, http_client=openai.DefaultAioHttpClient())`,
  `concurrency` workers taking pre-rendered prompts from one queue; nothing is stored.
* engine: the same prompts through `start_run` with one key whose rpm never limits (10,000,000),
  the same concurrency, response cache off; every row is parsed, counted and written to SQLite.
  Timed from `start_run` (which stores the input rows) to the end of the run.

Each is measured twice, alternating (bare, engine, bare, engine), and the best of each is kept:
on a 2-core machine the noise is in one direction only (something else took the CPU).
Printed: both rates and engine/bare (target >= 0.7).

    python benchmarks/ceiling.py                # 2 x 2 runs of ~10-20 s each
    python benchmarks/ceiling.py --rows 20000   # choose the size
    python benchmarks/ceiling.py --quick        # 1,000 rows, a smoke run
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from benchmarks.common import (
    MODEL,
    TEMPLATE,
    SimServer,
    SummaryRow,
    base_parser,
    finish,
    fmt_rate,
    key_entries,
    log,
    machine,
    question_frame,
    run_engine,
    verdict,
)
from core.template import PromptTemplate

CONCURRENCY = 32
ROWS = 12_000  # ~10-20 s each on a 2-core machine at the rates measured (see the report)
QUICK_ROWS = 1_000
UNLIMITED_RPM = 10_000_000
TARGET_RATIO = 0.7
ROUNDS = 2


@dataclass
class Timing:
    label: str
    rows: int
    ok: int
    seconds: float
    sim_requests: int
    cpu_s: float = 0.0  # CPU time of this process (every thread; the simulator is another process)
    detail: str = ""

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.ok * 1e6 if self.ok else 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def prompts_for(rows: int) -> list[list[dict[str, str]]]:
    """Exactly the messages the engine sends for each row."""
    frame = question_frame(rows)
    template = PromptTemplate(TEMPLATE)
    columns = [str(c) for c in frame.columns]
    return [template.messages(dict(zip(columns, r))) for r in frame.itertuples(index=False, name=None)]


async def bare_loop(base_url: str, messages: list[list[dict[str, str]]], concurrency: int) -> tuple[int, float]:
    """(answers received, seconds): `concurrency` workers on one queue, one SDK client."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0, http_client=openai.DefaultAioHttpClient())
    queue: asyncio.Queue[list[dict[str, str]]] = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        while True:
            try:
                m = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                r = await client.chat.completions.create(model=MODEL, messages=m)  # type: ignore[arg-type]
            except openai.OpenAIError as exc:
                log(f"  bare loop: request failed: {exc!r}")
                continue
            if r.choices and r.choices[0].message.content is not None:
                ok += 1

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok, time.perf_counter() - t0
    finally:
        await client.close()


def cpu_time() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure_bare(sim: SimServer, rows: int, concurrency: int) -> Timing:
    messages = prompts_for(rows)
    sim.reset()
    c0 = cpu_time()
    ok, seconds = asyncio.run(bare_loop(sim.base_url, messages, concurrency))
    return Timing("bare SDK loop", rows, ok, seconds, sim.totals()["requests"], cpu_time() - c0)


def measure_engine(sim: SimServer, rows: int, concurrency: int) -> Timing:
    frame = question_frame(rows)
    keys = key_entries(sim.base_url, ["ceiling-key"], UNLIMITED_RPM)
    sim.reset()
    c0 = cpu_time()
    run = run_engine(frame, keys, concurrency=concurrency, with_table=False)
    cpu = cpu_time() - c0
    detail = f"state {run.state}; sending alone {run.engine_s:.2f} s = {fmt_rate(run.send_rows_per_s)} rows/s"
    return Timing("engine", rows, run.ok + run.unparsed, run.wall_s, sim.totals()["requests"], cpu, detail)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--rows", type=int, default=None, help=f"rows per measurement (default {ROWS:,}; --quick {QUICK_ROWS:,})")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = p.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    conc = args.concurrency
    log(f"# Engine overhead ({machine()})")
    log(f"simulator: no rate limit, no latency; {rows:,} rows, concurrency {conc}; {ROUNDS} rounds, alternating, best kept")
    bare: list[Timing] = []
    engine: list[Timing] = []
    with SimServer("--rpm", "0", "--latency", "0", "--jitter", "0", "--error-rate", "0") as sim:
        # Warm up both paths (imports, first connections, SQLite file creation): not measured.
        measure_bare(sim, min(200, rows), conc)
        measure_engine(sim, min(200, rows), conc)
        for i in range(ROUNDS):
            for bucket, fn in ((bare, measure_bare), (engine, measure_engine)):
                t = fn(sim, rows, conc)
                bucket.append(t)
                extra = f"; {t.detail}" if t.detail else ""
                log(f"round {i + 1}: {t.label:<14} {t.ok:,}/{rows:,} ok in {t.seconds:6.2f} s = {fmt_rate(t.rate):>6} requests/s, "
                    f"{t.cpu_us_per_request:,.0f} us CPU each (simulator saw {t.sim_requests:,}){extra}")  # fmt: skip
    best_bare = max(bare, key=lambda t: t.rate)
    best_engine = max(engine, key=lambda t: t.rate)
    ratio = best_engine.rate / best_bare.rate if best_bare.rate else 0.0
    complete = all(t.ok == rows and t.sim_requests == rows for t in bare + engine)
    log(f"best bare loop {fmt_rate(best_bare.rate)} requests/s; best engine {fmt_rate(best_engine.rate)} rows/s; engine/bare = {ratio:.2f}")
    # CPU per request is far less sensitive than wall time to other load on a shared machine:
    # if the client is CPU-bound, bare/engine CPU per request predicts the speed ratio.
    cpu_bare = min(t.cpu_us_per_request for t in bare)
    cpu_engine = min(t.cpu_us_per_request for t in engine)
    cpu_ratio = cpu_bare / cpu_engine if cpu_engine else 0.0
    log(f"CPU per request (this process, least of the rounds): bare {cpu_bare:,.0f} us, engine {cpu_engine:,.0f} us "
        f"(+{cpu_engine - cpu_bare:,.0f} us a row); CPU-bound speed ratio they predict = {cpu_ratio:.2f}; load average now {os.getloadavg()[0]:.2f}")  # fmt: skip
    if not complete:
        log("WARNING: some runs did not get every row answered exactly once (see the rounds above)")
    finish(
        [
            SummaryRow(f"Bare SDK loop, no limits (concurrency {conc}, {rows:,} requests)", f"{fmt_rate(best_bare.rate)} requests/s", "(reference)", verdict(None)),
            SummaryRow("Engine, same workload (one unlimited key)", f"{fmt_rate(best_engine.rate)} rows/s = {ratio:.2f} x bare", ">= 0.7 x bare", verdict(ratio >= TARGET_RATIO and complete)),
            SummaryRow("Client CPU per request, engine vs bare", f"{cpu_engine:,.0f} vs {cpu_bare:,.0f} us (bare/engine = {cpu_ratio:.2f})", ">= 0.7", verdict(cpu_ratio >= TARGET_RATIO)),
        ],
        args.summary_json,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
