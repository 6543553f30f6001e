from __future__ import annotations

import dataclasses
import email.utils
import json
import math
import random

import httpx2
import openai
import pytest

from core import constants as C
from core.errors import ErrorKind, Failure, backoff_delay, classify, describe_seconds, param_fallback, parse_retry_after, redact, should_retry_header

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After-Ms": "1500"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "100", "retry-after": "9"}, 0.1),  # ms wins: it is more precise
        ({"retry-after": email.utils.formatdate(NOW + 7, usegmt=True)}, 7.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),  # a date in the past: go now
        ({"x-ratelimit-reset-requests": "1s"}, 1.0),
        ({"x-ratelimit-reset-requests": "20ms"}, 0.02),
        ({"x-ratelimit-reset-requests": "6m0s"}, 360.0 if 360 <= C.MAX_RETRY_AFTER_S else C.MAX_RETRY_AFTER_S),
        ({"x-ratelimit-reset-requests": "1m30.5s"}, 90.5),
        ({"retry-after": "garbage", "x-ratelimit-reset-requests": "2s"}, 2.0),
        ({"retry-after": "garbage"}, None),
        ({"retry-after-ms": "-5"}, None),
        ({"x-ratelimit-reset-requests": "soon"}, None),
        ({"retry-after": "999999"}, C.MAX_RETRY_AFTER_S),  # never believe a day-long wait
        ({"retry-after": "3600"}, C.MAX_RETRY_AFTER_S),
        ({"retry-after-ms": "3600000"}, C.MAX_RETRY_AFTER_S),
        ({"retry-after": email.utils.formatdate(NOW + 86_400, usegmt=True)}, C.MAX_RETRY_AFTER_S),
        ({"retry-after": "1e999"}, C.MAX_RETRY_AFTER_S),  # too big for a float: a very long wait
        ({"retry-after": "inf"}, None),  # a literal infinity is garbage, as openai-python reads it
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "nan", "retry-after": "4"}, 4.0),  # garbage in one header, the next one counts
        ({"retry-after": " 7 "}, 7.0),
        ({}, None),
        (None, None),
    ],
)
def test_retry_delay_follows_the_providers_headers(headers, expected):
    value = parse_retry_after(headers, now=NOW)
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after": "3600"}, 3600.0),
        ({"retry-after-ms": "5400000"}, 5400.0),
        ({"retry-after": email.utils.formatdate(NOW + 86_400, usegmt=True)}, 86_400.0),
        ({"retry-after": "1e999"}, math.inf),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "garbage"}, None),
    ],
)
def test_what_the_provider_asked_is_read_unclamped_with_no_cap(headers, expected):
    assert parse_retry_after(headers, now=NOW, cap=None) == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"x-should-retry": "true"}, True),
        ({"x-should-retry": "false"}, False),
        ({"X-Should-Retry": "false"}, False),
        ({"x-should-retry": " TRUE "}, True),
        ({"x-should-retry": "maybe"}, None),
        ({"x-should-retry": ""}, None),
        ({"retry-after": "1"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_x_should_retry_header_is_read_as_openai_python_does(headers, expected):
    assert should_retry_header(headers) is expected


def test_backoff_grows_exponentially_with_equal_jitter_and_a_cap():
    rng = random.Random(1)
    for attempt, cap in [(1, 1), (2, 2), (3, 4), (4, 8)]:
        values = [backoff_delay(attempt, rng) for _ in range(200)]
        assert all(cap * C.BACKOFF_BASE_S / 2 <= v <= cap * C.BACKOFF_BASE_S for v in values)
        assert len(set(values)) > 100  # jittered, so that rows retried together do not return together
    assert backoff_delay(50, rng) <= C.BACKOFF_MAX_S


REQUEST = httpx2.Request("POST", "http://x.test/v1/chat/completions")


def status_error(status: int, body: object, headers: dict | None = None) -> openai.APIStatusError:
    """The exception the real SDK raises for this response."""
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response = httpx2.Response(status, headers=headers or {}, content=content, request=REQUEST)
    return openai.OpenAI(api_key="x", base_url="http://x.test/v1")._make_status_error_from_response(response)


@pytest.mark.parametrize(
    "status, body, headers, kind",
    [
        (429, {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}, {"retry-after-ms": "300"}, ErrorKind.RATE_LIMITED),
        (429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, {}, ErrorKind.KEY_DEAD),
        (401, {"error": {"message": "Incorrect API key provided"}}, {}, ErrorKind.KEY_DEAD),
        (403, {"error": {"message": "Not allowed"}}, {}, ErrorKind.KEY_DEAD),
        (402, {"error": {"message": "Insufficient Balance"}}, {}, ErrorKind.KEY_DEAD),
        (400, {"error": {"message": "maximum context length"}}, {}, ErrorKind.ROW_BAD),
        (404, {"error": {"message": "The model `x` does not exist"}}, {}, ErrorKind.ROW_BAD),
        (422, {"detail": [{"msg": "field required"}]}, {}, ErrorKind.ROW_BAD),
        (408, {"error": {"message": "timeout"}}, {}, ErrorKind.RETRY),
        (409, {"error": {"message": "conflict"}}, {}, ErrorKind.RETRY),
        (500, {"error": {"message": "boom"}}, {}, ErrorKind.RETRY),
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", {}, ErrorKind.RETRY),
        (503, {"error": {"message": "overloaded"}}, {"retry-after": "2"}, ErrorKind.RETRY),
    ],
)
def test_each_provider_error_falls_in_one_class(status, body, headers, kind):
    failure = classify(status_error(status, body, headers))
    assert failure.kind is kind
    assert failure.status == status
    assert f"({status})" in failure.message


def test_retry_after_is_read_from_429_and_5xx():
    assert classify(status_error(429, {"error": {"message": "slow down"}}, {"retry-after-ms": "300"})).retry_after == pytest.approx(0.3)
    assert classify(status_error(503, {"error": {"message": "busy"}}, {"retry-after": "2"})).retry_after == pytest.approx(2.0)


TOO_LARGE = (
    "Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 45000. "
    "The input or output tokens must be reduced in order to run successfully."
)
RATE_LIMIT_TPM = (
    "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s."
)
MODERATION = {
    "error": {
        "code": 403,
        "message": 'openai/gpt-4o requires moderation on OpenRouter. Your input was flagged for "harassment". No credits were charged.',
        "metadata": {"reasons": ["harassment"], "flagged_input": "you are a terrible person", "provider_name": "openai", "model_slug": "openai/gpt-4o"},
    },
    "user_id": "user_abc",
}
MAX_TOKENS = {
    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
    "type": "invalid_request_error",
    "param": "max_tokens",
    "code": "unsupported_parameter",
}
TEMPERATURE = {
    "message": "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
    "type": "invalid_request_error",
    "param": "temperature",
    "code": "unsupported_value",
}


def openai_error(message: str, type: str | None = None, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


# status, body, headers -> kind and the fields the engine and the UI read
SHAPES = [
    pytest.param(
        429,
        openai_error(TOO_LARGE, "tokens", "rate_limit_exceeded"),
        {},
        ErrorKind.ROW_BAD,
        dict(code="rate_limit_exceeded", type="tokens", limit=30000, requested=45000),
        id="tpm-request-too-large",
    ),
    pytest.param(
        429,
        openai_error("Request too large for gpt-4o on tokens per day (TPD): Limit 90,000, Requested 120,000.", "tokens", "rate_limit_exceeded"),
        {},
        ErrorKind.ROW_BAD,
        dict(limit=90000, requested=120000),
        id="tpd-request-too-large-with-commas",
    ),
    pytest.param(
        429,
        openai_error("Request too large for gpt-4o on tokens per min. Please reduce your prompt.", "tokens", "rate_limit_exceeded"),
        {},
        ErrorKind.ROW_BAD,
        dict(limit=None, requested=None),
        id="request-too-large-without-numbers",
    ),
    pytest.param(429, {"detail": TOO_LARGE}, {}, ErrorKind.ROW_BAD, dict(code=None, limit=30000, requested=45000), id="too-large-from-a-proxy-without-codes"),
    pytest.param(
        429,
        openai_error(RATE_LIMIT_TPM, "tokens", "rate_limit_exceeded"),
        {"retry-after": "2"},
        ErrorKind.RATE_LIMITED,
        dict(type="tokens", limit=30000, requested=2000, retry_after=2.0),
        id="tpm-rate-limit-with-room",
    ),
    pytest.param(
        429,
        openai_error("Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.", "requests", "rate_limit_exceeded"),
        {"retry-after-ms": "300"},
        ErrorKind.RATE_LIMITED,
        dict(type="requests", limit=3, requested=1, retry_after=0.3),
        id="rpm-rate-limit",
    ),
    pytest.param(
        429,
        openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        {},
        ErrorKind.KEY_DEAD,
        dict(code="insufficient_quota"),
        id="insufficient-quota",
    ),
    pytest.param(
        429,
        openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
        {"retry-after": "3600"},
        ErrorKind.RATE_LIMITED,
        dict(retry_after=C.MAX_RETRY_AFTER_S, retry_after_asked=3600.0),
        id="retry-after-clamped",
    ),
    pytest.param(403, MODERATION, {}, ErrorKind.ROW_BAD, dict(code="403"), id="openrouter-moderation"),
    pytest.param(
        403,
        {"error": {"code": 403, "message": "Flagged", "metadata": {"flagged_input": "x"}}},
        {},
        ErrorKind.ROW_BAD,
        {},
        id="moderation-with-only-flagged-input",
    ),
    pytest.param(
        403,
        openai_error("Project does not have access to model gpt-4o", "invalid_request_error", "model_not_found"),
        {},
        ErrorKind.KEY_DEAD,
        dict(code="model_not_found"),
        id="other-403-refuses-the-key",
    ),
    pytest.param(
        403,
        {"error": {"code": 403, "message": "Your input was flagged", "metadata": {"provider_name": "x"}}},
        {},
        ErrorKind.KEY_DEAD,
        {},
        id="403-saying-flagged-without-moderation-metadata",
    ),
    pytest.param(
        503,
        openai_error("overloaded", "server_error", "overloaded"),
        {"x-should-retry": "false"},
        ErrorKind.ROW_BAD,
        dict(status=503, code="overloaded"),
        id="5xx-with-should-retry-false",
    ),
    pytest.param(
        429,
        openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
        {"x-should-retry": "false"},
        ErrorKind.ROW_BAD,
        dict(status=429),
        id="429-with-should-retry-false",
    ),
    pytest.param(408, openai_error("timeout"), {"x-should-retry": "false"}, ErrorKind.ROW_BAD, dict(status=408), id="408-with-should-retry-false"),
    pytest.param(
        400,
        openai_error("maximum context length", "invalid_request_error", "context_length_exceeded"),
        {"x-should-retry": "false"},
        ErrorKind.ROW_BAD,
        {},
        id="final-error-with-should-retry-false-stays",
    ),
    pytest.param(
        401, openai_error("Incorrect API key provided"), {"x-should-retry": "false"}, ErrorKind.KEY_DEAD, {}, id="dead-key-with-should-retry-false-stays"
    ),
    pytest.param(
        400,
        openai_error("try again"),
        {"x-should-retry": "true", "retry-after": "1"},
        ErrorKind.RETRY,
        dict(status=400, retry_after=1.0),
        id="400-with-should-retry-true",
    ),
    pytest.param(401, openai_error("token expired"), {"x-should-retry": "true"}, ErrorKind.RETRY, dict(status=401), id="401-with-should-retry-true"),
    pytest.param(
        429,
        openai_error(TOO_LARGE, "tokens", "rate_limit_exceeded"),
        {"x-should-retry": "true"},
        ErrorKind.ROW_BAD,
        dict(limit=30000, requested=45000),
        id="too-large-stays-final-even-with-should-retry-true",
    ),
    pytest.param(
        429,
        openai_error("Request too large for gpt-4o on tokens per min.", "tokens", "rate_limit_exceeded"),
        {"x-should-retry": "true"},
        ErrorKind.ROW_BAD,
        dict(limit=None),
        id="too-large-without-numbers-stays-final-with-should-retry-true",
    ),
    pytest.param(500, openai_error("boom"), {"x-should-retry": "true"}, ErrorKind.RETRY, {}, id="5xx-with-should-retry-true"),
    pytest.param(503, openai_error("boom"), {"x-should-retry": "maybe"}, ErrorKind.RETRY, {}, id="5xx-with-should-retry-garbage"),
    pytest.param(
        400,
        {"error": MAX_TOKENS},
        {},
        ErrorKind.ROW_BAD,
        dict(code="unsupported_parameter", param="max_tokens", unsupported_param="max_tokens"),
        id="unsupported-max-tokens",
    ),
    pytest.param(
        400,
        {"error": TEMPERATURE},
        {},
        ErrorKind.ROW_BAD,
        dict(code="unsupported_value", param="temperature", unsupported_param="temperature"),
        id="unsupported-temperature",
    ),
    pytest.param(
        400,
        openai_error("Unsupported parameter: 'temperature' is not supported with this model.", "invalid_request_error", "unsupported_parameter", "temperature"),
        {},
        ErrorKind.ROW_BAD,
        dict(unsupported_param="temperature"),
        id="temperature-as-unsupported-parameter",
    ),
    pytest.param(
        400,
        openai_error("Unsupported parameter: 'logprobs' is not supported with this model.", "invalid_request_error", "unsupported_parameter", "logprobs"),
        {},
        ErrorKind.ROW_BAD,
        dict(unsupported_param="logprobs"),
        id="other-unsupported-parameter",
    ),
    pytest.param(
        400,
        {"detail": MAX_TOKENS["message"]},
        {},
        ErrorKind.ROW_BAD,
        dict(code=None, param=None, unsupported_param="max_tokens"),
        id="unsupported-max-tokens-from-a-proxy-without-codes",
    ),
    pytest.param(400, MAX_TOKENS["message"], {}, ErrorKind.ROW_BAD, dict(unsupported_param="max_tokens"), id="unsupported-max-tokens-as-plain-text"),
    pytest.param(
        400,
        openai_error("max_tokens must be at least 1", "invalid_request_error", "invalid_value", "max_tokens"),
        {},
        ErrorKind.ROW_BAD,
        dict(param="max_tokens", unsupported_param=None),
        id="bad-max-tokens-value-is-not-unsupported",
    ),
]


@pytest.mark.parametrize("status, body, headers, kind, fields", SHAPES)
def test_each_error_shape_gets_its_kind_and_fields(status, body, headers, kind, fields):
    failure = classify(status_error(status, body, headers))
    assert failure.kind is kind
    assert failure.status == status
    for name, value in fields.items():
        assert getattr(failure, name) == (pytest.approx(value) if isinstance(value, float) else value), name


def test_a_prompt_above_the_keys_tpm_names_the_limit_and_the_size():
    failure = classify(status_error(429, openai_error(TOO_LARGE, "tokens", "rate_limit_exceeded")))
    assert failure.message == (
        "The prompt is too large for this key's tokens-per-minute limit (429): it needs 45,000 tokens, "
        "the key allows 30,000 per minute. Shorten the prompt or lower max tokens (both count), "
        "or use a key with a higher limit."
    )
    assert failure.retry_after is None  # nothing to wait for: no wait makes it fit


def test_a_moderation_flag_says_why_and_what_was_flagged():
    failure = classify(status_error(403, MODERATION))
    assert failure.message.startswith("The provider's moderation flagged this row (403): openai/gpt-4o requires moderation")
    assert 'Flagged text: "you are a terrible person"' in failure.message
    reasons_not_in_text = {"error": {"code": 403, "message": "Input flagged", "metadata": {"reasons": ["violence", "hate"]}}}
    assert "Reasons: violence, hate." in classify(status_error(403, reasons_not_in_text)).message


def test_should_retry_false_keeps_the_status_and_says_so():
    failure = classify(status_error(503, openai_error("The engine is currently overloaded"), {"x-should-retry": "false"}))
    assert (failure.kind, failure.status) == (ErrorKind.ROW_BAD, 503)
    assert failure.message.endswith("(the provider said not to retry it)")


def test_a_refused_temperature_tells_the_user_to_choose_provider_default():
    failure = classify(status_error(400, {"error": TEMPERATURE}))
    assert "Only the default (1) value is supported" in failure.message
    assert '"provider default"' in failure.message


def test_a_clamped_retry_after_keeps_what_the_provider_asked():
    failure = classify(status_error(429, openai_error("Rate limit reached", "requests", "rate_limit_exceeded"), {"retry-after": "3600"}))
    assert (failure.retry_after, failure.retry_after_asked, failure.retry_after_clamped) == (C.MAX_RETRY_AFTER_S, 3600.0, True)
    assert failure.wait_note() == "the provider asked for 1 h; waiting 5 min"
    short = classify(status_error(429, openai_error("Rate limit reached"), {"retry-after-ms": "1500"}))
    assert (short.retry_after_clamped, short.wait_note()) == (False, "waiting 1.5 s")
    assert classify(status_error(429, openai_error("Rate limit reached"))).wait_note() == ""


@pytest.mark.parametrize(
    "seconds, words",
    [(0.25, "0.25 s"), (1.5, "1.5 s"), (45, "45 s"), (300, "5 min"), (90, "1.5 min"), (3600, "1 h"), (5400, "1.5 h"), (math.inf, "forever")],
)
def test_durations_read_as_a_person_says_them(seconds, words):
    assert describe_seconds(seconds) == words


def test_response_headers_are_kept_lower_cased_and_without_secrets():
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    headers = {
        "X-RateLimit-Remaining-Tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
        "Authorization": f"Bearer {key}",
        "Set-Cookie": "session=abc",
        "X-Echo": f"key={key}",
        "Retry-After": "2",
    }
    failure = classify(status_error(429, openai_error("Rate limit reached"), headers), secrets=[key])
    assert failure.headers["x-ratelimit-remaining-tokens"] == "0"
    assert failure.headers["x-ratelimit-reset-tokens"] == "6m0s"
    assert "authorization" not in failure.headers and "set-cookie" not in failure.headers
    assert all(key not in v for v in failure.headers.values()) and failure.headers["x-echo"] == "key=***"
    assert all(name == name.lower() for name in failure.headers)
    assert key not in repr(failure)


def test_a_failure_is_frozen_all_the_way_down():
    failure = classify(status_error(429, openai_error("Rate limit reached"), {"retry-after": "1"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.kind = ErrorKind.RETRY  # type: ignore[misc]
    with pytest.raises(TypeError):
        failure.headers["retry-after"] = "0"  # type: ignore[index]
    hash(failure)  # the headers do not stop it being hashed
    assert Failure(ErrorKind.RETRY, "x").headers == {}


@pytest.mark.parametrize(
    "body, params, expected",
    [
        ({"error": MAX_TOKENS}, {"max_tokens": 50, "temperature": 1}, {"max_completion_tokens": 50, "temperature": 1}),
        ({"detail": MAX_TOKENS["message"]}, {"max_tokens": 1}, {"max_completion_tokens": 1}),
        ({"error": MAX_TOKENS}, {"temperature": 1}, None),  # nothing to move
        ({"error": MAX_TOKENS}, {"max_tokens": 5, "max_completion_tokens": 5}, None),  # already tried: never loop
        ({"error": TEMPERATURE}, {"max_tokens": 5, "temperature": 0.2}, None),  # the user must choose; no silent change
        (openai_error("maximum context length", "invalid_request_error", "context_length_exceeded"), {"max_tokens": 5}, None),
    ],
)
def test_param_fallback_only_moves_max_tokens_to_max_completion_tokens(body, params, expected):
    before = dict(params)
    assert param_fallback(classify(status_error(400, body)), params) == expected
    assert params == before  # the caller's params are not changed


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"detail": "Invalid API key"}, "Invalid API key"),  # FastAPI-style local servers
        ({"message": "model not loaded"}, "model not loaded"),
        ("upstream connect error", "upstream connect error"),
        ("<html><body><h1>Bad Gateway</h1></body></html>", "Bad Gateway"),
        ({"error": "plain string error"}, "plain string error"),
    ],
)
def test_error_bodies_in_any_shape_give_a_readable_message(body, expected):
    failure = classify(status_error(400, body))
    assert expected in failure.message
    assert "{" not in failure.message


def test_network_failures_and_non_json_bodies_are_retried():
    assert classify(openai.APITimeoutError(request=REQUEST)).kind is ErrorKind.RETRY
    assert classify(openai.APITimeoutError(request=REQUEST)).timeout
    assert classify(openai.APIConnectionError(request=REQUEST)).kind is ErrorKind.RETRY
    assert classify(json.JSONDecodeError("Expecting value", "<html>", 0)).kind is ErrorKind.RETRY
    assert classify(RuntimeError("weird")).kind is ErrorKind.RETRY


def test_keys_echoed_by_a_provider_are_redacted_from_messages():
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    failure = classify(status_error(401, {"error": {"message": f"Incorrect API key provided: {key}"}}), secrets=[key])
    assert key not in failure.message and "***" in failure.message
    # even a key we were not told about, if it looks like one
    assert "abcdefghijklmnop" not in redact(f"bad key {key}")
    assert redact("nothing secret here") == "nothing secret here"


async def test_a_refused_connection_is_unreachable_not_a_billable_timeout():
    # The SDK's aiohttp transport reports this as APITimeoutError; it must not count as a timeout.
    client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0, http_client=openai.DefaultAioHttpClient())
    try:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    except openai.APIConnectionError as exc:
        failure = classify(exc)
    finally:
        await client.close()
    assert failure.kind is ErrorKind.RETRY and not failure.timeout
    assert failure.message.startswith("Could not reach the provider") and "127.0.0.1:9" in failure.message


# --- Each shape from the simulator, through the real SDK --------------------------------------

QUIET_SIM = dict(latency_s=0.0, latency_jitter_s=0.0, error_rate=0.0, rpm=0)


async def failure_from_simulator(prompt: str, *, model: str = "simulated", config: dict | None = None, **params: object) -> Failure:
    from core.simulator import Simulator, SimulatorConfig

    client = Simulator(SimulatorConfig(**{**QUIET_SIM, **(config or {})})).client("sk-sim-0123456789abcdef", max_retries=0)
    try:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], **params)
    except Exception as exc:  # noqa: BLE001 - whatever the SDK raises is what the engine classifies
        return classify(exc, ["sk-sim-0123456789abcdef"])
    finally:
        await client.close()
    raise AssertionError("the simulator answered 200")


@pytest.mark.parametrize(
    "prompt, config, params, kind, fields",
    [
        pytest.param(
            "SIMULATE_TPM_TOO_LARGE",
            {},
            {},
            ErrorKind.ROW_BAD,
            dict(status=429, code="rate_limit_exceeded", type="tokens", limit=30000, requested=45000, retry_after=None),
            id="tpm-too-large",
        ),
        pytest.param(
            "SIMULATE_TPM_TOO_LARGE",
            {"error_style": "detail"},
            {},
            ErrorKind.ROW_BAD,
            dict(status=429, code=None, limit=30000, requested=45000),
            id="tpm-too-large-from-a-detail-server",
        ),
        pytest.param("SIMULATE_MODERATION", {}, {}, ErrorKind.ROW_BAD, dict(status=403, code="403"), id="moderation"),
        pytest.param("SIMULATE_NO_RETRY", {}, {}, ErrorKind.ROW_BAD, dict(status=503, code="overloaded"), id="no-retry"),
        pytest.param("SIMULATE_SHOULD_RETRY", {}, {}, ErrorKind.RETRY, dict(status=400), id="should-retry"),
        pytest.param(
            "SIMULATE_LONG_RETRY_AFTER",
            {},
            {},
            ErrorKind.RATE_LIMITED,
            dict(status=429, retry_after=C.MAX_RETRY_AFTER_S, retry_after_asked=3600.0, limit=10000, requested=1),
            id="long-retry-after",
        ),
        pytest.param("SIMULATE_BAD_REQUEST", {}, {}, ErrorKind.ROW_BAD, dict(status=400, code="context_length_exceeded", param="messages"), id="bad-request"),
        pytest.param(
            "1 + 1",
            {"reasoning_models": frozenset({"o3"})},
            {"max_tokens": 5},
            ErrorKind.ROW_BAD,
            dict(status=400, code="unsupported_parameter", param="max_tokens", unsupported_param="max_tokens"),
            id="reasoning-max-tokens",
        ),
        pytest.param(
            "1 + 1",
            {"reasoning_models": frozenset({"o3"}), "error_style": "text"},
            {"max_tokens": 5},
            ErrorKind.ROW_BAD,
            dict(status=400, code=None, unsupported_param="max_tokens"),
            id="reasoning-max-tokens-as-plain-text",
        ),
        pytest.param(
            "1 + 1",
            {"reasoning_models": frozenset({"o3"})},
            {"temperature": 0.2},
            ErrorKind.ROW_BAD,
            dict(status=400, code="unsupported_value", unsupported_param="temperature"),
            id="reasoning-temperature",
        ),
    ],
)
async def test_the_simulator_produces_each_shape_through_the_real_sdk(prompt, config, params, kind, fields):
    model = "o3" if config.get("reasoning_models") else "simulated"
    failure = await failure_from_simulator(prompt, model=model, config=config, **params)
    assert failure.kind is kind, failure.message
    for name, value in fields.items():
        assert getattr(failure, name) == (pytest.approx(value) if isinstance(value, float) else value), name
    assert "sk-sim-0123456789abcdef" not in failure.message


async def test_an_ordinary_rate_limit_from_the_simulator_keeps_its_numbers_and_headers():
    from core.simulator import Simulator, SimulatorConfig

    client = Simulator(SimulatorConfig(**{**QUIET_SIM, "rpm": 1})).client("sk-a", max_retries=0)
    messages = [{"role": "user", "content": "1 + 1"}]
    await client.chat.completions.create(model="simulated", messages=messages)  # the bucket holds one
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="simulated", messages=messages)
    await client.close()
    failure = classify(caught.value)
    assert (failure.kind, failure.type, failure.limit, failure.requested) == (ErrorKind.RATE_LIMITED, "requests", 1, 1)
    assert failure.retry_after is not None and not failure.retry_after_clamped
    assert failure.headers["x-ratelimit-remaining-requests"] == "0"  # what the adaptive limiter will read


async def test_a_reasoning_model_is_answered_after_the_shared_fallback():
    from core.simulator import Simulator, SimulatorConfig

    params = {"max_tokens": 5}
    failure = await failure_from_simulator("1 + 1", model="o3", config={"reasoning_models": frozenset({"o3"})}, **params)
    fallback = param_fallback(failure, params)
    assert fallback == {"max_completion_tokens": 5}
    client = Simulator(SimulatorConfig(**QUIET_SIM, reasoning_models=frozenset({"o3"}))).client("sk-a", max_retries=0)
    reply = await client.chat.completions.create(model="o3", messages=[{"role": "user", "content": "1 + 1"}], **fallback)
    await client.close()
    assert reply.choices[0].message.content == "2"
