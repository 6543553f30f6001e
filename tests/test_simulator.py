"""The simulated provider, always reached through the real openai SDK: in process (httpx2 transport)
and over a loopback aiohttp server. The clock and sleep are fakes, so nothing here waits on limits."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
import logging
import os
import re
import sys
import threading
from fractions import Fraction
from pathlib import Path

import httpx2
import openai
import pytest

from core.sim_arith import answer_content, evaluate, find_expression, format_number
from core.sim_server import start_server
from core.simulator import DEMO_HISTORY, SIMULATED_BASE_URL, KeyStats, SimResponse, Simulator, SimulatorConfig, demo_simulator

ROOT = Path(__file__).resolve().parents[1]
DEMO_CSV = ROOT / "core" / "data" / "demo_arithmetic.csv"
# The prompt from the seed article: it asks for JSON, so the answer comes back as JSON.
ARTICLE_PROMPT = '请将以下表达式的计算结果返回为 JSON 格式:\n{{\n"expression": "{question}",\n"infer": ?\n}}\n'
QUIET = dict(latency_s=0.0, latency_jitter_s=0.0, error_rate=0.0, rpm=0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    """Builds simulators and SDK clients for one transport, and closes them all afterwards."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        self._ports: dict[int, int] = {}
        self._runners: list[object] = []
        self._clients: list[openai.AsyncOpenAI] = []

    async def fake_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    async def sim(self, real_sleep: bool = False, **overrides: object) -> Simulator:
        config = SimulatorConfig(**{**QUIET, **overrides})  # type: ignore[arg-type]
        sim = Simulator(config, clock=self.clock, sleep=asyncio.sleep if real_sleep else self.fake_sleep)
        if self.mode == "loopback":
            runner, port = await start_server(sim)
            self._runners.append(runner)
            self._ports[id(sim)] = port
        return sim

    def base_url(self, sim: Simulator) -> str:
        return f"http://127.0.0.1:{self._ports[id(sim)]}/v1"

    def client(self, sim: Simulator, key: str = "sk-test-1", **kwargs: object) -> openai.AsyncOpenAI:
        kwargs.setdefault("max_retries", 0)
        if self.mode == "in_process":
            client = sim.client(key, **kwargs)
        else:
            client = openai.AsyncOpenAI(base_url=self.base_url(sim), api_key=key, **kwargs)  # type: ignore[arg-type]
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
        for runner in self._runners:
            await runner.cleanup()  # type: ignore[attr-defined]


@pytest.fixture(params=["in_process", "loopback"])
async def h(request: pytest.FixtureRequest):
    harness = Harness(request.param)
    yield harness
    await harness.close()


@pytest.fixture
async def local():
    harness = Harness("in_process")
    yield harness
    await harness.close()


async def ask(client: openai.AsyncOpenAI, content: str, model: str = "simulated", **kwargs: object):
    return await client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kwargs)


def demo_rows() -> list[dict[str, str]]:
    with DEMO_CSV.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- The model's answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression", "value"),
    [
        ("What is 37 + 12 x 5 - 8?", "37 + 12 x 5 - 8", Fraction(89)),
        ("10 ÷ 4 × 3 − 1", "10 ÷ 4 × 3 − 1", Fraction(13, 2)),
        ("7/2", "7/2", Fraction(7, 2)),
        ("2 - 3 - 4 and 100 - 3 * 3 + 1", "100 - 3 * 3 + 1", Fraction(92)),  # the longest one wins
        ("5/0 or 1+1", "1+1", Fraction(2)),  # division by zero is skipped, not answered
        ("3.5 + 2", None, None),  # decimals are not split into integers
        ("1.\n- 2 apples", None, None),  # a list across lines is not a subtraction
        ("no numbers here", None, None),
        ("just 42", None, None),
    ],
)
def test_expressions_are_found_and_computed_exactly_without_eval(text, expression, value):
    found = find_expression(text)
    assert (found[0], found[1]) == (expression, value) if expression else found is None


def test_numbers_print_as_integers_or_four_decimals():
    assert [format_number(v) for v in (Fraction(89), Fraction(-7, 2), Fraction(1, 3), Fraction(2, 3), Fraction(-1, 10**6))] == [
        "89",
        "-3.5",
        "0.3333",
        "0.6667",
        "0",
    ]
    assert evaluate("2 + 3 x 4 - 6 / 3") == 12


async def test_answers_arithmetic_as_a_real_chat_completion(h):
    sim = await h.sim()
    reply = await ask(h.client(sim), "What is 37 + 12 x 5 - 8?", model="gpt-4o-mini")
    assert isinstance(reply, openai.types.chat.ChatCompletion)
    assert reply.choices[0].message.content == "89"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "gpt-4o-mini"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0
    assert (await ask(h.client(sim), "7 ÷ 2 x 3")).choices[0].message.content == "10.5"


async def test_demo_dataset_is_answered_with_a_deterministic_error_rate(local):
    rows = demo_rows()
    assert len(rows) == 300

    async def wrong_questions(error_rate: float) -> set[str]:
        sim = await local.sim(error_rate=error_rate)
        client = local.client(sim)
        replies = await asyncio.gather(*(ask(client, ARTICLE_PROMPT.format(question=r["question"])) for r in rows))
        wrong = set()
        for row, reply in zip(rows, replies):
            answer = json.loads(reply.choices[0].message.content)
            assert answer["expression"] == row["question"]
            if answer["infer"] != int(row["answer"]):
                assert 1 <= abs(answer["infer"] - int(row["answer"])) <= 3  # a slip, not nonsense
                wrong.add(row["question"])
        return wrong

    assert await wrong_questions(0.0) == set()
    wrong = await wrong_questions(0.05)
    assert 0.02 <= len(wrong) / len(rows) <= 0.09
    assert await wrong_questions(0.05) == wrong  # asking again gets the same wrong answers
    assert len(await wrong_questions(1.0)) == len(rows)


async def test_json_mode_from_response_format_or_from_the_prompt(h):
    sim = await h.sim()
    client = h.client(sim)
    reply = await ask(client, "37 + 12 x 5 - 8", response_format={"type": "json_object"})
    assert json.loads(reply.choices[0].message.content) == {"expression": "37 + 12 x 5 - 8", "infer": 89}
    reply = await ask(client, ARTICLE_PROMPT.format(question="61 - 34 - 75"))
    assert json.loads(reply.choices[0].message.content) == {"expression": "61 - 34 - 75", "infer": -48}
    reply = await ask(client, "Say hello in JSON")
    assert json.loads(reply.choices[0].message.content)["answer"].startswith("Simulated answer (ref ")


async def test_a_prompt_without_arithmetic_gets_a_deterministic_sentence(local):
    sim = await local.sim()
    client = local.client(sim)
    first = (await ask(client, "Summarise the plot of Hamlet in one line please")).choices[0].message.content
    again = (await ask(client, "Summarise the plot of Hamlet in one line please")).choices[0].message.content
    assert first == again
    assert re.fullmatch(
        r"Simulated answer \(ref [0-9a-f]{4}\), not a real model\. Tone: neutral\. "
        r"Text: “Summarise the plot of Hamlet in one line please”",
        first,
    )


async def test_max_tokens_truncates_with_finish_reason_length(h):
    sim = await h.sim()
    reply = await ask(h.client(sim), "Tell me a story about a long journey", max_tokens=2)
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == "Simulate"  # 2 tokens of 4 characters
    reply = await ask(h.client(sim), "Tell me a story", max_completion_tokens=1000)
    assert reply.choices[0].finish_reason == "stop"


async def test_content_filter_trigger_returns_empty_content(h):
    sim = await h.sim()
    reply = await ask(h.client(sim), "SIMULATE_CONTENT_FILTER 1 + 1")
    assert reply.choices[0].finish_reason == "content_filter"
    assert reply.choices[0].message.content == ""


async def test_bad_request_trigger_is_a_400_context_length_error(h):
    sim = await h.sim()
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(h.client(sim), "SIMULATE_BAD_REQUEST")
    assert caught.value.status_code == 400
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 8192 tokens" in caught.value.body["message"]


async def test_latency_is_awaited_through_the_injected_sleep_with_seeded_jitter(local):
    sim = await local.sim(latency_s=0.2, latency_jitter_s=0.05, seed=7)
    client = local.client(sim)
    for _ in range(20):
        await ask(client, "1 + 1")
    assert len(local.sleeps) == 20 and all(0.15 <= s <= 0.25 for s in local.sleeps)
    first = list(local.sleeps)
    local.sleeps.clear()
    sim2 = await local.sim(latency_s=0.2, latency_jitter_s=0.05, seed=7)
    for _ in range(20):
        await ask(local.client(sim2), "1 + 1")
    assert local.sleeps == first


# --- Rate limits ----------------------------------------------------------------------------


async def test_rate_limit_is_a_per_key_token_bucket_on_the_injected_clock(h):
    sim = await h.sim(rpm=120)  # 2 per second, a burst of 2
    a, b = h.client(sim, "sk-a"), h.client(sim, "sk-b")
    raw = await a.chat.completions.with_raw_response.create(model="simulated", messages=[{"role": "user", "content": "1+1"}])
    assert raw.headers["x-ratelimit-limit-requests"] == "120"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    await ask(a, "1 + 2")
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(a, "1 + 3")
    err = caught.value
    assert err.status_code == 429 and err.code == "rate_limit_exceeded" and err.type == "requests"
    assert err.body["message"].startswith("Rate limit reached for requests")
    assert err.response.headers["retry-after-ms"] == "500"
    assert err.response.headers["retry-after"] == "1"
    assert err.response.headers["x-ratelimit-reset-requests"] == "500ms"

    await ask(b, "2 + 2")  # another key has its own bucket
    h.clock.advance(0.25)
    with pytest.raises(openai.RateLimitError) as caught:  # a 429 took no token: still half a token short
        await ask(a, "1 + 3")
    assert caught.value.response.headers["retry-after-ms"] == "250"
    h.clock.advance(0.25)
    await ask(a, "1 + 3")
    with pytest.raises(openai.RateLimitError):
        await ask(a, "1 + 4")

    stats = sim.stats()
    assert (stats["sk-a"].requests, stats["sk-a"].ok, stats["sk-a"].rate_limited) == (6, 3, 3)
    assert stats["sk-a"].times == (1000.0, 1000.0, 1000.5)
    assert stats["sk-b"].ok == 1


async def test_rate_limit_headers_in_seconds_when_the_wait_is_long(local):
    sim = await local.sim(rpm=40)  # one token every 1.5 s
    client = local.client(sim)
    await ask(client, "1+1")
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(client, "1+1")
    headers = caught.value.response.headers
    assert (headers["retry-after-ms"], headers["retry-after"], headers["x-ratelimit-reset-requests"]) == ("1500", "2", "1.5s")


async def test_tokens_per_minute_limit_counts_prompt_characters(local):
    sim = await local.sim(tpm=600)  # 10 tokens/s, a bucket of 60
    client = local.client(sim)
    prompt = "x" * 200  # 50 tokens + 4 overhead
    await ask(client, prompt)
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(client, prompt)
    assert caught.value.type == "tokens"
    assert caught.value.response.headers["retry-after-ms"] == "4800"  # 6 left, 54 needed
    assert "x-ratelimit-reset-tokens" in caught.value.response.headers
    local.clock.advance(4.8)
    await ask(client, prompt)


async def test_keys_of_one_account_share_its_buckets(local):
    sim = await local.sim(rpm=120, shared_limit_groups=(frozenset({"sk-a", "sk-b"}),))  # a burst of 2, for both
    await ask(local.client(sim, "sk-a"), "1+1")
    await ask(local.client(sim, "sk-b"), "1+1")
    with pytest.raises(openai.RateLimitError):
        await ask(local.client(sim, "sk-a"), "1+1")
    await ask(local.client(sim, "sk-c"), "1+1")  # not in the account: its own bucket
    stats = sim.stats()
    assert (stats["sk-a"].ok, stats["sk-a"].rate_limited, stats["sk-b"].ok) == (1, 1, 1)


async def test_a_provider_without_rate_limit_headers_still_limits(local):
    sim = await local.sim(rpm=60, limit_headers=False, retry_after=False)  # as DeepSeek, vLLM, Ollama
    client = local.client(sim)
    raw = await client.chat.completions.with_raw_response.create(model="simulated", messages=[{"role": "user", "content": "1+1"}])
    assert not [h for h in raw.headers if h.startswith("x-ratelimit")]
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(client, "1+1")
    assert not [h for h in caught.value.response.headers if h.startswith(("x-ratelimit", "retry-after"))]


# --- Keys and models --------------------------------------------------------------------------


async def test_dead_key_is_401_and_never_echoed(h):
    sim = await h.sim(dead_keys=frozenset({"sk-dead-0123456789"}))
    with pytest.raises(openai.AuthenticationError) as caught:
        await ask(h.client(sim, "sk-dead-0123456789"), "1+1")
    err = caught.value
    assert err.status_code == 401 and err.code == "invalid_api_key"
    assert err.body == {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    assert "sk-dead" not in err.response.text
    assert sim.stats()["sk-dead-0123456789"].unauthorized == 1


async def test_key_without_quota_is_429_insufficient_quota_without_retry_after(h):
    sim = await h.sim(no_quota_keys=frozenset({"sk-broke"}))
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(h.client(sim, "sk-broke"), "1+1")
    err = caught.value
    assert err.code == "insufficient_quota"
    assert err.body["message"] == "You exceeded your current quota, please check your plan and billing details."
    assert "retry-after" not in err.response.headers and "retry-after-ms" not in err.response.headers


async def test_a_key_revoked_in_the_middle_of_a_run_turns_401(h):
    sim = await h.sim()
    client = h.client(sim, "sk-going")
    await ask(client, "1+1")
    sim.revoke("sk-going")
    with pytest.raises(openai.AuthenticationError):
        await ask(client, "1+1")
    await ask(h.client(sim, "sk-staying"), "1+1")


async def test_only_valid_keys_are_accepted_when_listed(local):
    sim = await local.sim(valid_keys=frozenset({"sk-good"}))
    await ask(local.client(sim, "sk-good"), "1+1")
    with pytest.raises(openai.AuthenticationError):
        await ask(local.client(sim, "sk-other"), "1+1")


async def test_missing_key_is_401_through_the_transport_agnostic_core():
    sim = Simulator(SimulatorConfig(**QUIET))
    res = await sim.handle("POST", "/v1/chat/completions", {"Content-Type": "application/json"}, b"{}")
    assert isinstance(res, SimResponse) and res.status == 401 and res.action == "respond"
    res = await sim.handle("POST", "/v1/chat/completions", {"AUTHORIZATION": "Bearer k"}, b"not json")
    assert res.status == 400
    res = await sim.handle("GET", "/v1/nothing", {"authorization": "Bearer k"}, b"")
    assert res.status == 404


async def test_unknown_model_is_404_model_not_found(h):
    sim = await h.sim(models=frozenset({"simulated"}))
    await ask(h.client(sim), "1+1", model="simulated")
    with pytest.raises(openai.NotFoundError) as caught:
        await ask(h.client(sim), "1+1", model="gpt-9")
    assert caught.value.status_code == 404 and caught.value.code == "model_not_found"
    assert "gpt-9" in caught.value.body["message"]


async def test_models_are_listed(h):
    sim = await h.sim()
    ids = [m.id async for m in h.client(sim).models.list()]
    assert "simulated" in ids and "gpt-4o-mini" in ids


# --- Error-shape triggers and reasoning models ------------------------------------------------


async def test_tpm_too_large_trigger_is_openais_request_too_large_429(h):
    sim = await h.sim(rpm=1)  # one request a minute: a trigger that charged the bucket would starve the next ask
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(h.client(sim), "SIMULATE_TPM_TOO_LARGE 1 + 1")
    err = caught.value
    assert (err.code, err.type) == ("rate_limit_exceeded", "tokens")
    assert err.body["message"].startswith(
        "Request too large for simulated in organization org-simulated on tokens per min (TPM): Limit 30000, Requested 45000."
    )
    assert "retry-after" not in err.response.headers and err.response.headers["x-ratelimit-limit-tokens"] == "30000"
    await ask(h.client(sim), "1 + 1")
    assert (sim.stats()["sk-test-1"].rate_limited, sim.stats()["sk-test-1"].ok) == (1, 1)


async def test_tpm_too_large_names_the_simulators_own_tpm_and_counts_the_output(local):
    sim = await local.sim(tpm=1000)
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(local.client(sim), "SIMULATE_TPM_TOO_LARGE", max_completion_tokens=4000)
    assert "Limit 1000, Requested 40" in caught.value.body["message"]  # prompt tokens + the 4,000 it may write


@pytest.mark.parametrize("style", ["openai", "detail", "text"])
async def test_moderation_trigger_is_openrouters_403_in_every_error_style(h, style):
    sim = await h.sim(error_style=style)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        await ask(h.client(sim), "SIMULATE_MODERATION you are awful")
    err = caught.value
    assert err.status_code == 403 and err.code == "403"
    assert 'flagged for "harassment"' in err.body["message"]
    assert err.body["metadata"]["reasons"] == ["harassment"]
    assert err.body["metadata"]["flagged_input"] == "SIMULATE_MODERATION you are awful"
    assert sim.stats()["sk-test-1"].unauthorized == 0  # the key is fine


async def test_long_retry_after_trigger_asks_for_an_hour(h):
    sim = await h.sim()
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(h.client(sim), "SIMULATE_LONG_RETRY_AFTER")
    err = caught.value
    assert err.code == "rate_limit_exceeded" and err.response.headers["retry-after"] == "3600"
    assert "requests per day (RPD)" in err.body["message"]


async def test_no_retry_trigger_is_a_503_that_says_do_not_retry(h):
    sim = await h.sim()
    with pytest.raises(openai.InternalServerError) as caught:
        await ask(h.client(sim), "SIMULATE_NO_RETRY")
    assert caught.value.status_code == 503 and caught.value.response.headers["x-should-retry"] == "false"
    assert sim.stats()["sk-test-1"].server_errors == 1


async def test_should_retry_trigger_is_a_400_that_says_retry(h):
    sim = await h.sim()
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(h.client(sim), "SIMULATE_SHOULD_RETRY")
    assert caught.value.response.headers["x-should-retry"] == "true"


@pytest.mark.parametrize("prompt", ["SIMULATE_NO_RETRY", "SIMULATE_LONG_RETRY_AFTER"])
async def test_the_sdks_own_retries_give_up_on_these_shapes_at_once(local, prompt):
    # Proof the shapes mean to openai-python what they mean to a real provider: it obeys
    # x-should-retry: false, and will not wait out a Retry-After above its 2-minute maximum.
    sim = await local.sim()
    with pytest.raises(openai.APIStatusError):
        await ask(local.client(sim, max_retries=3), prompt)
    assert sim.stats()["sk-test-1"].requests == 1


async def test_triggers_come_before_the_fault_draw(local):
    sim = await local.sim(p_5xx=1.0)
    with pytest.raises(openai.PermissionDeniedError):
        await ask(local.client(sim), "SIMULATE_MODERATION")
    assert sim.stats()["sk-test-1"].server_errors == 0


async def test_reasoning_models_refuse_max_tokens_and_temperature_but_take_max_completion_tokens(h):
    sim = await h.sim(reasoning_models=frozenset({"o3-mini"}))
    client = h.client(sim)
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(client, "1 + 1", model="o3-mini", max_tokens=10)
    assert caught.value.body == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(client, "1 + 1", model="o3-mini", temperature=0.2)
    assert (caught.value.code, caught.value.param) == ("unsupported_value", "temperature")
    assert caught.value.body["message"] == ("Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.")
    reply = await ask(client, "1 + 1", model="o3-mini", max_completion_tokens=10, temperature=1)
    assert reply.choices[0].message.content == "2"
    await ask(client, "1 + 1", model="simulated", max_tokens=10, temperature=0.2)  # other models take both
    assert "o3-mini" in [m.id async for m in client.models.list()]


# --- Injected faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "exception", "counter"),
    [
        ("p_5xx", openai.InternalServerError, "server_errors"),
        ("p_timeout", openai.APITimeoutError, "timeouts"),
        ("p_drop", openai.APIConnectionError, "drops"),
        ("p_nonjson", json.JSONDecodeError, "nonjson"),  # openai raises it bare for a 200 that is not JSON
    ],
)
async def test_each_injected_fault_surfaces_as_the_sdk_exception(h, fault, exception, counter):
    # Over loopback the client's own timeout ends a hang, so the simulator sleeps for real there.
    sim = await h.sim(real_sleep=h.mode == "loopback", hang_s=30.0, **{fault: 1.0})
    client = h.client(sim, timeout=0.3)
    with pytest.raises(exception) as caught:
        await ask(client, "1+1")
    if fault == "p_5xx":
        assert caught.value.status_code in (500, 502, 503)
        assert caught.value.body["type"] == "server_error"
    if fault == "p_drop":
        assert not isinstance(caught.value, openai.APITimeoutError)
    stats = sim.stats()["sk-test-1"]
    assert (stats.requests, getattr(stats, counter), stats.ok, stats.prompts) == (1, 1, 0, ())


async def test_an_in_process_hang_lasts_until_the_requests_read_timeout(local):
    sim = await local.sim(p_timeout=1.0)
    with pytest.raises(openai.APITimeoutError):
        await ask(local.client(sim, timeout=42.0), "1+1")
    assert local.sleeps == [42.0]


async def test_a_dropped_connection_logs_no_server_error(caplog):
    harness = Harness("loopback")
    try:
        sim = await harness.sim(p_drop=1.0)
        with caplog.at_level(logging.DEBUG, logger="aiohttp"):
            with pytest.raises(openai.APIConnectionError):
                await ask(harness.client(sim), "1+1")
            await asyncio.sleep(0.05)
    finally:
        await harness.close()
    assert not [r for r in caplog.records if r.name.startswith("aiohttp") and r.levelno >= logging.WARNING]


async def test_fault_draws_follow_the_seed(local):
    async def outcomes(seed: int) -> list[str]:
        sim = await local.sim(seed=seed, p_5xx=0.3, p_drop=0.2, p_nonjson=0.2)
        client, seen = local.client(sim), []
        for _ in range(30):
            try:
                await ask(client, "1+1")
                seen.append("ok")
            except Exception as exc:  # noqa: BLE001 - the class is the outcome
                seen.append(type(exc).__name__)
        return seen

    first = await outcomes(3)
    assert first == await outcomes(3)
    assert {"ok", "InternalServerError", "APIConnectionError", "JSONDecodeError"} <= set(first)


# --- Error body styles ------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["openai", "detail", "text"])
async def test_error_style_shapes_every_error_body(h, style):
    sim = await h.sim(error_style=style, dead_keys=frozenset({"sk-dead"}), models=frozenset({"simulated"}), rpm=60)
    calls = [
        (openai.AuthenticationError, "Incorrect API key provided", lambda: ask(h.client(sim, "sk-dead"), "1+1")),
        (openai.NotFoundError, "does not exist", lambda: ask(h.client(sim), "1+1", model="nope")),
        (openai.BadRequestError, "maximum context length", lambda: ask(h.client(sim), "SIMULATE_BAD_REQUEST")),
        (openai.RateLimitError, "Rate limit reached", lambda: ask(h.client(sim), "1+1")),
    ]
    for exception, words, call in calls:
        with pytest.raises(exception) as caught:
            await call()
        body, response = caught.value.body, caught.value.response
        if style == "openai":
            assert words in body["message"]
        elif style == "detail":
            assert set(body) == {"detail"} and words in body["detail"]
        else:
            assert isinstance(body, str) and words in body
            assert response.headers["content-type"].startswith("text/plain")


# --- Stats and the server's admin routes ------------------------------------------------------


async def test_stats_count_every_request_per_key_and_reset(h):
    sim = await h.sim(dead_keys=frozenset({"sk-dead"}))
    client = h.client(sim, "sk-a")
    await asyncio.gather(ask(client, "1 + 1"), ask(client, "2 + 2"), ask(client, "1 + 1"))
    with pytest.raises(openai.AuthenticationError):
        await ask(h.client(sim, "sk-dead"), "3 + 3")
    stats = sim.stats()
    assert isinstance(stats["sk-a"], KeyStats)
    assert (stats["sk-a"].requests, stats["sk-a"].ok) == (3, 3)
    assert sorted(stats["sk-a"].prompts) == ["1 + 1", "1 + 1", "2 + 2"]  # one question paid twice
    assert stats["sk-dead"].unauthorized == 1 and stats["sk-dead"].times == ()
    assert sim.total_requests() == 4
    sim.reset_stats()
    assert sim.stats() == {} and sim.total_requests() == 0


async def test_stats_can_be_read_from_another_thread_during_a_run(local):
    sim = await local.sim()
    client = local.client(sim)
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(sum(s.requests for s in sim.stats().values()))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        await asyncio.gather(*(ask(client, f"{i} + 1") for i in range(200)))
    finally:
        stop.set()
        thread.join()
    assert seen == sorted(seen) and sim.total_requests() == 200


async def test_admin_routes_report_revoke_and_reset_over_http():
    harness = Harness("loopback")
    try:
        sim = await harness.sim()
        await ask(harness.client(sim, "sk-a"), "1 + 1")
        root = harness.base_url(sim).removesuffix("/v1")
        async with httpx2.AsyncClient(base_url=root) as http:
            stats = (await http.get("/_sim/stats")).json()
            assert stats["sk-a"]["ok"] == 1 and stats["sk-a"]["prompts"] == ["1 + 1"]
            assert (await http.post("/_sim/revoke", json={"key": "sk-a"})).status_code == 200
            with pytest.raises(openai.AuthenticationError):
                await ask(harness.client(sim, "sk-a"), "1 + 1")
            assert (await http.post("/_sim/revoke", json={})).status_code == 400
            assert (await http.post("/_sim/reset")).status_code == 200
            assert (await http.get("/_sim/stats")).json() == {}
    finally:
        await harness.close()


# --- Entry points -----------------------------------------------------------------------------


async def test_client_points_at_a_base_url_that_cannot_leak():
    sim = Simulator(SimulatorConfig(**QUIET))
    client = sim.client("sk-x", max_retries=0)
    try:
        assert str(client.base_url).rstrip("/") == SIMULATED_BASE_URL
        assert (await ask(client, "6 x 7")).choices[0].message.content == "42"
    finally:
        await client.close()


async def test_demo_mode_shares_one_default_simulator():
    sim = demo_simulator()
    assert sim is demo_simulator() and sim.config == SimulatorConfig(history=DEMO_HISTORY)
    client = sim.client("sim-key-1", max_retries=0)
    try:
        assert (await ask(client, "2 + 3 x 4")).choices[0].message.content == "14"
    finally:
        await client.close()


async def test_command_line_server_answers_then_stops_on_terminate():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "core.simulator",
        "--port",
        "0",
        "--latency",
        "0",
        "--jitter",
        "0",
        "--error-rate",
        "0",
        "--dead-key",
        "sk-dead",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"simulator listening on (http://127\.0\.0\.1:(\d+)/v1)\n", line)
        assert match, line
        client = openai.AsyncOpenAI(base_url=match.group(1), api_key="sk-a", max_retries=0)
        try:
            assert (await ask(client, "37 + 12 x 5 - 8")).choices[0].message.content == "89"
            with pytest.raises(openai.AuthenticationError):
                await ask(client.with_options(api_key="sk-dead"), "1+1")
        finally:
            await client.close()
    finally:
        proc.terminate()
        code = await asyncio.wait_for(proc.wait(), 15)
    assert code == 0


def test_demo_csv_is_what_make_demo_writes():
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "core" / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = demo_rows()
    assert [(int(r["id"]), r["question"], int(r["answer"])) for r in rows] == module.make_rows()
    for row in rows:
        assert 2 <= row["question"].count(" ") // 2 <= 3
        assert set(re.findall(r"[^\d ]", row["question"])) <= {"+", "-", "x"}
        assert evaluate(row["question"]) == int(row["answer"])
        assert answer_content(row["question"], json_mode=False, seed=0, error_rate=0) == row["answer"]
