"""Limits shared through a real redis-server: the shared bucket holds every process's admissions,
a 429 met by one process cools the key for all, nothing secret reaches Redis, and a Redis that goes
away, or hangs, leaves each process pacing alone with a clear message, never a hang. Two
`SharedLimits` (or two gate registries) on one Redis are two processes; the clock is injected (the
script's `now`, and the virtual clock of tests/vclock.py), so every time asserted is exact. On the
virtual clock one request asks Redis at a time and with no client timeout: Redis answers in real
time, and any timer due meanwhile would move the clock on before the answer arrived.
tests/test_replicas.py runs real processes of the command line against one provider."""

from __future__ import annotations

import asyncio
import socket

import pytest

from core import constants as C
from core.keys import KeyEntry, demo_pool
from core.limits import GateRegistry
from core.shared_limits import SharedLimits, safe_url, shared_limits_from_env
from tests.conftest import RedisServer
from tests.vclock import vrun

SECRET = "sk-live-0123456789abcdefSECRET"


def entry(rpm: int | None = 600, key: str = SECRET) -> KeyEntry:
    return KeyEntry("Test", "http://provider.test/v1", "m", key, rpm)


class At:
    """A clock the test sets, read by the script as its `now`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_shared_bucket_admits_at_the_pace_whoever_asks(redis_server):
    async def main() -> list[tuple[float, str]]:
        clock = At()
        a, b = SharedLimits(redis_server.url, clock=clock), SharedLimits(redis_server.url, clock=clock)
        admitted = []
        for step in range(100):  # both processes ask every 10 ms for a second, at 10 requests/s
            clock.now = step / 100
            order = (("a", a), ("b", b)) if (step // 10) % 2 == 0 else (("b", b), ("a", a))
            for name, shared in order:
                answer = await shared.admit("k", 10.0, 1.0)
                assert answer is not None and not answer.cooling
                if answer.wait_s == 0:
                    admitted.append((clock.now, name))
                else:
                    assert 0 < answer.wait_s <= 0.1 + 1e-9
        await a.aclose()
        await b.aclose()
        return admitted

    admitted = asyncio.run(main())
    assert [t for t, _ in admitted] == pytest.approx([i / 10 for i in range(10)])  # 10 in the second, evenly, not 20
    assert [name for _, name in admitted] == ["a", "b"] * 5  # whoever asks first when the pace allows


def test_a_rate_limit_met_by_one_process_cools_the_key_for_all_then_one_request_goes_then_the_pace(redis_server):
    async def main() -> None:
        clock = At()
        a, b = SharedLimits(redis_server.url, clock=clock), SharedLimits(redis_server.url, clock=clock)
        assert (await a.admit("k", 10.0, 1.0)).wait_s == 0
        assert await a.cool_down("k", 5.0, 10.0, 1.0) == pytest.approx(5.0)
        clock.now = 1.0
        seen = await b.admit("k", 10.0, 1.0)
        assert seen.cooling and seen.wait_s == pytest.approx(4.0)
        assert await b.cool_down("k", 1.0, 10.0, 1.0) == pytest.approx(4.0)  # a shorter cool-down never cuts a longer one
        clock.now = 5.0
        assert (await b.admit("k", 10.0, 1.0)).wait_s == 0  # the end of the cool-down: one request
        assert (await a.admit("k", 10.0, 1.0)).wait_s == pytest.approx(0.1)  # then the pace, not a burst
        clock.now = 5.1
        assert (await a.admit("k", 10.0, 1.0)).wait_s == 0

    asyncio.run(main())


def test_the_token_bucket_is_shared_too_and_a_request_waits_for_both(redis_server):
    async def main() -> None:
        clock = At()
        a, b = SharedLimits(redis_server.url, clock=clock), SharedLimits(redis_server.url, clock=clock)
        assert (await a.admit("k", 100.0, 10.0, tokens=500, token_rate=100.0, token_capacity=600.0)).wait_s == 0
        assert (await b.admit("k", 100.0, 10.0, tokens=500, token_rate=100.0, token_capacity=600.0)).wait_s == pytest.approx(4.0)
        assert (await b.admit("k", 100.0, 10.0)).wait_s == 0  # a request with no token estimate waits for requests only
        clock.now = 4.0
        assert (await b.admit("k", 100.0, 10.0, tokens=500, token_rate=100.0, token_capacity=600.0)).wait_s == 0

    asyncio.run(main())


def test_gates_of_two_processes_pass_requests_at_the_keys_pace_together_and_alone_at_twice_it(redis_server):
    """KeyGate end to end: two registries (two processes), the same key at 600/min (paced at 98%)."""

    async def main(shared: bool) -> list[float]:
        loop = asyncio.get_running_loop()
        registries = [
            GateRegistry(shared=SharedLimits(redis_server.url, clock=loop.time, timeout_s=None, prefix=f"t{shared}") if shared else None) for _ in range(2)
        ]
        gates = [r.gate(entry().info()) for r in registries]
        times = []
        for i in range(40):  # one request at a time, from either process in turn
            await gates[i % 2].ready()
            times.append(loop.time())
        for r in registries:
            if r.shared is not None:
                await r.shared.aclose()
        return times

    pace = 600 / 60 * C.RATE_SAFETY
    together = vrun(lambda: main(True))
    gaps = [b - a for a, b in zip(together, together[1:])]
    assert min(gaps) == pytest.approx(1 / pace)
    alone = vrun(lambda: main(False))  # each process with its own bucket: two requests per step of the pace
    assert len([t for t in alone if t < alone[0] + 1.0]) >= 2 * int(pace)


def test_a_429_in_one_process_cools_the_key_in_the_other_which_shows_it(redis_server):
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a = GateRegistry(shared=SharedLimits(redis_server.url, clock=loop.time, timeout_s=None))
        b = GateRegistry(shared=SharedLimits(redis_server.url, clock=loop.time, timeout_s=None))
        gate_a, gate_b = a.gate(entry().info()), b.gate(entry().info())
        await gate_a.ready()
        gate_a.rate_limited(7.0)
        await a.shared.flush()
        start = loop.time()
        await gate_b.ready()  # b never met a 429, and still waits the cool-down out
        assert loop.time() - start == pytest.approx(7.0, abs=0.01)
        await gate_a.ready()
        await gate_b.ready()  # after it, the pace again
        assert loop.time() - start >= 2 / (10 * C.RATE_SAFETY) - 1e-6

    async def shows() -> None:
        loop = asyncio.get_running_loop()
        a = GateRegistry(shared=SharedLimits(redis_server.url, clock=loop.time, timeout_s=None, prefix="shows"))
        b = GateRegistry(shared=SharedLimits(redis_server.url, clock=loop.time, timeout_s=None, prefix="shows"))
        gate_a, gate_b = a.gate(entry().info()), b.gate(entry().info())
        gate_a.rate_limited(30.0)
        await a.shared.flush()
        waiting = asyncio.ensure_future(gate_b.ready())
        while gate_b.cool_until == 0:  # Redis answers in real time: no timer may run the clock on meanwhile
            await asyncio.sleep(0)
        await asyncio.sleep(1.0)
        assert gate_b.view().cooling_s == pytest.approx(29.0, abs=0.05)
        assert ("cooling", {"seconds": "29"}) in gate_b.view().describe() and ("shared", {}) in gate_b.view().describe()
        waiting.cancel()

    vrun(main)
    vrun(shows)


def test_nothing_secret_reaches_redis_and_what_is_there_expires(redis_server):
    async def main() -> None:
        loop = asyncio.get_running_loop()
        registry = GateRegistry(shared=SharedLimits(redis_server.url, clock=loop.time, timeout_s=None))
        key = entry(rpm=None)
        gate = registry.gate(key.info())
        await gate.ready()
        gate.rate_limited(3.0)
        await registry.shared.flush()

    vrun(main)
    r = redis_server.client()
    names = r.keys("*")
    assert sorted(n.rsplit(":", 1)[1] for n in names) == ["cool", "requests"]
    fp = entry().fingerprint
    for name in names:
        assert name.startswith(f"{C.REDIS_PREFIX}:{{") and SECRET not in name and fp not in name
        assert 0 < r.pttl(name) <= 24 * 3600 * 1000  # nothing stays for ever
        value = r.hgetall(name) if r.type(name) == "hash" else {"v": r.get(name)}
        assert not any(SECRET in str(v) or fp in str(v) for v in value.values())


def test_without_a_redis_url_nothing_is_shared_and_simulated_keys_never_are(redis_server):
    assert shared_limits_from_env({}) is None and shared_limits_from_env({C.REDIS_URL_ENV: "  "}) is None
    assert GateRegistry().gate(entry().info()).view().shared is None
    shared = shared_limits_from_env({C.REDIS_URL_ENV: redis_server.url})
    registry = GateRegistry(shared=shared)
    assert registry.gate(entry().info()).view().shared == "redis"
    assert registry.gate(demo_pool(1)[0].info()).view().shared is None  # each process has its own simulator


def test_when_redis_goes_away_each_process_paces_alone_says_so_and_shares_again_when_it_is_back(redis_server):
    async def main() -> None:
        shared = SharedLimits(redis_server.url, retry_s=0.0, timeout_s=1.0)
        gate = GateRegistry(shared=shared).gate(entry(rpm=60_000).info())
        await gate.ready()
        assert shared.healthy and gate.view().shared == "redis"
        redis_server.stop()
        await gate.ready()  # no exception, no hang: the request goes, paced by this process alone
        assert gate.view().shared == "alone" and ("shared_down", {}) in gate.view().describe()
        assert f"Redis at {redis_server.url} cannot be reached" in shared.problem and "paces its keys alone" in shared.problem
        gate.rate_limited(0.01)  # a cool-down it cannot share is kept here, quietly
        await shared.flush()
        assert redis_server.start()
        await asyncio.sleep(0.02)
        await gate.ready()
        assert shared.healthy and gate.view().shared == "redis" and shared.failures == 1
        await shared.aclose()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_redis_that_never_answers_costs_a_timeout_not_a_hang():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does) and never says a word
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"

    async def main() -> None:
        shared = SharedLimits(url, timeout_s=0.2, retry_s=3600)
        gate = GateRegistry(shared=shared).gate(entry(rpm=60_000).info())
        await gate.ready()
        assert not shared.healthy and "Timeout" in shared.problem
        await gate.ready()  # and it does not ask again before retry_s: no second timeout
        await shared.aclose()

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        listener.close()


def test_a_password_in_the_redis_url_is_never_shown(tmp_path):
    server = RedisServer(tmp_path / "redis", "--requirepass", "the-right-one")
    url = f"redis://:hunter2-secret@127.0.0.1:{server.port}/0"  # a wrong password: Redis refuses it
    assert safe_url(url) == f"redis://:***@127.0.0.1:{server.port}/0"
    assert safe_url("redis://app:pw@h:6379") == "redis://app:***@h:6379" and safe_url("unix:///run/redis.sock") == "unix:///run/redis.sock"

    async def main() -> str:
        shared = SharedLimits(url)
        assert await shared.admit("k", 10.0, 1.0) is None
        await shared.aclose()
        return shared.problem or ""

    try:
        problem = asyncio.run(main())
    finally:
        server.stop()
    assert "cannot be reached" in problem and "hunter2" not in problem and ":***@" in problem


def test_the_command_line_says_when_redis_goes_away_mid_run_and_finishes_the_run(tmp_path, sim_server, redis_server):
    from tests.conftest import arithmetic_frame, wait_for
    from tests.test_replicas import Cli, finished_rows

    server = sim_server("--latency", "0.05", "--error-rate", "0", "--rpm", "0")
    src, data = tmp_path / "in.csv", tmp_path / "d"
    arithmetic_frame(60).to_csv(src, index=False)
    cli = Cli(
        "run", str(src), "--template", "Compute {question}.", "--base-url", server.base_url, "--model", "simulated", "--keys-env", "KEYS",
        "--rpm", "600", "--concurrency", "2", "--output", str(tmp_path / "out.csv"), "--data-dir", str(data),
        env={"KEYS": "sk-k", C.REDIS_URL_ENV: redis_server.url},
    )  # fmt: skip
    try:
        assert wait_for(lambda: finished_rows(data) >= 10, timeout=60)
        redis_server.stop()
        assert cli.wait() == 0, cli.text
    finally:
        if cli.proc.poll() is None:
            cli.proc.kill()
    assert cli.said(f"warning: Shared limits are off: Redis at {redis_server.url} cannot be reached")
    assert sum("warning: Shared limits are off" in line for line in cli.lines) == 1  # once for the episode, not at every try
    assert "Traceback" not in cli.text and finished_rows(data) == 60
