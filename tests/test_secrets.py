"""API keys never reach the store, the data folder, exports, logs, error messages or progress,
even when a provider echoes a key back in its error message."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import httpx2
import openai
import pytest

from core.exports import export_bytes
from core.keys import KeyEntry
from core.runner import Runner
from core.runs import start_run
from core.simulator import Simulator, SimulatorConfig
from core.spec import RunSpec
from tests.conftest import ROOT, arithmetic_frame

GOOD = "sk-live-GOOD-0123456789abcdefghijklmnop"
ECHOED = "sk-live-ECHO-abcdefghijklmnop0123456789"
SECRETS = (GOOD, ECHOED)


def leaks(blob: bytes | str) -> list[str]:
    """Which secrets (or a long enough piece of one) appear in the blob."""
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    return [s for s in SECRETS if s in text or s[8:30] in text]


def factory(sim: Simulator):  # type: ignore[no-untyped-def]
    """The good key goes to the simulator; the other reaches a provider that echoes it back."""

    def echo(request: httpx2.Request) -> httpx2.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        return httpx2.Response(401, json={"error": {"message": f"Incorrect API key provided: {key}. You can find your key at ...", "code": "invalid_api_key"}})

    def make(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
        if entry.api_key == ECHOED:
            return openai.AsyncOpenAI(
                api_key=entry.api_key, base_url=entry.base_url, max_retries=0, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(echo))
            )
        return sim.client(entry.api_key, timeout=timeout, max_retries=0)

    return make


def test_keys_reach_no_file_export_log_or_message(tmp_path, caplog, store):
    caplog.set_level(logging.DEBUG)  # everything the SDK, httpx2 and aiohttp log
    sim = Simulator(SimulatorConfig(rpm=0, latency_s=0.001, latency_jitter_s=0, error_rate=0))
    runner = Runner(client_factory=factory(sim))
    keys = [KeyEntry("Test", "http://provider.test/v1", "simulated", k, 6000) for k in SECRETS]
    frame = arithmetic_frame(30)
    frame.loc[3, "question"] = "SIMULATE_BAD_REQUEST"  # a failed row, with its error message stored
    handle = start_run(store, frame, RunSpec(template="Compute {question}", json_fields=()), keys, runner=runner)
    assert handle.wait(30)
    snap = handle.snapshot()
    runner.shutdown()

    echoed = next(k for k in snap.keys if k.fingerprint == keys[1].fingerprint)
    assert echoed.state == "dead" and "Incorrect API key provided" in (echoed.dead_reason or "")
    assert not leaks(repr(snap)), "progress snapshot"
    assert snap.failed == 1 and snap.ok == 29

    store.close()
    for path in sorted(store.data_dir.rglob("*")):
        if path.is_file():
            assert not leaks(path.read_bytes()), path
    table = store.results_table(handle.run_id, details=True)
    for fmt in ("csv", "xlsx", "jsonl"):
        assert not leaks(export_bytes(table, fmt)), fmt
    assert not leaks(caplog.text), "logs"
    assert not leaks(repr(store.get_run(handle.run_id))), "run record"


def test_the_command_line_never_prints_a_key(tmp_path, sim_server):
    server = sim_server("--latency", "0", "--jitter", "0", "--rpm", "0", "--dead-key", ECHOED)
    src = tmp_path / "in.csv"
    arithmetic_frame(10).to_csv(src, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "core", "run", str(src), "--template", "Compute {question}", "--base-url", server.base_url, "--model", "simulated", "--keys-env", "KEYS", "--output", str(tmp_path / "out.csv"), "--data-dir", str(tmp_path / "d")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "KEYS": f"{GOOD},{ECHOED}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not leaks(result.stdout + result.stderr)
    for path in (tmp_path / "d").rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes()), path
    assert not leaks((tmp_path / "out.csv").read_bytes())


@pytest.mark.parametrize("secret", SECRETS)
def test_keys_are_not_in_any_repr(secret):
    entry = KeyEntry("Test", "http://provider.test/v1", "m", secret, 60)
    assert not leaks(repr(entry)) and not leaks(repr(entry.info())) and not leaks(repr([entry]))
