"""Key checks against the simulator (in process and over loopback HTTP) and a closed port."""

from __future__ import annotations

import json
import time

import httpx2
import openai

from core.keycheck import VERDICTS, KeyCheck, check_keys, check_keys_async
from core.keys import KeyEntry, demo_pool
from core.runner import Runner
from core.simulator import Simulator, SimulatorConfig
from tests.conftest import free_port

GOOD = "sk-good-0123456789abcdefGHIJ"
DEAD = "sk-dead-0123456789abcdefGHIJ"
BROKE = "sk-broke-0123456789abcdefGHIJ"
SECRETS = (GOOD, DEAD, BROKE)


def sim(**config: object) -> Simulator:
    return Simulator(SimulatorConfig(**{"latency_s": 0.0, "latency_jitter_s": 0.0, "error_rate": 0.0, **config}))


def factory_for(s: Simulator):  # type: ignore[no-untyped-def]
    return lambda entry, timeout: s.client(entry.api_key, timeout=timeout, max_retries=0)


def key(api_key: str, model: str = "simulated", base_url: str = "http://sim.test/v1") -> KeyEntry:
    return KeyEntry("Test", base_url, model, api_key, 600)


def assert_no_secret(checks: list[KeyCheck], secrets: tuple[str, ...] = SECRETS) -> None:
    for check in checks:
        assert check.verdict in VERDICTS
        for secret in secrets:
            assert secret not in check.message
            assert secret not in repr(check)


async def test_good_dead_and_no_quota_keys_in_order():
    s = sim(dead_keys=frozenset({DEAD}), no_quota_keys=frozenset({BROKE}))
    keys = [key(DEAD), key(GOOD), key(BROKE)]
    checks = await check_keys_async(keys, client_factory=factory_for(s))

    assert [c.verdict for c in checks] == ["invalid_key", "ok", "no_quota"]
    assert [c.ok for c in checks] == [False, True, False]
    assert [c.fingerprint for c in checks] == [k.fingerprint for k in keys]
    assert [c.masked for c in checks] == [k.masked for k in keys]
    assert checks[0].message == "Invalid API key (401): Incorrect API key provided"
    assert "quota" in checks[2].message.lower()
    assert checks[1].message.startswith("OK (") and checks[1].latency_s is not None
    # exactly one request per key
    assert {k: st.requests for k, st in s.stats().items()} == {DEAD: 1, GOOD: 1, BROKE: 1}
    assert_no_secret(checks)


async def test_unknown_model_is_named():
    s = sim(models=frozenset({"simulated"}))
    checks = await check_keys_async([key(GOOD, model="gpt-9"), key(GOOD)], client_factory=factory_for(s))

    assert [c.verdict for c in checks] == ["unknown_model", "ok"]
    assert checks[0].message.startswith("Unknown model 'gpt-9' (404)")
    assert_no_secret(checks)


async def test_rate_limited_key_is_valid_but_not_ok():
    s = sim(rpm=1)
    warm = s.client(GOOD, max_retries=0)  # the bucket holds one request: use it up
    await warm.chat.completions.create(model="simulated", messages=[{"role": "user", "content": "1 + 1"}])
    await warm.close()

    [check] = await check_keys_async([key(GOOD)], client_factory=factory_for(s))
    assert check.verdict == "rate_limited"
    assert check.ok is False
    assert "valid but rate limited right now" in check.message
    assert_no_secret([check])


async def test_a_closed_port_is_unreachable_quickly():
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there any more
    started = time.monotonic()
    [check, unknown_host] = await check_keys_async([key(GOOD, base_url=base_url), key(GOOD, base_url="http://no-such-host.invalid/v1")])

    assert time.monotonic() - started < 5
    assert check.verdict == "unreachable" and not check.ok
    assert check.message.startswith(f"The provider could not be reached at {base_url}: check the base URL and that the local server is running")
    assert "No answer within" not in check.message  # refused at once is not a timeout
    assert check.latency_s is None
    assert unknown_host.verdict == "unreachable" and "local server" not in unknown_host.message
    assert_no_secret([check, unknown_host])


async def test_a_hanging_provider_ends_at_the_timeout():
    s = sim(p_timeout=1.0)
    started = time.monotonic()
    [check] = await check_keys_async([key(GOOD)], client_factory=factory_for(s), timeout=0.3)

    assert time.monotonic() - started < 3
    assert check.verdict == "unreachable"
    assert check.message.startswith("No answer within 0.3 s")


async def test_server_errors_and_non_api_answers_are_errors():
    checks = await check_keys_async([key(GOOD)], client_factory=factory_for(sim(p_5xx=1.0)))
    assert checks[0].verdict == "error" and checks[0].message.startswith(("HTTP 50", "HTTP 500"))

    # A web page at the base URL: the SDK returns its text instead of a completion.
    def html(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/html"}, content=b"<html><body>Welcome</body></html>")

    checks = await check_keys_async([key(GOOD)], client_factory=mock_factory(html))
    assert checks[0].verdict == "error" and "not like an OpenAI-compatible API" in checks[0].message


def mock_factory(handler):  # type: ignore[no-untyped-def]
    def make(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=entry.api_key,
            base_url=entry.base_url,
            timeout=timeout,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
        )

    return make


async def test_a_key_echoed_by_the_provider_is_redacted():
    def echo(request: httpx2.Request) -> httpx2.Response:
        token = request.headers["authorization"].split()[-1]
        body = {"error": {"message": f"Incorrect API key provided: {token}.", "type": "invalid_request_error", "code": "invalid_api_key"}}
        return httpx2.Response(401, json=body)

    checks = await check_keys_async([key(GOOD), key("short-key-1")], client_factory=mock_factory(echo))
    assert [c.verdict for c in checks] == ["invalid_key", "invalid_key"]
    assert_no_secret(checks, (GOOD, "short-key-1"))


async def test_a_model_that_rejects_max_tokens_is_asked_again():
    seen: list[dict] = []

    def reasoning(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        if "max_tokens" in body:
            error = {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            }
            return httpx2.Response(400, json={"error": error})
        return httpx2.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "length"}],
            },
        )

    [check] = await check_keys_async([key(GOOD, model="o3-mini")], client_factory=mock_factory(reasoning))
    assert check.verdict == "ok"
    assert [("max_tokens" in b, b.get("max_completion_tokens")) for b in seen] == [(True, None), (False, 1)]


def test_check_keys_blocking_against_the_loopback_server(sim_server):
    server = sim_server("--dead-key", "sk-bad", "--dead-key", DEAD, "--latency", "0")
    keys = [key(GOOD, base_url=server.base_url), key("sk-bad", base_url=server.base_url), key(DEAD, base_url=server.base_url)]
    runner = Runner()
    try:
        checks = check_keys(keys, runner=runner)
    finally:
        runner.shutdown()

    assert [c.verdict for c in checks] == ["ok", "invalid_key", "invalid_key"]
    assert [c.fingerprint for c in checks] == [k.fingerprint for k in keys]
    assert_no_secret(checks, (GOOD, "sk-bad", DEAD))
    assert {k: s["requests"] for k, s in server.stats().items()} == {GOOD: 1, "sk-bad": 1, DEAD: 1}


def test_check_keys_on_the_demo_pool():
    runner = Runner()
    try:
        checks = check_keys(demo_pool(2), runner=runner)
        assert check_keys([], runner=runner) == []
    finally:
        runner.shutdown()

    assert [c.verdict for c in checks] == ["ok", "ok"]
    assert all(c.ok and c.message.startswith("OK (") for c in checks)
    assert_no_secret(checks, ("sim-key-1", "sim-key-2"))


async def test_a_400_about_max_tokens_that_is_not_a_refused_parameter_is_not_asked_again():
    # The old rule asked again whenever a 400 mentioned max_tokens; the shared rule asks again only
    # when the model refuses the parameter itself.
    seen: list[dict] = []

    def too_small(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        error = {"message": "max_tokens must be at least 16", "type": "invalid_request_error", "param": "max_tokens", "code": "invalid_value"}
        return httpx2.Response(400, json={"error": error})

    [check] = await check_keys_async([key(GOOD)], client_factory=mock_factory(too_small))
    assert check.verdict == "error" and "max_tokens must be at least 16" in check.message
    assert len(seen) == 1


async def test_a_rate_limited_check_says_how_long_the_provider_asked_for():
    def long_wait(request: httpx2.Request) -> httpx2.Response:
        error = {"message": "Rate limit reached for requests per day (RPD)", "type": "requests", "code": "rate_limit_exceeded"}
        return httpx2.Response(429, headers={"retry-after": "3600"}, json={"error": error})

    [check] = await check_keys_async([key(GOOD)], client_factory=mock_factory(long_wait))
    assert check.verdict == "rate_limited"
    assert "(429; try again in 1 h)" in check.message  # what was asked, not the engine's clamped wait


async def test_a_reasoning_model_on_the_simulator_checks_ok_with_one_more_request():
    s = sim(reasoning_models=frozenset({"o3-mini"}))
    [check] = await check_keys_async([key(GOOD, model="o3-mini")], client_factory=factory_for(s))
    assert check.verdict == "ok"
    assert s.stats()[GOOD].requests == 2  # refused max_tokens, then max_completion_tokens
