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

from core import constants as C
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
    args = [
        "--base-url",
        server.base_url,
        "--model",
        "simulated",
        "--keys-env",
        "KEYS",
        "--rpm",
        "60000",
        "--concurrency",
        str(concurrency),
        "--output",
        str(out),
        "--data-dir",
        str(data),
    ]
    env = {**os.environ, "KEYS": "sk-crash"}

    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "run", str(src), "--template", TEMPLATE, *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    run_id = proc.stderr.readline().removeprefix("run: ").strip()
    assert wait_for(lambda: finished_rows(data) >= 60, timeout=60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    done_at_kill = finished_rows(data)
    assert 0 < done_at_kill < n, "the kill must land in the middle of the run"

    resumed = subprocess.run(
        [sys.executable, "-m", "core", "run", str(src), *args, "--resume", run_id], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr

    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    expected = arithmetic_frame(n)
    assert list(table["id"]) == list(expected["id"])  # every input row once, in order
    assert list(table["output"]) == list(expected["answer"]) and set(table["status"]) == {"ok"}

    prompts = Counter(server.stats()["sk-crash"]["prompts"])
    assert len(prompts) == n
    paid_twice = sum(c - 1 for c in prompts.values())
    # only what was in flight when the process died, and the writer's last unflushed batch, can
    # have been answered but not recorded
    assert paid_twice <= concurrency + C.WRITE_BATCH_ROWS


# A stand-in for the engine that pays for a row (a line on stdout, read by the test) and then
# hands it to the result writer, holding back while a batch's worth is unsaved, as the engine does.
WRITER_CHILD = """
import sys
import pandas as pd
from core import constants as C
from core.spec import RunSpec
from core.store import RowResult, RunStore
from core.writer import ResultWriter

n = int(sys.argv[2])
store = RunStore(sys.argv[1])
run_id = store.create_run(RunSpec(template="{q}"), pd.DataFrame({"q": [str(i) for i in range(n)]}, dtype=object), [], run_id="crash")
writer = ResultWriter(store)
print("ready", flush=True)
for i in range(n):
    if writer.backlog >= C.WRITE_BATCH_ROWS:
        writer.flush()
    print(i, flush=True)  # paid
    writer.record(run_id, RowResult(row=i, status="ok", output=str(i)))
writer.close()
"""


def test_kill_9_of_a_process_saving_through_the_writer_loses_at_most_one_batch_and_keeps_a_prefix(tmp_path):
    from core.store import RowResult, RunStore
    from core.writer import ResultWriter

    n = 20_000
    data = tmp_path / "d"
    proc = subprocess.Popen([sys.executable, "-c", WRITER_CHILD, str(data), str(n)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    for _ in range(3_000):  # the child runs ahead until the pipe is full, then waits for us
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    paid = {int(line) for line in proc.stdout.read().split() if line.strip()} | set(range(3_000))
    assert len(paid) < n, "the kill must land in the middle of the run"

    store = RunStore(data)
    assert store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    pending = store.pending_rows("crash")
    saved = set(range(n)) - set(pending)
    assert saved == set(range(len(saved))), "whole batches in order: the saved rows are a prefix"
    assert saved <= paid and len(paid - saved) <= C.WRITE_BATCH_ROWS

    writer = ResultWriter(store)  # resume: every pending row is sent (paid) again
    for i in pending:
        writer.record("crash", RowResult(row=i, status="ok", output=str(i)))
    assert writer.close()
    assert store.pending_rows("crash") == [] and len(store.results("crash")) == n
    assert len(paid & set(pending)) <= C.WRITE_BATCH_ROWS  # paid twice


def assert_consistent(store, run_id: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """What must hold at any stop: one result at most per input row, valid statuses, counts
    that add up, and every finished row carrying its output or its reason."""
    record = store.get_run(run_id)
    results = store.results(run_id)
    rows = [r["row"] for r in results]
    assert len(rows) == len(set(rows)) and all(0 <= r < n for r in rows)
    assert record.done == len(results) and record.done + len(store.pending_rows(run_id)) == n
    for r in results:
        assert r["status"] in ("ok", "unparsed", "failed")
        assert r["output"] is not None if r["status"] == "ok" else r["error"]
    table = store.results_table(run_id)
    assert len(table) == n and list(table.index) == list(range(n))


def test_cancel_resume_and_retry_failed_in_the_middle_leave_the_store_consistent(harness, store):
    from core.runs import resume_run, start_run
    from core.spec import RunSpec

    h = harness(rpm=3000, latency_s=0.01, p_5xx=0.2, seed=5)
    n = 300
    frame = arithmetic_frame(n)
    frame.loc[[7, 150], "question"] = "SIMULATE_BAD_REQUEST"  # two rows that always fail
    spec = RunSpec(template="Compute {question}", concurrency=8, max_attempts=3, use_cache=False)
    keys = h.keys("k1", "k2", rpm=3000)

    handle = start_run(store, frame, spec, keys, runner=h.runner)
    assert wait_for(lambda: handle.snapshot().done >= 60)
    handle.cancel()
    assert handle.wait(5)
    assert store.get_run(handle.run_id).status == "cancelled"
    assert_consistent(store, handle.run_id, n)

    again = resume_run(store, handle.run_id, keys, runner=h.runner)
    assert wait_for(lambda: again.snapshot().done >= 180)
    again.cancel()
    assert again.wait(5)
    assert_consistent(store, handle.run_id, n)

    final = resume_run(store, handle.run_id, keys, retry_failed=True, runner=h.runner)
    assert final.wait(60)
    assert_consistent(store, handle.run_id, n)
    record = store.get_run(handle.run_id)
    assert record.status == "done" and record.pending == 0
    table = store.results_table(handle.run_id)
    assert set(table.loc[[7, 150], "status"]) == {"failed"}
    ok = table["status"] == "ok"
    assert (table.loc[ok, "output"] == frame.loc[ok, "answer"]).all()


def test_ctrl_c_lets_the_requests_already_sent_finish_and_keeps_every_paid_answer(tmp_path, sim_server):
    server = sim_server("--latency", "3", "--jitter", "0", "--error-rate", "0", "--rpm", "0")
    src = tmp_path / "in.csv"
    arithmetic_frame(40).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    args = [
        "--base-url",
        server.base_url,
        "--model",
        "simulated",
        "--keys-env",
        "KEYS",
        "--rpm",
        "60000",
        "--concurrency",
        "4",
        "--output",
        str(out),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    env = {**os.environ, "KEYS": "sk-ctrl-c"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "run", str(src), "--template", TEMPLATE, *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_for(lambda: sum(s["requests"] for s in server.stats().values()) >= 4, timeout=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Finishing the requests already sent" in err and "--resume" in err
    answered = sum(s["ok"] for s in server.stats().values())
    table = pd.read_csv(out, dtype=str)
    assert answered >= 4  # the four in flight at the Ctrl-C were answered ...
    assert (table["status"] == "ok").sum() == answered  # ... and every paid answer is in the file
