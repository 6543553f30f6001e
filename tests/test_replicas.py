"""Several processes on one data folder and one key, for real: processes of the command line
(`python -m core run`) against the simulated provider over loopback HTTP, a real redis-server,
kill -9. What is asserted is counted: rows in the store, requests at the provider and their arrival
times on its clock, lines the processes printed; never how long something took."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from core import constants as C
from tests.conftest import ROOT, arithmetic_frame, wait_for
from tests.test_engine import max_in_window

TEMPLATE = "Compute {question}. Reply with the number only."
pytestmark = pytest.mark.slow  # four processes of the command line and a lease's TTL of waiting


def finished_rows(data_dir: Path) -> int:
    try:
        with sqlite3.connect(data_dir / C.DB_FILENAME, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet
        return 0


class Cli:
    """`python -m core ...` in its own process; its stderr read as it comes (`lines`)."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def wait(self, timeout: float = 180) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        return code

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def test_a_run_is_refused_or_waited_for_while_another_process_runs_it_and_taken_over_after_kill_9_once_its_lease_expires(tmp_path, sim_server):
    server = sim_server("--latency", "0.05", "--jitter", "0.01", "--error-rate", "0", "--rpm", "0")
    n = 200
    src, data, out = tmp_path / "in.csv", tmp_path / "d", tmp_path / "out.csv"
    arithmetic_frame(n).to_csv(src, index=False)
    common = ["--base-url", server.base_url, "--model", "simulated", "--keys-env", "KEYS", "--concurrency", "2", "--output", str(out), "--data-dir", str(data)]
    # The first process runs as on another machine that shares the disk: its pid means nothing
    # here, so only its lease's expiry (LEASE_TTL_S, shortened to 10 s) can free the run.
    lease = {C.LEASE_TTL_ENV: "10"}
    first = Cli("run", str(src), "--template", TEMPLATE, *common, "--rpm", "120", env={**lease, "KEYS": "sk-first", C.LEASE_HOST_ENV: "replica-a"})
    try:
        assert wait_for(lambda: first.said("run: "), timeout=60)
        run_id = first.lines[0].removeprefix("run: ").strip()
        assert wait_for(lambda: finished_rows(data) >= 5, timeout=60)

        refused = subprocess.run(
            [sys.executable, "-m", "core", "run", str(src), *common, "--resume", run_id], cwd=ROOT, env={**os.environ, **lease, "KEYS": "sk-refused"},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert "running in another process" in refused.stderr and "on replica-a" in refused.stderr
        listed = subprocess.run([sys.executable, "-m", "core", "list", "--data-dir", str(data)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert f"{run_id}  running (in process {first.proc.pid} on replica-a)" in listed.stdout

        waiter = Cli("run", str(src), *common, "--rpm", "6000", "--concurrency", "4", "--resume", run_id, "--wait", env={**lease, "KEYS": "sk-waiter"})
        assert wait_for(lambda: waiter.said("waiting: run"), timeout=60)
        done_then = finished_rows(data)
        assert wait_for(lambda: finished_rows(data) > done_then + 2, timeout=60)  # the first one goes on meanwhile
        stats = server.stats()
        assert "sk-refused" not in stats and "sk-waiter" not in stats  # neither sent one request while the run was held
        assert not waiter.said("run: ")
        os.kill(first.proc.pid, signal.SIGKILL)
        first.wait(30)
        done_at_kill = finished_rows(data)
        assert done_at_kill < n, "the kill must land in the middle of the run"

        assert waiter.wait() == 0, waiter.text
    finally:
        for cli in (first, locals().get("waiter")):
            if cli is not None and cli.proc.poll() is None:
                cli.proc.kill()
    assert waiter.said(f"run: {run_id}")
    assert "in process" in waiter.text and "on replica-a" in waiter.text
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    expected = arithmetic_frame(n)
    assert list(table["id"]) == list(expected["id"]) and list(table["output"]) == list(expected["answer"]) and set(table["status"]) == {"ok"}
    stats = server.stats()
    assert stats["sk-waiter"]["requests"] > 0
    prompts = Counter(stats["sk-first"]["prompts"] + stats["sk-waiter"]["prompts"])
    assert len(prompts) == n
    assert sum(c - 1 for c in prompts.values()) <= 2 + C.WRITE_BATCH_ROWS  # in flight at the kill, and the writer's last batch


def two_engines(tmp_path: Path, base_url: str, rows: int, env: dict[str, str]) -> list[Cli]:
    """Two processes of the command line, each with a table of its own, on one key and one data folder."""
    clis = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, start in (("a", 1000), ("b", 5000)):
        src = tmp_path / f"{name}.csv"
        arithmetic_frame(rows, start=start).to_csv(src, index=False)
        args = [
            "run", str(src), "--template", TEMPLATE, "--base-url", base_url, "--model", "simulated", "--keys-env", "KEYS", "--rpm", "600",
            "--concurrency", "4", "--output", str(tmp_path / f"{name}-out.csv"), "--data-dir", str(tmp_path / "data"),
        ]  # fmt: skip
        clis.append(Cli(*args, env={"KEYS": "sk-one-key", **env}))
    for cli in clis:
        assert cli.wait() == 0, cli.text
    return clis


def overlap(prompts: list[str]) -> int:
    """Answers to one process that came between the first and last answers to the other: they ran together."""
    mine = [int(p.split()[1]) < 5000 for p in prompts]  # "Compute 1003 + 2006. ...": a's rows start at 1000, b's at 5000
    b = [i for i, m in enumerate(mine) if not m]
    return sum(1 for i in range(b[0], b[-1]) if mine[i]) if b else 0


def test_two_engine_processes_on_one_key_stay_within_its_limit_together_through_redis_and_go_over_it_without(tmp_path, sim_server, redis_server):
    """The provider allows the key 600 requests/min (10/s, with a burst of 10); each process is told
    600/min too, which is right for one process alone. Through Redis the two keep it together;
    without, each goes at it, and the provider answers with 429s."""
    rows = 80
    limit = ["--rpm", "600", "--no-limit-headers", "--latency", "0.05", "--jitter", "0.01", "--error-rate", "0"]
    shared_server, alone_server = sim_server(*limit), sim_server(*limit)

    two_engines(tmp_path / "shared", shared_server.base_url, rows, {C.REDIS_URL_ENV: redis_server.url})
    shared = shared_server.stats()["sk-one-key"]
    assert len(set(shared["prompts"])) == 2 * rows
    assert overlap(shared["prompts"]) >= rows // 2  # the two processes really sent at the same time
    assert shared["rate_limited"] <= max(2, shared["requests"] // 50)  # none, or next to none
    arrived = sorted(shared["arrived"])
    # The provider's own rule: at most 10 a second, plus its burst of 10, in any window.
    for window in (1.0, 2.0, 5.0):
        assert max_in_window(arrived, window) <= 10 * window + 10, window

    two_engines(tmp_path / "alone", alone_server.base_url, rows, {})
    alone = alone_server.stats()["sk-one-key"]
    assert len(set(alone["prompts"])) == 2 * rows and overlap(alone["prompts"]) >= rows // 4
    assert alone["rate_limited"] > max(5, 3 * shared["rate_limited"])
    assert max_in_window(sorted(alone["arrived"]), 5.0) > 10 * 5 + 10  # more than the provider allows
