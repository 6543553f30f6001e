"""The virtual clock the pacing and engine tests run on: exact, instant, and loud about hangs."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiolimiter import AsyncLimiter

from core.simulator import Simulator, SimulatorConfig
from tests.vclock import VirtualClockHang, vrun


def test_sleeps_take_virtual_time_only():
    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    t0 = time.monotonic()
    assert vrun(main) == pytest.approx(3600)
    assert time.monotonic() - t0 < 30  # a generous sanity bound: an hour of sleep, not an hour of test


def test_aiolimiter_paces_exactly_on_the_virtual_clock():
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = AsyncLimiter(1, 0.1)
        times = []
        for _ in range(50):
            await limiter.acquire()
            times.append(loop.time())
        return times

    times = vrun(main)
    assert times[0] == pytest.approx(0, abs=1e-6) and times[-1] == pytest.approx(4.9)
    assert all(b - a == pytest.approx(0.1) for a, b in zip(times[1:], times[2:]))


def test_a_starved_loop_makes_every_turn_cost_time_and_timers_come_due_meanwhile():
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        loop.turn_s = 0.3
        times = []
        for _ in range(3):
            await asyncio.sleep(0)  # one turn
            times.append(loop.time())
        await asyncio.sleep(0.1)  # due during the next slow turn; waking the task takes one more
        times.append(loop.time())
        loop.turn_s = 0.0
        await asyncio.sleep(1.0)
        times.append(loop.time())
        return times

    assert vrun(main) == pytest.approx([0.3, 0.6, 0.9, 1.5, 2.5], abs=1e-6)


def test_threads_still_complete_and_take_no_virtual_time():
    async def main() -> float:
        await asyncio.to_thread(time.sleep, 0.02)
        return asyncio.get_running_loop().time()

    assert vrun(main) == pytest.approx(0, abs=1e-3)


def test_the_simulator_answers_in_virtual_time():
    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        sim = Simulator(SimulatorConfig(latency_s=2.0, latency_jitter_s=0.0, error_rate=0.0), clock=loop.time)
        client = sim.client("k", max_retries=0)
        reply = await client.chat.completions.create(model="simulated", messages=[{"role": "user", "content": "2 + 3"}])
        await client.close()
        return reply.choices[0].message.content, loop.time()

    content, elapsed = vrun(main)
    assert content == "5" and elapsed == pytest.approx(2.0)


def test_a_wait_on_nothing_is_reported_as_a_hang():
    async def main() -> None:
        await asyncio.Event().wait()

    with pytest.raises(VirtualClockHang, match="nothing scheduled"):
        vrun(main, idle_real_s=0.2)


def test_a_loop_that_never_finishes_is_reported_as_a_hang():
    async def main() -> None:
        while True:
            await asyncio.sleep(60)

    with pytest.raises(VirtualClockHang, match="never finishes"):
        vrun(main, max_virtual_s=3600)
