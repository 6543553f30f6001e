from __future__ import annotations

import asyncio

import pytest

from core import constants as C
from core.keys import KeyEntry
from core.limits import GateRegistry, request_limiter


@pytest.mark.parametrize("rpm", [1, 60, 600, 6000, 60000])
def test_a_key_is_paced_evenly_with_at_most_half_a_second_of_burst(rpm):
    limiter = request_limiter(rpm)
    per_s = limiter.max_rate / limiter.time_period
    assert per_s == pytest.approx(rpm / 60 * C.RATE_SAFETY)
    assert per_s <= rpm / 60  # never above the stated limit
    # the bucket holds one request, or half a second's worth: never a minute's worth up front
    assert limiter.max_rate == pytest.approx(max(1.0, per_s * C.REQUEST_BURST_S))


def info(key: str, rpm: int = 60, tpm: int | None = None):
    return KeyEntry("T", "http://x.test/v1", "m", key, rpm, tpm).info()


async def test_every_run_using_a_key_shares_one_gate_and_new_limits_replace_old_ones():
    registry = GateRegistry()
    a = registry.gate(info("k1"))
    assert registry.gate(info("k1")) is a
    assert registry.gate(info("k2")) is not a
    old = a.requests
    assert registry.gate(info("k1", rpm=120)) is a and a.requests is not old and a.rpm == 120


async def test_a_429_cools_the_key_for_as_long_as_the_provider_said():
    gate = GateRegistry().gate(info("k"))
    loop = asyncio.get_running_loop()
    until = gate.cool_down(0.2)
    assert until == pytest.approx(loop.time() + 0.2, abs=0.05)
    assert 0.1 < gate.cooling_for() <= 0.2
    gate.cool_down(0.05)  # a shorter wait never shortens a longer one
    assert gate.cooling_for() > 0.1
    await gate.wait_until_cool()
    assert gate.cooling_for() == 0


async def test_without_a_retry_header_cool_downs_grow_until_a_request_succeeds():
    gate = GateRegistry().gate(info("k"))
    loop = asyncio.get_running_loop()
    first = gate.cool_down(None) - loop.time()
    gate.cool_until = 0
    for _ in range(4):
        gate.cool_down(None)
    fifth = gate.cool_until - loop.time()
    assert fifth > first
    gate.succeeded()
    assert gate.consecutive_429 == 0


async def test_a_prompt_larger_than_the_token_bucket_still_goes():
    gate = GateRegistry().gate(info("k", rpm=6000, tpm=600))
    await asyncio.wait_for(gate.acquire(tokens=10_000), 5)
