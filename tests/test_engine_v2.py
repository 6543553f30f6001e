"""The engine on a virtual clock: what was sent when, with nothing sleeping for real.

Each test runs a real `BatchEngine` with the real `openai` SDK, a real SQLite store and either the
in-process simulator (on the loop's clock) or a small scripted provider behind
`httpx2.MockTransport`, inside `vrun`: a run that would hang fails as `VirtualClockHang`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx2
import openai
import pandas as pd
import pytest

from core import constants as C
from core.engine import BatchEngine
from core.errors import InputError
from core.keys import KeyEntry
from core.limits import GateRegistry
from core.progress import ProgressTracker
from core.runs import check_same_model
from core.simulator import Simulator, SimulatorConfig
from core.spec import RunSpec
from core.store import RunStore
from tests.conftest import arithmetic_frame
from tests.test_engine import within_limit
from tests.vclock import vrun

SPEC = RunSpec(template="Compute {question}. Reply with the number only.", concurrency=8)


def key(name: str, rpm: int = 6000, tpm: int | None = None, model: str = "simulated") -> KeyEntry:
    return KeyEntry("Test", "http://sim.test/v1", model, name, rpm, tpm)


class Run:
    """One engine run on the running (virtual) loop."""

    def __init__(
        self, store: RunStore, frame: pd.DataFrame, spec: RunSpec, keys: list[KeyEntry], factory: Callable[[KeyEntry, float], openai.AsyncOpenAI]
    ) -> None:
        frame = frame.reset_index(drop=True).astype(str)
        self.store = store
        self.run_id = store.create_run(spec, frame, [k.info() for k in keys])
        self.tracker = ProgressTracker(self.run_id, len(frame), [k.info() for k in keys], clock=asyncio.get_running_loop().time)
        self.engine = BatchEngine(
            run_id=self.run_id, store=store, spec=spec, columns=list(frame.columns), cells=list(frame.itertuples(index=False, name=None)),
            rows=list(range(len(frame))), keys=keys, gates=GateRegistry(), tracker=self.tracker, client_factory=factory,
        )  # fmt: skip
        self.task = asyncio.create_task(self.engine.run())

    async def until(self, predicate: Callable[[], bool], step: float = 0.01) -> float:
        loop = asyncio.get_running_loop()
        while not predicate():
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the run ended first: {self.tracker.snapshot()}")
            await asyncio.sleep(step)
        return loop.time()

    async def end(self) -> str:
        return await self.task

    def table(self, **kw: object) -> pd.DataFrame:
        return self.store.results_table(self.run_id, **kw)


def sim_factory(sim: Simulator) -> Callable[[KeyEntry, float], openai.AsyncOpenAI]:
    return lambda entry, timeout: sim.client(entry.api_key, timeout=timeout, max_retries=0)


def simulator(**config: object) -> Simulator:
    defaults = {"rpm": 0, "latency_s": 0.04, "latency_jitter_s": 0.0, "error_rate": 0.0}
    return Simulator(SimulatorConfig(**{**defaults, **config}), clock=asyncio.get_running_loop().time)


def scripted(
    handler: Callable[[dict, str], httpx2.Response | None], latency_s: float = 0.05
) -> tuple[Callable[[KeyEntry, float], openai.AsyncOpenAI], list[dict]]:
    """A provider whose answer to each request is `handler(body, key)` (None: a normal answer)."""
    seen: list[dict] = []

    async def serve(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        body["_key"] = request.headers["authorization"].split()[-1]
        body["_t"] = asyncio.get_running_loop().time()
        seen.append(body)
        await asyncio.sleep(latency_s)
        out = handler(body, body["_key"])
        if out is not None:
            return out
        return httpx2.Response(200, json=_completion(body["messages"][-1]["content"]))

    def factory(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=entry.api_key,
            base_url=entry.base_url,
            max_retries=0,
            timeout=timeout,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(serve)),
        )

    return factory, seen


def run_scripted(store: RunStore, frame: pd.DataFrame, handler: Callable[[dict, str], httpx2.Response | None]) -> tuple[str, pd.DataFrame]:
    """One run of `frame` on one key of a scripted provider: its final state and its table."""

    async def main() -> tuple[str, pd.DataFrame]:
        factory, _ = scripted(handler)
        run = Run(store, frame, SPEC, [key("k")], factory)
        return await run.end(), run.table()

    return vrun(main)


def _completion(content: str, **extra: object) -> dict:
    return {
        "id": "c1", "object": "chat.completion", "created": 1, "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}, **extra,
    }  # fmt: skip


@pytest.fixture
def vstore(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = RunStore(tmp_path / "data")
    yield s
    s.close()


# --- pacing and control, timed on the loop's clock -------------------------------------------


def test_each_key_is_paced_within_its_own_limit_and_keys_add_up(vstore):
    # The provider allows 600/min per key; the engine is told the same. No 429 may happen, and
    # three keys must go about three times as fast as one key's limit.
    async def main() -> tuple[object, dict, float]:
        sim = simulator(rpm=600)
        run = Run(vstore, arithmetic_frame(90), SPEC.replace(concurrency=32), [key(k, rpm=600) for k in "abc"], sim_factory(sim))
        await run.end()
        return run.tracker.snapshot(), sim.stats(), asyncio.get_running_loop().time()

    snap, stats, elapsed = vrun(main)
    assert snap.ok == 90
    assert sum(s.rate_limited for s in stats.values()) == 0
    for s in stats.values():
        assert within_limit(list(s.times), 600)
    assert elapsed < 90 / 10 * 0.75  # one key alone would need ~9 s


def test_pause_resume_and_cancel_take_effect_within_a_second(vstore):
    async def main() -> None:
        loop = asyncio.get_running_loop()
        sim = simulator(rpm=600, latency_s=0.05)
        run = Run(vstore, arithmetic_frame(400), SPEC.replace(concurrency=4), [key("k", rpm=600)], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().done >= 5)
        t0 = loop.time()
        run.engine.pause()
        await run.until(lambda: run.tracker.snapshot().state == "paused" and run.tracker.snapshot().in_flight == 0)
        assert loop.time() - t0 < 1.0
        sent = sim.total_requests()
        await asyncio.sleep(0.3)
        assert sim.total_requests() == sent  # nothing sent while paused
        run.engine.resume()
        await run.until(lambda: sim.total_requests() > sent)
        t0 = loop.time()
        run.engine.stop("cancelled", "Cancelled.")
        assert await run.end() == "cancelled" and loop.time() - t0 < 1.0
        snap = run.tracker.snapshot()
        assert 0 < snap.done < 400
        assert await asyncio.to_thread(lambda: vstore.get_run(run.run_id).status) == "cancelled"

    vrun(main)


# --- 1. nothing waits while holding what others need -------------------------------------------


def test_a_cooling_key_holds_no_slot_and_no_row_while_a_healthy_key_does_the_work(vstore):
    # "slow" is allowed 1 request/min by the provider (the engine believes 6,000): after its first
    # 429 it cools for about a minute. With one concurrency slot, the healthy key must not wait.
    async def main() -> tuple[str, float, dict]:
        sim = simulator(key_rpm={"slow": 1})
        run = Run(vstore, arithmetic_frame(10), SPEC.replace(concurrency=1), [key("slow"), key("fast")], sim_factory(sim))
        state = await run.end()
        return state, asyncio.get_running_loop().time(), sim.stats()

    state, elapsed, stats = vrun(main)
    assert state == "done"
    assert elapsed < 1.0  # 10 rows x 40 ms; a slot held by the cooling key would cost a minute
    assert stats["fast"].ok + stats["slow"].ok == 10


def test_a_key_limited_to_a_few_requests_a_minute_does_not_slow_the_others(vstore):
    async def main() -> tuple[float, dict, object]:
        # The user does not know that "c" is throttled to 6/min at the provider: it gets 600 too.
        sim = simulator(key_rpm={"a": 600, "b": 600, "c": 6}, latency_s=0.05)
        keys = [key("a", rpm=600), key("b", rpm=600), key("c", rpm=600)]
        run = Run(vstore, arithmetic_frame(300), SPEC.replace(concurrency=8), keys, sim_factory(sim))
        await run.end()
        return asyncio.get_running_loop().time(), sim.stats(), run.tracker.snapshot()

    elapsed, stats, snap = vrun(main)
    assert snap.ok == 300 and stats["a"].rate_limited == stats["b"].rate_limited == 0
    # the healthy keys' 2 x 10 rows/s (at 98 %): about 15.3 s; the slow key adds a row or two
    assert elapsed < 15.5
    assert stats["c"].ok <= 3


def test_keys_added_while_the_cache_is_being_checked_start_sending(vstore, monkeypatch):
    async def main() -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        sim = simulator(dead_keys=frozenset({"dead"}))
        frame = arithmetic_frame(C.CACHE_CHUNK_ROWS + 200)  # more than one chunk of cache lookups
        first = Run(vstore, frame.head(10), SPEC, [key("k")], sim_factory(sim))
        await first.end()  # rows 0-9 are now in the cache
        run: Run | None = None
        lookup = vstore.cache_lookup

        def slow_lookup(keys: list[str], **kwargs):  # type: ignore[no-untyped-def]
            loop.call_soon_threadsafe(run.engine.add_keys, [key("late")])
            return lookup(keys, **kwargs)

        monkeypatch.setattr(vstore, "cache_lookup", slow_lookup)
        run = Run(vstore, frame, SPEC, [key("dead")], sim_factory(sim))  # no working key at the start
        state = await run.end()
        return state, sim.stats()["late"].ok

    state, late_ok = vrun(main)
    assert state == "done" and late_ok == C.CACHE_CHUNK_ROWS + 190


def test_resume_after_a_pause_while_waiting_for_keys_goes_back_to_waiting(vstore):
    async def main() -> list[str]:
        sim = simulator(dead_keys=frozenset({"dead"}))
        run = Run(vstore, arithmetic_frame(5), SPEC, [key("dead")], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().state == "waiting_for_keys")
        states = []
        run.engine.pause()
        states.append(run.tracker.snapshot().state)
        run.engine.resume()
        states.append(run.tracker.snapshot().state)
        assert await asyncio.to_thread(run.engine._writer.flush, 10)
        states.append(vstore.get_run(run.run_id).status)
        run.engine.add_keys([key("alive")])
        states.append(await run.end())
        return states

    assert vrun(main) == ["paused", "waiting_for_keys", "waiting_for_keys", "done"]


def test_cancel_lets_requests_already_sent_finish_and_records_them(vstore):
    async def main() -> tuple[str, object, int, list[str]]:
        sim = simulator(latency_s=2.0)
        run = Run(vstore, arithmetic_frame(40), SPEC.replace(concurrency=8), [key("k")], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().in_flight == 8)
        await asyncio.sleep(1.0)  # mid-request
        run.engine.stop("cancelled", "Cancelled.")
        await asyncio.sleep(0.1)
        finishing = run.tracker.snapshot()
        state = await run.end()
        return state, finishing, sim.total_requests(), list(run.table()["status"])

    state, finishing, sent, statuses = vrun(main)
    assert finishing.state == "finishing" and "Finishing 8 requests" in finishing.message
    assert state == "cancelled" and sent == 8
    assert statuses[:8] == ["ok"] * 8 and set(statuses[8:]) == {"pending"}  # paid for, so kept


def test_cancel_cuts_requests_that_outlast_the_deadline(vstore):
    async def main() -> tuple[str, float, int]:
        sim = simulator(latency_s=C.STOP_GRACE_S * 3)
        run = Run(vstore, arithmetic_frame(4), SPEC, [key("k")], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().in_flight == 4)
        t0 = asyncio.get_running_loop().time()
        run.engine.stop("cancelled", "Cancelled.")
        state = await run.end()
        return state, asyncio.get_running_loop().time() - t0, run.tracker.snapshot().done

    state, took, done = vrun(main)
    assert state == "cancelled" and done == 0
    assert took == pytest.approx(C.STOP_GRACE_S, abs=0.5)


def test_a_resume_clicked_while_a_cancel_is_finishing_is_not_lost(vstore):
    async def main() -> tuple[bool, str, int]:
        sim = simulator(latency_s=1.0)
        run = Run(vstore, arithmetic_frame(30), SPEC, [key("k")], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().in_flight > 0)
        run.engine.stop("cancelled", "Cancelled.")
        await run.until(lambda: run.tracker.snapshot().state == "finishing")
        took = run.engine.resume()
        state = await run.end()
        return took, state, run.tracker.snapshot().ok

    took, state, ok = vrun(main)
    assert took and state == "done" and ok == 30


def test_a_dead_keys_client_is_closed_when_the_key_is_added_again(vstore):
    closed: list[str] = []

    async def main() -> str:
        sim = simulator()
        sim.revoke("k")

        def factory(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
            client = sim.client(entry.api_key, timeout=timeout, max_retries=0)
            original = client.close

            async def close() -> None:
                closed.append(entry.api_key)
                await original()

            client.close = close  # type: ignore[method-assign]
            return client

        run = Run(vstore, arithmetic_frame(3), SPEC, [key("k")], factory)
        await run.until(lambda: run.tracker.snapshot().state == "waiting_for_keys")
        sim._revoked.discard("k")  # the user fixed the key at the provider and adds it again
        run.engine.add_keys([key("k")])
        await asyncio.sleep(0)
        assert closed == ["k"]  # the old client, before the run ends
        return await run.end()

    assert vrun(main) == "done"
    assert closed == ["k", "k"]


# --- 2. every row ends, whatever comes back ----------------------------------------------------


def test_an_answer_cut_off_mid_emoji_is_stored_and_the_run_ends(vstore):
    def handler(body: dict, key: str) -> httpx2.Response | None:
        content = '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Half an emoji \\ud83d"},"finish_reason":"length"}]}'
        return httpx2.Response(200, content=content.encode(), headers={"content-type": "application/json"})

    state, table = run_scripted(vstore, arithmetic_frame(3), handler)
    assert state == "done"
    assert list(table["output"]) == ["Half an emoji \ufffd"] * 3


def test_an_answer_that_cannot_be_turned_into_a_row_fails_that_row_plainly(vstore):
    def handler(body: dict, key: str) -> httpx2.Response | None:
        if "2 + 4" in body["messages"][-1]["content"]:
            return httpx2.Response(200, json=_completion("6", usage={"prompt_tokens": "many", "completion_tokens": 1}))
        return None

    state, table = run_scripted(vstore, arithmetic_frame(3), handler)
    assert state == "done"
    assert list(table["status"]) == ["ok", "failed", "ok"]
    assert "could not be read" in table["error"][1]


@pytest.mark.parametrize(
    ("answer", "status", "output", "error"),
    [
        pytest.param({"choices": []}, "failed", "", "no choices", id="no-choices"),
        pytest.param({"choices": [{"message": None, "finish_reason": "stop"}]}, "ok", "", None, id="no-message"),
        pytest.param({"choices": [{"message": {"content": ["a", "list"]}}]}, "failed", "", "not text", id="content-not-text"),
        pytest.param(_completion("6", usage=[1, 2]), "failed", "", "usage is not an object", id="usage-not-an-object"),
        pytest.param(_completion("6", usage=None, model=None), "ok", "6", None, id="no-usage-no-model"),
        pytest.param(_completion("6", usage={"prompt_tokens": True, "completion_tokens": 1}), "failed", "", "not a number", id="usage-a-bool"),
    ],
)
def test_every_shape_of_answer_ends_its_row_with_a_status_and_a_reason(vstore, answer, status, output, error):
    def handler(body: dict, key: str) -> httpx2.Response | None:
        return httpx2.Response(200, json=answer)

    state, table = run_scripted(vstore, arithmetic_frame(1), handler)
    assert state == "done"
    assert (table["status"][0], table["output"][0] or "") == (status, output)
    if error is None:
        assert not table["error"][0]
        assert vstore.get_run(vstore.list_runs()[0].id).tokens_in > 0  # estimated when not said
    else:
        assert "could not be read" in table["error"][0] and error in table["error"][0]


def test_a_200_that_is_not_json_is_retried_and_the_row_then_answered(vstore):
    calls = []

    def handler(body: dict, key: str) -> httpx2.Response | None:
        calls.append(1)
        if len(calls) == 1:  # a proxy's page in place of the answer
            return httpx2.Response(200, content=b"<html>Gateway says hi</html>", headers={"content-type": "text/html"})
        return httpx2.Response(200, json=_completion("3"))

    state, table = run_scripted(vstore, arithmetic_frame(1), handler)
    assert (state, table["status"][0], table["output"][0], len(calls)) == ("done", "ok", "3", 2)


def test_a_crash_in_a_keys_pump_surfaces_and_the_other_keys_finish_the_run(vstore, monkeypatch):
    async def main() -> tuple[str, object]:
        sim = simulator()
        run = Run(vstore, arithmetic_frame(20), SPEC, [key("a"), key("b")], sim_factory(sim))
        gate_a = run.engine.gates.gate(key("a").info())
        original = gate_a.ready
        calls = {"n": 0}

        async def broken(tokens: int = 0) -> None:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("limiter exploded")
            await original(tokens)

        monkeypatch.setattr(gate_a, "ready", broken)
        return await run.end(), run.tracker.snapshot()

    state, snap = vrun(main)
    assert state == "done" and snap.ok == 20
    a = next(k for k in snap.keys if k.fingerprint == key("a").fingerprint)
    assert a.state == "dead" and "limiter exploded" in (a.dead_reason or "")
    assert any("limiter exploded" in e for e in snap.recent_errors)


def test_the_watchdog_puts_back_a_row_that_was_lost_by_a_bug(vstore, monkeypatch):
    async def main() -> tuple[str, object]:
        sim = simulator()
        run = Run(vstore, arithmetic_frame(5), SPEC, [key("k")], sim_factory(sim))
        original = run.engine._send
        lost = {"done": False}

        async def leaky(lane, row):  # type: ignore[no-untyped-def]
            if not lost["done"]:
                lost["done"] = True  # a bug: the row is taken and never finished nor returned
                run.engine._slots.release()
                return
            await original(lane, row)

        monkeypatch.setattr(run.engine, "_send", leaky)
        return await run.end(), run.tracker.snapshot()

    state, snap = vrun(main)
    assert state == "done" and snap.ok == 5
    assert any("put back" in e for e in snap.recent_errors)


def test_a_row_that_only_ever_meets_429s_fails_after_the_cap_instead_of_looping(vstore):
    def handler(body: dict, key: str) -> httpx2.Response | None:
        error = {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}
        return httpx2.Response(429, json=error, headers={"retry-after": "1"})

    async def main() -> tuple[str, pd.DataFrame, int]:
        factory, seen = scripted(handler)
        run = Run(vstore, arithmetic_frame(1), SPEC, [key("k")], factory)
        return await run.end(), run.table(), len(seen)

    state, table, sent = vrun(main)
    assert state == "done" and table["status"][0] == "failed"
    assert sent == C.MAX_RATE_LIMITS_PER_ROW
    assert f"Rate limited {C.MAX_RATE_LIMITS_PER_ROW} times" in table["error"][0]


def test_a_model_that_refuses_max_tokens_gets_max_completion_tokens_for_the_rest_of_the_run(vstore):
    def handler(body: dict, key: str) -> httpx2.Response | None:
        if "max_tokens" in body:
            error = {
                "error": {
                    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                    "type": "invalid_request_error",
                    "param": "max_tokens",
                    "code": "unsupported_parameter",
                }
            }
            return httpx2.Response(400, json=error)
        return None

    async def main() -> tuple[str, pd.DataFrame, list[dict], str]:
        factory, seen = scripted(handler)
        run = Run(vstore, arithmetic_frame(6), SPEC.replace(max_tokens=50, concurrency=1), [key("k", model="o4-mini")], factory)
        state = await run.end()
        return state, run.table(), seen, vstore.get_run(run.run_id).message

    state, table, seen, message = vrun(main)
    assert state == "done" and set(table["status"]) == {"ok"}
    assert sum("max_tokens" in b for b in seen) == 1  # refused once, then never sent again
    assert all(b.get("max_completion_tokens") == 50 for b in seen[1:])
    assert "max_completion_tokens" in message


def test_temperature_is_sent_only_when_the_user_set_one(vstore):
    async def main() -> list[dict]:
        factory, seen = scripted(lambda body, key: None)
        await Run(vstore, arithmetic_frame(1), SPEC.replace(temperature=None), [key("k")], factory).end()
        await Run(vstore, arithmetic_frame(1, start=5), SPEC.replace(temperature=0.3), [key("k")], factory).end()
        return seen

    seen = vrun(main)
    assert "temperature" not in seen[0] and seen[1]["temperature"] == 0.3


# --- resume rules, memory, concurrency ---------------------------------------------------------


def test_resume_continues_only_on_the_same_model_unless_switching_is_chosen(vstore):
    run_id = vstore.create_run(SPEC, arithmetic_frame(2).astype(str), [key("k", model="gpt-4o").info()])
    record = vstore.get_run(run_id)
    check_same_model(record, [key("k2", model="gpt-4o")])  # another key, same model: fine
    with pytest.raises(InputError, match="continue with the other model") as err:
        check_same_model(record, [key("k", model="gpt-4o-mini")])
    assert err.value.code == "other_model"
    check_same_model(record, [key("k", model="gpt-4o-mini")], switch_model=True)


def test_a_finished_run_lets_go_of_its_cells_clients_and_keys(vstore):
    async def main() -> BatchEngine:
        sim = simulator()
        run = Run(vstore, arithmetic_frame(5), SPEC, [key("sk-secret-key-value")], sim_factory(sim))
        await run.end()
        return run.engine

    engine = vrun(main)
    assert engine.cells == () and engine._lanes == {} and engine._secrets == [] and engine._entries == {}


def test_auto_concurrency_keeps_only_as_many_requests_in_flight_as_the_pace_needs(vstore):
    async def main() -> int:
        in_flight = {"now": 0, "max": 0}
        sim = simulator(latency_s=1.0)
        base = sim_factory(sim)

        def factory(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
            client = base(entry, timeout)
            post = client.post

            async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
                in_flight["now"] += 1
                in_flight["max"] = max(in_flight["max"], in_flight["now"])
                try:
                    return await post(*args, **kwargs)
                finally:
                    in_flight["now"] -= 1

            client.post = counted  # type: ignore[method-assign]
            return client

        run = Run(vstore, arithmetic_frame(200), SPEC.replace(concurrency=64, auto_concurrency=True), [key("k", rpm=600)], factory)
        await run.end()
        return in_flight["max"]

    # 600/min = 10/s at 1 s latency: about 10 in flight (x 1.5 headroom), not the cap of 64
    assert 8 <= vrun(main) <= 20


def test_the_demo_simulator_keeps_bounded_stats():
    from core.simulator import demo_simulator

    async def main() -> tuple[int, int]:
        sim = simulator(history=3)
        client = sim.client("k", max_retries=0)
        for i in range(5):
            await client.chat.completions.create(model="simulated", messages=[{"role": "user", "content": f"{i} + 1"}])
        stats = sim.stats()["k"]
        return stats.requests, len(stats.times) + len(stats.prompts)

    assert vrun(main) == (5, 6)
    assert demo_simulator().config.history is not None


# --- the 429 and refusal taxonomy, end to end over the SDK ------------------------------------


def _rows(*questions: str) -> pd.DataFrame:
    return pd.DataFrame({"question": list(questions)}, dtype=object)


def test_rows_the_provider_refuses_for_what_they_are_fail_at_once_and_the_key_lives_on(vstore):
    async def main() -> tuple[str, pd.DataFrame, object, int]:
        sim = simulator()
        frame = _rows("1 + 1", "SIMULATE_TPM_TOO_LARGE", "SIMULATE_MODERATION", "SIMULATE_NO_RETRY", "2 + 2")
        run = Run(vstore, frame, SPEC.replace(max_attempts=5), [key("k")], sim_factory(sim))
        state = await run.end()
        return state, run.table(details=True), run.tracker.snapshot(), sim.total_requests()

    state, table, snap, sent = vrun(main)
    assert state == "done" and list(table["status"]) == ["ok", "failed", "failed", "failed", "ok"]
    assert sent == 5  # each refused row was sent once: no loop, no retries
    assert "45,000 tokens" in table["error"][1] and "30,000 per minute" in table["error"][1]
    assert "flagged" in table["error"][2].lower()
    assert snap.keys[0].state != "dead"  # a moderation 403 is the row's, not the key's


def test_an_absurd_retry_after_is_clamped_and_the_key_says_how_long_it_waits(vstore):
    async def main() -> tuple[object, float]:
        sim = simulator()
        run = Run(vstore, _rows("SIMULATE_LONG_RETRY_AFTER"), SPEC, [key("k")], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().keys[0].state == "cooling")
        snap = run.tracker.snapshot()
        run.engine.stop("cancelled", "Cancelled.")
        await run.end()
        return snap, asyncio.get_running_loop().time()

    snap, _ = vrun(main)
    note = snap.keys[0].dead_reason or ""
    assert "asked for 1 h" in note and f"waiting {int(C.MAX_RETRY_AFTER_S // 60)} min" in note


def test_a_model_that_refuses_the_temperature_stops_the_run_with_the_reason_instead_of_failing_every_row(vstore):
    async def main() -> tuple[str, str, int, int]:
        sim = simulator(reasoning_models=frozenset({"o4-mini"}))
        run = Run(vstore, arithmetic_frame(50), SPEC.replace(temperature=0.2, concurrency=1), [key("k", model="o4-mini")], sim_factory(sim))
        state = await run.end()
        snap = run.tracker.snapshot()
        return state, vstore.get_run(run.run_id).message, snap.failed, sim.total_requests()

    state, message, failed, sent = vrun(main)
    assert state == "failed" and failed == 0 and sent <= 2
    assert "provider default" in message


def test_the_progress_shows_what_each_keys_gate_learnt_while_the_run_goes(vstore):
    async def main() -> tuple[object, object]:
        sim = simulator(rpm=600, latency_s=0.2)
        run = Run(vstore, arithmetic_frame(100), SPEC, [KeyEntry("Test", "http://sim.test/v1", "simulated", "k", None)], sim_factory(sim))
        await run.until(lambda: run.tracker.snapshot().done >= 20)
        live = run.tracker.snapshot().keys[0].pace
        await run.end()
        return live, run.tracker.snapshot().keys[0].pace

    live, after = vrun(main)
    assert live is not None and "600/min from the provider" in live.text
    assert after is None  # a finished run holds no gate
