"""The reference for high_rate.py: the smallest honest script that does the engine's job, with no
engine. Read a CSV, send every row through `openai.AsyncOpenAI` (aiohttp transport, SDK retries
off), one client per key, each key paced by its own aiolimiter at the engine's rate, at most
`--concurrency` requests in flight, and write the answers to a CSV. Nothing stored, no retries.

    python benchmarks/bare_loop.py IN.csv OUT.csv --base-url URL --keys k1,k2 --rpm 6000 --concurrency 64

It imports only the SDK, aiolimiter and the standard library (not `core`, not pandas), so its
start-up is as short as a script's can be. Prints one JSON line: counts and in-process timings.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402 -- the first timestamp is taken before any import
import asyncio  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import openai  # noqa: E402
from aiolimiter import AsyncLimiter  # noqa: E402

TEMPLATE = "Compute {question}. Reply with the number only."


def limiter(rpm: float, safety: float, burst_s: float) -> AsyncLimiter:
    """The same bucket the engine builds for a key (core/limits.py: request_limiter)."""
    per_s = rpm / 60.0 * safety
    burst = max(1.0, per_s * burst_s)
    return AsyncLimiter(burst, burst / per_s)


async def run(rows: list[dict[str, str]], a: argparse.Namespace) -> dict[str, object]:
    keys = [k for k in a.keys.split(",") if k]
    clients = [openai.AsyncOpenAI(base_url=a.base_url, api_key=k, max_retries=0, http_client=openai.DefaultAioHttpClient()) for k in keys]
    limiters = [limiter(a.rpm, a.safety, a.burst_s) for _ in keys]
    answers: list[str | None] = [None] * len(rows)
    failures: dict[str, int] = {}
    queue = iter(range(len(rows)))

    async def worker(w: int) -> None:
        # Workers are dealt out to the keys in turn: each key gets concurrency / keys of them.
        client, pace = clients[w % len(keys)], limiters[w % len(keys)]
        for i in queue:
            await pace.acquire()
            messages = [{"role": "user", "content": TEMPLATE.replace("{question}", rows[i]["question"])}]
            try:
                r = await client.chat.completions.create(model=a.model, messages=messages)  # type: ignore[arg-type]
            except openai.APIStatusError as exc:
                failures[str(exc.status_code)] = failures.get(str(exc.status_code), 0) + 1
                continue
            except openai.OpenAIError as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                continue
            answers[i] = r.choices[0].message.content if r.choices else None

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(w) for w in range(a.concurrency)))
    finally:
        send_s = time.perf_counter() - t0
        for c in clients:
            await c.close()
    with open(a.output, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow([*rows[0].keys(), "output"] if rows else ["output"])
        for row, answer in zip(rows, answers):
            out.writerow([*row.values(), answer])
    return {"ok": sum(x is not None for x in answers), "failures": failures, "send_s": send_s}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--base-url", required=True)
    p.add_argument("--model", default="simulated")
    p.add_argument("--keys", required=True, help="comma-separated")
    p.add_argument("--rpm", type=float, required=True, help="per key")
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--safety", type=float, default=0.98, help="pace at this fraction of rpm (the engine's RATE_SAFETY)")
    p.add_argument("--burst-s", type=float, default=0.5, help="bucket size in seconds of rate (the engine's REQUEST_BURST_S)")
    a = p.parse_args()
    t_imported = time.perf_counter()
    with open(a.input, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    result = asyncio.run(run(rows, a))
    result.update(rows=len(rows), import_s=t_imported - T_START, total_s=time.perf_counter() - T_START)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
