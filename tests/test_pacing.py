"""Pacing when the engine's loop is starved, on the virtual clock (tests/vclock.py).

In the app the engine's loop shares its process and the GIL with Streamlit, and two cores with the
browser: for a second or two at a time every turn of the loop can take a few hundred milliseconds.
A key's limiter paces on the clock, the provider counts requests as they arrive, and in between a
request needs several turns of the loop (the SDK, the HTTP client, the connection). Whatever the
limiter lets out while the loop is starved must not reach the provider all at once when the loop
is fast again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2

from core.engine import BatchEngine
from core.keys import KeyEntry
from core.limits import GateRegistry
from core.progress import ProgressTracker
from core.simulator import KeyStats, Simulator, SimulatorConfig
from core.spec import RunSpec
from core.store import RunStore
from tests.conftest import arithmetic_frame
from tests.vclock import vrun

RPM = 600
ROWS = 120
WIRE_TURNS = 10  # turns of the loop a request takes from the SDK to the provider (HTTP client, connection)
SPEC = RunSpec(template="Compute {question}. Reply with the number only.", concurrency=16, use_cache=False)


def two_runs_sharing_two_keys(tmp_path: Path, starved: tuple[float, float, float]) -> dict[str, KeyStats]:
    """Two runs of ROWS rows on one loop, both using keys k1 and k2 at RPM; from `start` to `end`
    (virtual seconds) every turn of the loop costs `turn_s`. Returns what the provider saw."""
    start, end, turn_s = starved

    async def main() -> dict[str, KeyStats]:
        loop = asyncio.get_running_loop()
        sim = Simulator(SimulatorConfig(rpm=RPM, latency_s=0.05, latency_jitter_s=0.01, error_rate=0.0), clock=loop.time)
        provider = sim.transport()

        async def wire(request: httpx2.Request) -> httpx2.Response:
            for _ in range(WIRE_TURNS):
                await asyncio.sleep(0)
            return await provider.handle_async_request(request)

        store = RunStore(tmp_path / "data")
        gates = GateRegistry()  # one registry for both runs, as the app's runner has
        keys = [KeyEntry("Test", "http://sim.test/v1", "simulated", name, RPM) for name in ("k1", "k2")]
        engines = []
        for who in range(2):
            frame = arithmetic_frame(ROWS, start=1 + 1000 * who)
            run_id = store.create_run(SPEC, frame, [k.info() for k in keys])
            engines.append(
                BatchEngine(
                    run_id=run_id,
                    store=store,
                    spec=SPEC,
                    columns=list(frame.columns),
                    cells=list(frame.itertuples(index=False, name=None)),
                    rows=store.pending_rows(run_id),
                    keys=keys,
                    gates=gates,
                    tracker=ProgressTracker(run_id, ROWS, [k.info() for k in keys]),
                    client_factory=lambda entry, timeout: sim.client(
                        entry.api_key, timeout=timeout, max_retries=0, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(wire))
                    ),
                )  # fmt: skip
            )
        loop.call_at(start, setattr, loop, "turn_s", turn_s)
        loop.call_at(end, setattr, loop, "turn_s", 0.0)
        try:
            assert await asyncio.gather(*(e.run() for e in engines)) == ["done", "done"]
        finally:
            store.close()
        return sim.stats()

    return vrun(main)


def test_two_runs_sharing_two_keys_get_no_429_after_the_engine_loop_was_starved(tmp_path: Path) -> None:
    # Three seconds in, every turn of the loop takes 0.1 s for two seconds (the browser test saw
    # 0.1-2.3 s); the provider allows RPM/60 per second with a second's burst.
    stats = two_runs_sharing_two_keys(tmp_path, starved=(3.0, 5.0, 0.1))
    assert sum(s.ok for s in stats.values()) == 2 * ROWS
    assert {k: s.rate_limited for k, s in stats.items()} == {"k1": 0, "k2": 0}
