"""The seed article's approach, for comparison: one global rate limiter for the whole pool, keys
taken round-robin, every row gathered at once, each failure caught and the row lost.

Same workload as throughput.py: the simulator (own process, loopback) enforces 600 requests/min on
each of 4 keys and answers after 0.2 s +/- 0.02; 2,000 rows. The seed approach:

    limiter = AsyncLimiter(40, 1)                   # exactly the sum of the keys' limits
    async def one(i):
        async with limiter:
            try: return await clients[i % 4].chat.completions.create(...)
            except Exception: return None           # the row is lost
    await asyncio.gather(*(one(i) for i in range(n)))

run twice: with the SDK's retries off (`max_retries=0`; the article had no retry policy of its
own) and with the SDK default (`max_retries=2`: the article went through langchain, whose default
retries). One SDK client per key (aiohttp transport), created once. Next to it, the engine's
numbers on the same workload (measured here again, fresh simulator each time).

Then the same with one dead key (the simulator answers 401 to key 4): the seed approach keeps
sending a quarter of the rows to it; the engine drops the key after its first 401 and gives the
row to another key. Printed: rows/s, 429s and lost rows for each.

    python benchmarks/seed_approach.py            # 6 runs of ~50 s, ~6 minutes
    python benchmarks/seed_approach.py --quick    # 200 rows
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai
from aiolimiter import AsyncLimiter

from benchmarks.common import MODEL, TEMPLATE, SimServer, SummaryRow, base_parser, finish, key_names, log, machine, verdict
from benchmarks.throughput import CONCURRENCY, KEYS, LATENCY_S, QUICK_ROWS, ROWS, RPM, Outcome, duplicate_answers, measure_engine, sim_args, theoretical_limit


async def seed_gather(base_url: str, keys: list[str], rows: int, max_retries: int) -> tuple[int, float, dict[str, int]]:
    """(rows answered, seconds, exceptions by type) for the seed article's approach."""
    limiter = AsyncLimiter(len(keys) * RPM / 60, 1)  # 4 x 600/min = 40 per second
    clients = [openai.AsyncOpenAI(base_url=base_url, api_key=k, max_retries=max_retries, http_client=openai.DefaultAioHttpClient()) for k in keys]
    errors: dict[str, int] = {}

    async def one(i: int) -> str | None:
        client = clients[i % len(clients)]
        async with limiter:
            try:
                r = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": TEMPLATE.format(question=f"{i} + {i * 2}")}])
                return r.choices[0].message.content
            except Exception as exc:  # noqa: BLE001 -- the article's per-row `except`: the row is lost
                name = type(exc).__name__
                errors[name] = errors.get(name, 0) + 1
                return None

    try:
        t0 = time.perf_counter()
        answers = await asyncio.gather(*(one(i) for i in range(rows)))
        seconds = time.perf_counter() - t0
    finally:
        for c in clients:
            await c.close()
    return sum(a is not None for a in answers), seconds, errors


def measure_seed(rows: int, *, max_retries: int, dead_keys: int = 0) -> Outcome:
    names = key_names(KEYS)
    dead = names[KEYS - dead_keys :] if dead_keys else []
    alive = KEYS - len(dead)
    with SimServer(*sim_args(dead_keys=dead)) as sim:
        ok, seconds, errors = asyncio.run(seed_gather(sim.base_url, names, rows, max_retries))
        stats = sim.stats()
        totals = sim.totals(stats)
    label = f"seed, max_retries={max_retries}" + (f", {dead_keys} dead key" if dead_keys else "")
    if errors:
        log(f"  {label}: exceptions caught: {errors}")
    return Outcome(
        label, rows, seconds, ok, theoretical_limit(alive, RPM, CONCURRENCY, LATENCY_S), totals["requests"], totals["rate_limited"],
        totals["unauthorized"], duplicate_answers(stats), sim.per_key(stats),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__).parse_args(argv)
    rows = QUICK_ROWS if args.quick else ROWS
    log(f"# The seed article's approach vs the engine ({machine()})")
    log(f"{KEYS} keys x {RPM}/min at the simulator, latency {LATENCY_S} s, {rows:,} rows; seed: AsyncLimiter({KEYS * RPM // 60}, 1), "
        f"round-robin keys, gather over every row; engine: concurrency {CONCURRENCY}, told {RPM}/min per key")  # fmt: skip
    log("rows/s counts rows answered ok; with a dead key the limit is that of the 3 live keys (30 rows/s)")
    results: dict[str, Outcome] = {}
    for name, fn in (
        ("seed0", lambda: measure_seed(rows, max_retries=0)),
        ("seed2", lambda: measure_seed(rows, max_retries=2)),
        ("engine", lambda: measure_engine(rows, label="engine")),
        ("seed0_dead", lambda: measure_seed(rows, max_retries=0, dead_keys=1)),
        ("seed2_dead", lambda: measure_seed(rows, max_retries=2, dead_keys=1)),
        ("engine_dead", lambda: measure_engine(rows, dead_keys=1, label="engine, 1 dead key")),
    ):
        out = fn()
        results[name] = out
        log(out.line())
    log()
    log("| workload | approach | rows/s (of limit) | requests sent | 429s | 401s | lost rows |")
    log("|---|---|---|---|---|---|---|")
    for name, o in results.items():
        workload = "1 dead key" if name.endswith("_dead") else "4 good keys"
        approach = o.label.split(",")[0] + (", max_retries=" + o.label.split("max_retries=")[1].split(",")[0] if "max_retries" in o.label else "")
        log(
            f"| {workload} | {approach} | {o.rows_per_s:.1f} ({o.fraction:.0%}) | {o.requests:,} | {o.rate_limited:,} ({o.rate_limited_frac:.1%}) | {o.unauthorized:,} | {o.lost:,} |"
        )

    s0, s2, e = results["seed0"], results["seed2"], results["engine"]
    d0, d2, ed = results["seed0_dead"], results["seed2_dead"], results["engine_dead"]
    finish(
        [
            SummaryRow("Seed approach, no retries: lost rows / 429s", f"{s0.lost:,} lost, {s0.rate_limited:,} 429s ({s0.rate_limited_frac:.1%}), {s0.rows_per_s:.1f} rows/s", "(comparison)", verdict(None)),
            SummaryRow("Seed approach, SDK retries (2): lost rows / 429s", f"{s2.lost:,} lost, {s2.rate_limited:,} 429s ({s2.rate_limited_frac:.1%}), {s2.rows_per_s:.1f} rows/s", "(comparison)", verdict(None)),
            SummaryRow("Engine, same workload: lost rows / 429s", f"{e.lost:,} lost, {e.rate_limited:,} 429s ({e.rate_limited_frac:.1%}), {e.rows_per_s:.1f} rows/s", "0 lost, fewer 429s than seed", verdict(e.lost == 0 and e.rate_limited <= min(s0.rate_limited, s2.rate_limited))),
            SummaryRow("One dead key: rows lost, seed (0 / 2 retries)", f"{d0.lost:,} / {d2.lost:,} of {rows:,}", "(comparison)", verdict(None)),
            SummaryRow("One dead key: rows lost, engine", f"{ed.lost:,} of {rows:,} ({ed.unauthorized} request(s) to the dead key)", "0", verdict(ed.lost == 0)),
        ],
        args.summary_json,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
