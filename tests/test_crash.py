"""Crash and restart: kill -9 in the middle of a run, resume it, and count on the provider's side
that nothing was lost and nothing that had succeeded was paid for twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from tests.conftest import ROOT, arithmetic_frame, wait_for

TEMPLATE = "Compute {question}. Reply with the number only."


def finished_rows(data_dir: Path) -> int:
    db = data_dir / "runs.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the tables are being created
        return 0


def test_kill_9_of_the_command_line_then_resume_loses_nothing_and_pays_at_most_the_in_flight_twice(tmp_path, sim_server):
    server = sim_server("--latency", "0.05", "--jitter", "0.01", "--error-rate", "0", "--rpm", "0")
    n, concurrency = 300, 4
    src = tmp_path / "in.csv"
    arithmetic_frame(n).to_csv(src, index=False)
    data = tmp_path / "d"
    out = tmp_path / "out.csv"
    args = ["--base-url", server.base_url, "--model", "simulated", "--keys-env", "KEYS", "--rpm", "60000", "--concurrency", str(concurrency), "--output", str(out), "--data-dir", str(data)]
    env = {**os.environ, "KEYS": "sk-crash"}

    proc = subprocess.Popen([sys.executable, "-m", "core", "run", str(src), "--template", TEMPLATE, *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    run_id = proc.stderr.readline().removeprefix("run: ").strip()
    assert wait_for(lambda: finished_rows(data) >= 60, timeout=60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    done_at_kill = finished_rows(data)
    assert 0 < done_at_kill < n, "the kill must land in the middle of the run"

    resumed = subprocess.run([sys.executable, "-m", "core", "run", str(src), *args, "--resume", run_id], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr

    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    expected = arithmetic_frame(n)
    assert list(table["id"]) == list(expected["id"])  # every input row once, in order
    assert list(table["output"]) == list(expected["answer"]) and set(table["status"]) == {"ok"}

    prompts = Counter(server.stats()["sk-crash"]["prompts"])
    assert len(prompts) == n
    paid_twice = sum(c - 1 for c in prompts.values())
    # only what was in flight when the process died can have been answered but not recorded
    assert paid_twice <= concurrency
