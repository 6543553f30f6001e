from __future__ import annotations

import email.utils
import json
import random

import httpx2
import openai
import pytest

from core import constants as C
from core.errors import ErrorKind, backoff_delay, classify, parse_retry_after, redact

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


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
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
