"""A key check's verdict read as a likely cause: real checks against the simulator and a closed
port, and the messages of network failures that cannot be made here (DNS) as a table."""

from __future__ import annotations

import pytest

from core.keycheck import KeyCheck, check_keys_async
from core.keys import KeyEntry
from core.keyverdict import DIAGNOSES, diagnose
from core.simulator import Simulator, SimulatorConfig
from tests.conftest import free_port

DEAD, BROKE, GOOD = "sk-dead-0123456789abcdef", "sk-broke-0123456789abcdef", "sk-good-0123456789abcdef"


def entry(api_key: str, model: str = "simulated", base_url: str = "http://sim.test/v1") -> KeyEntry:
    return KeyEntry("Test", base_url, model, api_key, 600)


async def test_wrong_key_no_quota_unknown_model_and_a_closed_port_each_name_their_cause():
    s = Simulator(
        SimulatorConfig(latency_s=0.0, latency_jitter_s=0.0, dead_keys=frozenset({DEAD}), no_quota_keys=frozenset({BROKE}), models=frozenset({"simulated"}))
    )
    closed = f"http://127.0.0.1:{free_port()}/v1"
    keys = [entry(DEAD), entry(BROKE), entry(GOOD, model="gpt-9"), entry(GOOD)]
    checks = await check_keys_async(keys, client_factory=lambda e, timeout: s.client(e.api_key, timeout=timeout, max_retries=0))
    checks += await check_keys_async([entry(GOOD, base_url=closed)], timeout=5)
    found = [diagnose(c, k.base_url, k.model) for c, k in zip(checks, [*keys, entry(GOOD, base_url=closed)])]
    assert [d.code for d in found] == ["wrong_key", "no_quota", "model_not_found", "ok", "refused"]
    assert found[0].detail == "Incorrect API key provided"  # the provider's words, kept apart
    assert found[4].params["host"] == "127.0.0.1"


def check(verdict: str, message: str) -> KeyCheck:
    return KeyCheck("fp", "sk-...abcd", verdict == "ok", verdict, message, None)


@pytest.mark.parametrize(
    ("verdict", "message", "code"),
    [
        (
            "unreachable",
            "The provider could not be reached at https://api.openai.com/v1: check the base URL (Cannot connect to host api.openai.com:443 ssl:default [Name or service not known])",
            "dns",
        ),
        (
            "unreachable",
            "The provider could not be reached at https://api.openai.com/v1: check the base URL ([Errno -3] Temporary failure in name resolution)",
            "dns",
        ),
        (
            "unreachable",
            "The provider could not be reached at https://api.openai.com/v1: check the base URL (Cannot connect to host api.openai.com:443 ssl:True [SSLCertVerificationError])",
            "unreachable",
        ),
        ("unreachable", "No answer within 20 s: check the base URL", "timeout"),
        ("invalid_key", "This key is not allowed to use this model or endpoint (403): no access", "forbidden"),
        ("unknown_model", "Unknown model 'gpt-4o-mini' (404): 404 page not found (check the model name and the base URL)", "wrong_url"),
        ("unknown_model", "Unknown model 'gpt-4o-mini' (404): Not Found (check the model name and the base URL)", "wrong_url"),
        ("unknown_model", "Unknown model 'gpt-4o-mini' (404): no such thing (check the model name and the base URL)", "url_or_model"),
        ("error", "The base URL answered, but not like an OpenAI-compatible API: check the base URL", "not_api"),
        ("rate_limited", "The key is valid but rate limited right now (429; try again in 3 s): slow down", "rate_limited"),
        ("error", "The provider had a server error (500)", "error"),
    ],
)
def test_messages_read_as_a_likely_cause(verdict, message, code):
    found = diagnose(check(verdict, message), "https://api.openai.com/v1", "gpt-4o-mini")
    assert found.code == code and found.code in DIAGNOSES
    assert found.params["host"] == "api.openai.com"
