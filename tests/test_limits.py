"""Pacing, measured: every test records the virtual times at which requests pass a key's gate (and
what the simulated provider answered) and asserts on those, on the virtual clock of tests/vclock.py."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import openai
import pytest

from core import constants as C
from core.errors import parse_retry_after
from core.gate_view import PACE_TEXTS, PaceSource
from core.keys import KeyEntry, make_pool
from core.limits import GateRegistry, KeyGate
from core.rate_headers import read_rate_headers
from core.simulator import Simulator, SimulatorConfig
from tests.test_engine import max_in_window
from tests.vclock import vrun

MESSAGES = [{"role": "user", "content": "1 + 1"}]


def info(key: str, rpm: int | None = None, tpm: int | None = None, *, group: str | None = None, provider: str = "T", base_url: str = "http://x.test/v1"):
    return KeyEntry(provider, base_url, "m", key, rpm, tpm, group).info()


def between(times: list[float], start: float, end: float) -> int:
    return sum(1 for t in times if start <= t < end)


@dataclass
class Traffic:
    """What passed each gate when (`sent`) and when the provider answered 429 (`limited`)."""

    sent: dict[str, list[float]] = field(default_factory=dict)
    limited: dict[str, list[float]] = field(default_factory=dict)

    def all_sent(self) -> list[float]:
        return sorted(t for ts in self.sent.values() for t in ts)

    def all_limited(self) -> list[float]:
        return sorted(t for ts in self.limited.values() for t in ts)


async def drive(sim: Simulator, gates: dict[str, KeyGate], seconds: float, workers: int = 8) -> Traffic:
    """Send as fast as each key's gate allows for `seconds`, as the engine will: `ready`, send,
    then `observe` the answer's headers, or `rate_limited` on a 429."""
    loop = asyncio.get_running_loop()
    clients = {key: sim.client(key, max_retries=0) for key in gates}
    start = loop.time()
    traffic = Traffic({key: [] for key in gates}, {key: [] for key in gates})

    async def worker(key: str) -> None:
        gate, client = gates[key], clients[key]
        while loop.time() - start < seconds:
            await gate.ready()
            sent = loop.time()
            traffic.sent[key].append(sent - start)
            try:
                raw = await client.chat.completions.with_raw_response.create(model="simulated", messages=MESSAGES)
            except openai.RateLimitError as exc:
                traffic.limited[key].append(loop.time() - start)
                gate.rate_limited(parse_retry_after(exc.response.headers), exc.response.headers)
            else:
                gate.observe(raw.headers, ok=True, latency_s=loop.time() - sent)

    await asyncio.gather(*(worker(key) for key in gates for _ in range(workers)))
    for client in clients.values():
        await client.close()
    return traffic


def simulate(config: SimulatorConfig, keys: dict[str, object], seconds: float, **options) -> tuple[Traffic, dict[str, KeyGate]]:
    """Run `drive` on a fresh virtual clock: `keys` maps each key to its KeyInfo."""

    async def main() -> tuple[Traffic, dict[str, KeyGate]]:
        loop = asyncio.get_running_loop()
        registry = GateRegistry()
        gates = {key: registry.gate(k) for key, k in keys.items()}
        return await drive(Simulator(config, clock=loop.time), gates, seconds, **options), gates

    return vrun(main)


def sim_config(rpm: int, **options) -> SimulatorConfig:
    return SimulatorConfig(**{"rpm": rpm, "latency_s": 0.2, "latency_jitter_s": 0.05, "error_rate": 0.0, **options})


# --- A set pace ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rpm", [1, 60, 600, 6000])
def test_a_set_rate_passes_requests_evenly_after_at_most_a_tenth_of_a_second_of_burst(rpm):
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        gate = GateRegistry().gate(info("k", rpm=rpm))
        times: list[float] = []

        async def worker() -> None:
            for _ in range(10):
                await gate.ready()
                times.append(loop.time())

        await asyncio.gather(*(worker() for _ in range(20)))
        return times

    times = vrun(main)
    per_s = rpm / 60 * C.RATE_SAFETY
    burst = max(1, int(per_s * C.REQUEST_BURST_S))
    assert between(times, 0, 1e-6) == burst  # never a minute's worth up front
    gaps = [b - a for a, b in zip(times[burst:], times[burst + 1 :])]
    assert all(g == pytest.approx(1 / per_s, abs=1e-6) for g in gaps)
    assert max_in_window(times, 60) <= rpm


def test_a_ceiling_is_never_exceeded_even_when_the_provider_allows_more():
    for headers in (True, False):
        traffic, gates = simulate(sim_config(600, limit_headers=headers), {"k": info("k", rpm=300)}, 180)
        sent = traffic.all_sent()
        assert max_in_window(sent, 60) <= 300
        assert between(sent, 60, 180) >= 2 * 300 * 0.97  # and it goes at the ceiling
        assert not traffic.all_limited()
        assert gates["k"].view().source is PaceSource.SET


def test_a_later_run_with_other_limits_keeps_the_gate_and_opens_no_burst():
    async def main() -> float:
        loop = asyncio.get_running_loop()
        registry = GateRegistry()
        gate = registry.gate(info("k", rpm=6000))
        for _ in range(int(6000 / 60 * C.RATE_SAFETY * C.REQUEST_BURST_S)):  # the whole burst, at once
            await gate.ready()
        full = loop.time()
        assert registry.gate(info("k", rpm=3000)) is gate and gate.rpm == 3000
        await gate.ready()
        return loop.time() - full

    # A fresh limiter for the new rate would let the next request go at once; the bucket kept its
    # level, so it waits for the new pace.
    assert vrun(main) >= 0.9 / (3000 / 60 * C.RATE_SAFETY)


def test_a_gate_made_before_its_loop_runs_goes_by_that_loops_clock():
    gate = GateRegistry().gate(info("k", rpm=60))  # as the engine's registry is, before its loop

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        times = []
        for _ in range(3):
            await gate.ready()
            times.append(loop.time())
        return times

    assert vrun(main) == [pytest.approx(t, abs=1e-6) for t in (0, 1 / C.RATE_SAFETY, 2 / C.RATE_SAFETY)]


def test_a_token_limit_paces_by_the_estimated_tokens_and_a_huge_prompt_still_goes():
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        gate = GateRegistry().gate(info("k", rpm=60_000, tpm=600))  # 10 tokens/s, 60 in the bucket
        times = []
        for tokens in (30, 30, 30, 30, 10_000, 30):
            await gate.ready(tokens=tokens)
            times.append(loop.time())
        return times

    times = vrun(main)
    per_s = 600 / 60 * C.RATE_SAFETY
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert times[0] == pytest.approx(0, abs=1e-6)
    assert gaps[1:3] == [pytest.approx(30 / per_s, abs=1e-6)] * 2  # 30 tokens' worth apart
    assert gaps[3] == pytest.approx(C.TOKEN_BURST_S, abs=1e-6)  # a whole bucket, not 10,000 tokens' worth
    assert gaps[4] == pytest.approx(30 / per_s, abs=1e-6)


# --- Learning from the provider ------------------------------------------------------------------


@pytest.mark.parametrize("limit, provider", [(600, "T"), (60, "OpenAI")])  # starting below the limit, and above it
def test_the_limit_is_learnt_from_the_providers_headers_within_seconds(limit, provider):
    traffic, gates = simulate(sim_config(limit), {"k": info("k", provider=provider)}, 120)
    sent = traffic.all_sent()
    assert between(sent, 10, 120) == pytest.approx(110 * limit / 60 * C.RATE_SAFETY, rel=0.02)
    assert len(traffic.all_limited()) <= 4  # at most the first burst, before the first answer
    view = gates["k"].view()
    assert (view.source, view.limit_per_min) == (PaceSource.PROVIDER, limit)
    assert view.text == f"limit {limit}/min from the provider"


@pytest.mark.parametrize("retry_after", [True, False])
def test_without_headers_the_limit_is_learnt_from_429s_which_grow_rarer(retry_after):
    traffic, gates = simulate(sim_config(300, limit_headers=False, retry_after=retry_after), {"k": info("k")}, 900)
    sent, limited = traffic.all_sent(), traffic.all_limited()
    assert between(sent, 300, 900) / 10 == pytest.approx(300, rel=0.06)  # settles near the limit ...
    assert max_in_window(sent[len(sent) // 3 :], 60) <= 300 * 1.05  # ... and never far above it
    first, second, third = (between(limited, a, a + 300) for a in (0, 300, 600))
    assert first <= 8 and second <= first and third <= max(second, 1)
    assert len(limited) < 0.01 * len(sent)
    view = gates["k"].view()
    assert view.source is PaceSource.LEARNT and view.text.startswith("about ") and view.text.endswith("/min, learnt")


def test_a_key_busy_elsewhere_slows_down_before_its_bucket_runs_dry():
    async def main():
        gate = GateRegistry().gate(info("k"))
        alone = {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "599", "x-ratelimit-reset-requests": "100ms"}
        gate.observe(alone, ok=True)
        at_the_limit = gate.rate_per_s
        busy = {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "50", "x-ratelimit-reset-requests": "55s"}
        gate.observe(busy, ok=True)
        return at_the_limit, gate.rate_per_s, gate.view()

    at_the_limit, busy, view = vrun(main)
    assert at_the_limit == pytest.approx(600 / 60 * C.RATE_SAFETY)
    assert busy == pytest.approx(51 / 55)  # what is left, spread until the reset
    assert view.text == "56/min of the provider's 600/min: the key is busy elsewhere"


# --- Keys that share one account's limit ---------------------------------------------------------


def test_grouped_keys_share_one_gate_per_base_url():
    registry = GateRegistry()
    a, b = (registry.gate(info(k, group="team")) for k in ("a", "b"))
    assert a is b
    assert registry.gate(info("a", group="team", base_url="http://other.test/v1")) is not a
    assert registry.gate(info("c")) is not a and registry.gate(info("c")) is registry.gate(info("c"))
    pool = make_pool(["sk-1", "sk-2"], provider="OpenAI", base_url="https://api.openai.com/v1", model="m", shared_limit=True)
    assert pool[0].group == pool[1].group is not None
    other = make_pool(["sk-3", "sk-4"], provider="OpenAI", base_url="https://api.openai.com/v1", model="m", shared_limit=True)
    assert other[0].group != pool[0].group  # someone else's account is not ours


@pytest.mark.parametrize("headers", [True, False])
def test_grouped_keys_on_one_account_are_paced_together(headers):
    keys = {k: info(k, group="team") for k in ("a", "b", "c")}
    config = sim_config(600, limit_headers=headers, shared_limit_groups=(frozenset(keys),))
    traffic, gates = simulate(config, keys, 180)
    sent = traffic.all_sent()
    assert between(sent, 60, 180) / 2 == pytest.approx(600, rel=0.05)
    assert len(traffic.all_limited()) <= (0 if headers else 8)


@pytest.mark.parametrize("headers", [True, False])
def test_ungrouped_keys_on_one_account_settle_within_its_limit(headers):
    keys = {k: info(k) for k in ("a", "b", "c")}
    config = sim_config(600, limit_headers=headers, shared_limit_groups=(frozenset(keys),))
    traffic, _ = simulate(config, keys, 300)
    sent, limited = traffic.all_sent(), traffic.all_limited()
    settled = [t for t in sent if t >= 120]
    assert 0.8 * 600 <= len(settled) / 3 <= 600 * 1.03  # attempts, 429s included
    assert max_in_window(settled, 60) <= 600 * 1.03
    assert between(limited, 120, 300) <= 0.01 * len(settled)  # no 429 storm
    assert between(limited, 0, 60) > between(limited, 240, 300)


def test_two_runs_on_one_key_share_its_gate_and_its_limit():
    async def main() -> Traffic:
        loop = asyncio.get_running_loop()
        registry = GateRegistry()
        sim = Simulator(sim_config(600), clock=loop.time)
        first, second = registry.gate(info("k")), registry.gate(info("k"))
        assert first is second
        one, two = await asyncio.gather(drive(sim, {"k": first}, 60), drive(sim, {"k": second}, 60))
        return Traffic({"one": one.sent["k"], "two": two.sent["k"]}, {"one": one.limited["k"], "two": two.limited["k"]})

    traffic = vrun(main)
    assert between(traffic.all_sent(), 10, 60) == pytest.approx(50 * 10 * C.RATE_SAFETY, rel=0.02)
    assert len(traffic.all_limited()) == 0


# --- Cool-downs and cancellation -----------------------------------------------------------------


def test_a_429_cools_the_key_for_as_long_as_the_provider_said_then_paces_without_a_burst():
    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        gate = GateRegistry().gate(info("k", rpm=6000))
        until = gate.rate_limited(2.0, None)
        assert gate.rate_limited(0.5, None) == until  # a shorter wait never shortens a longer one
        times = []
        for _ in range(3):
            await gate.ready()
            times.append(loop.time())
        return times, until

    times, until = vrun(main)
    assert until == pytest.approx(2.0) and times[0] == pytest.approx(2.0)
    assert times[1] - times[0] == pytest.approx(times[2] - times[1]) and times[1] > times[0]  # one, then the pace


def test_without_a_retry_header_cool_downs_grow_until_a_request_succeeds():
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        gate = GateRegistry(rng=random.Random(1)).gate(info("k"))
        waits = []
        for _ in range(5):
            waits.append(gate.rate_limited(None, None) - loop.time())
            await gate.ready()
        gate.observe(None, ok=True)
        waits.append(gate.rate_limited(None, None) - loop.time())
        return waits

    waits = vrun(main)
    assert waits[4] > waits[0] * 4  # backoff grows ...
    assert waits[5] < waits[4] and gate_backoff_range(1)[0] <= waits[5] <= gate_backoff_range(1)[1]  # ... and starts over


def gate_backoff_range(attempt: int) -> tuple[float, float]:
    cap = min(C.BACKOFF_MAX_S, C.BACKOFF_BASE_S * 2 ** (attempt - 1)) * C.RATE_LIMIT_DEFAULT_COOLDOWN_S
    return cap / 2, cap


def test_a_cancelled_wait_takes_no_allowance_and_keeps_the_queue_in_order():
    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        gate = GateRegistry().gate(info("k", rpm=60))  # 0.98 per second
        passed: dict[str, float] = {}

        async def request(name: str) -> None:
            await gate.ready()
            passed[name] = loop.time()

        await request("first")
        waiting = [asyncio.create_task(request(name)) for name in ("second", "cancelled", "third")]
        await asyncio.sleep(0.5)
        waiting[1].cancel()
        cooling = asyncio.create_task(request("after cooling"))
        await asyncio.gather(*waiting, return_exceptions=True)
        gate.rate_limited(10.0, None)
        await asyncio.sleep(1)
        cooling.cancel()  # cancelled while the key cools: nothing taken either
        await request("last")
        return passed

    passed = vrun(main)
    interval = 60 / (60 * C.RATE_SAFETY)
    assert passed["first"] == pytest.approx(0, abs=1e-6)
    assert passed["second"] == pytest.approx(interval) and passed["third"] == pytest.approx(2 * interval)
    assert "cancelled" not in passed and "after cooling" not in passed
    assert passed["last"] == pytest.approx(2 * interval + 10)


def test_ready_never_returns_while_the_key_cools():
    async def main() -> list[tuple[float, float]]:
        loop = asyncio.get_running_loop()
        gate = GateRegistry().gate(info("k", rpm=600))
        seen = []

        async def worker() -> None:
            for _ in range(20):
                await gate.ready()
                seen.append((loop.time(), gate.cooling_for()))
                if len(seen) % 7 == 0:
                    gate.rate_limited(1.5, None)

        await asyncio.gather(*(worker() for _ in range(4)))
        return seen

    assert all(cooling == 0 for _, cooling in vrun(main))


# --- What the engine and the UI read -------------------------------------------------------------


def test_concurrency_follows_the_pace_and_the_latency():
    async def main() -> tuple[int, int, int]:
        gate = GateRegistry().gate(info("k", rpm=600))
        before = gate.concurrency_for(64)  # 9.8/s x the assumed 1 s x 1.5
        for latency in (0.5, 0.5, 0.5):
            gate.observe(None, ok=True, latency_s=latency)
        return before, gate.concurrency_for(64), gate.concurrency_for(4)

    assert vrun(main) == (15, 8, 4)


@pytest.mark.parametrize(
    "headers, kind, expected",
    [
        ({"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms"}, "requests", 500 / 60),
        ({"x-ratelimit-limit-tokens": "200000", "x-ratelimit-remaining-tokens": "150000", "x-ratelimit-reset-tokens": "15s"}, "tokens", 200_000 / 60),
        # requests per day, as Groq counts them: the refill is what matters
        ({"x-ratelimit-limit-requests": "14400", "x-ratelimit-remaining-requests": "14370", "x-ratelimit-reset-requests": "2m59.56s"}, "requests", 30 / 179.56),
        ({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "60"}, "requests", 1.0),
        ({"x-ratelimit-limit-requests": "60"}, "requests", None),
        ({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "1"}, "requests", None),
        ({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "1735689600"}, "requests", None),
        ({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "soon"}, "requests", None),
        ({"x-ratelimit-limit-requests": "0", "x-ratelimit-remaining-requests": "0"}, "requests", None),
        ({}, "requests", None),
    ],
)
def test_rate_limit_headers_are_read_into_a_rate(headers, kind, expected):
    reading = read_rate_headers(headers, kind, now=0.0)
    assert (reading.rate_per_s() if reading else None) == (pytest.approx(expected) if expected is not None else None)


def test_the_view_says_where_the_pace_comes_from():
    async def main():
        registry = GateRegistry()
        starting = registry.gate(info("a", provider="DeepSeek")).view()
        gate = registry.gate(info("b", rpm=300))
        gate.rate_limited(30, None)
        cooling = gate.view()
        return starting, cooling

    starting, cooling = vrun(main)
    assert starting.text == "starting at 60/min, learning" and starting.limit_per_min is None
    assert cooling.source is PaceSource.LEARNT and cooling.text == "about 206/min, learnt; cooling down for 30 s"
    assert {code for code, _ in cooling.describe()} <= set(PACE_TEXTS)
