"""kill -9 of the command line while a batch is at the provider, then resume: the stored batch is
polled, never submitted again, and every row is answered once (counted by the simulator)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pandas as pd

from tests.conftest import ROOT, arithmetic_frame

TEMPLATE = "Compute {question}. Reply with the number only."


def batches(server) -> dict:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/_sim/batches", timeout=10) as r:
        return json.loads(r.read())


def test_kill_9_of_the_command_line_during_a_batch_then_resume_polls_the_same_batch(tmp_path, sim_server):
    # A batch that would take an hour: it is in progress when the command line dies.
    server = sim_server("--latency", "0", "--error-rate", "0", "--rpm", "0", "--batch-completion", "3600")
    n = 40
    src = tmp_path / "in.csv"
    arithmetic_frame(n).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    args = ["--base-url", server.base_url, "--model", "simulated", "--keys-env", "KEYS", "--output", str(out), "--data-dir", str(tmp_path / "d")]
    env = {**os.environ, "KEYS": "sk-batch-crash"}

    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "run", str(src), "--template", TEMPLATE, "--batch", *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    run_id = proc.stderr.readline().removeprefix("run: ").strip()
    line = proc.stderr.readline()  # printed as soon as the batch exists, stored before
    while line.startswith("["):  # a progress line: on a loaded machine the first one can come before the batch exists
        line = proc.stderr.readline()
    assert line.startswith("batch: batch_sim"), line
    batch_id = line.split()[1]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert batches(server)["created"] == [[batch_id, batches(server)["created"][0][1]]]
    assert batches(server)["answered"] == {}

    server.post("/_sim/batches/finish", {})  # the provider finishes while nobody watches
    resumed = subprocess.run(
        [sys.executable, "-m", "core", "run", str(src), *args, "--resume", run_id], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"batch: {batch_id}" in resumed.stderr

    seen = batches(server)
    assert len(seen["created"]) == 1  # one file, one batch: never submitted again
    assert sorted(seen["answered"]) == sorted(f"{run_id}:{i}" for i in range(n)) and set(seen["answered"].values()) == {1}
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(table["output"]) == list(arithmetic_frame(n)["answer"]) and set(table["status"]) == {"ok"}
    assert server.stats() == {} or all(s["requests"] == 0 for s in server.stats().values())  # nothing sent now
