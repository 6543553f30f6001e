"""The writer thread: batched commits, in order, and a full disk that is survived."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from core import constants as C
from core.store import RowResult, RunStore
from core.writer import ResultWriter
from tests.conftest import arithmetic_frame
from tests.test_engine_v2 import SPEC, Run, key, sim_factory, simulator
from tests.vclock import vrun


def new_run(store: RunStore, n: int = 3) -> str:
    return store.create_run(SPEC, arithmetic_frame(n).astype(str), [key("k").info()])


def count_commits(store: RunStore) -> list[int]:
    commits = [0]

    def hook(conn: sqlite3.Connection) -> None:
        if threading.current_thread().name == "llm-batch-writer":
            conn.set_trace_callback(lambda sql: commits.__setitem__(0, commits[0] + (sql.strip().upper() == "COMMIT")))

    store.connect_hook = hook
    return commits


def test_rows_are_committed_in_batches_not_one_transaction_each(store):
    run_id = new_run(store, 1000)
    commits = count_commits(store)
    writer = ResultWriter(store, max_rows=100, interval_s=60)  # only full batches or a flush cut it
    for i in range(1000):
        writer.record(run_id, RowResult(row=i, status="ok", output=str(i)))
    assert writer.flush(30)
    writer.close()
    assert store.get_run(run_id).ok == 1000
    assert 10 <= commits[0] <= 20  # a thousand rows, about ten transactions


def test_a_status_lands_after_the_rows_recorded_before_it(store):
    run_id = new_run(store, 2)
    seen: list[tuple[str, int]] = []
    writer = ResultWriter(store)
    writer.record(run_id, RowResult(row=0, status="ok", output="a"))
    writer.record(run_id, RowResult(row=1, status="ok", output="b"))
    writer.set_status(run_id, "done", "Finished")
    assert writer.flush(30)
    writer.close()
    record = store.get_run(run_id)
    seen.append((record.status, record.ok))
    assert seen == [("done", 2)]


def test_a_full_disk_fails_the_commit_keeps_the_rows_and_saves_them_once_space_is_freed(store, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", 0.01)
    run_id = new_run(store, 50)
    full = {"on": True}

    def hook(conn: sqlite3.Connection) -> None:
        if full["on"] and threading.current_thread().name == "llm-batch-writer":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on

    store.connect_hook = hook
    errors: list[BaseException] = []
    writer = ResultWriter(store, on_error=errors.append)
    for i in range(50):
        writer.record(run_id, RowResult(row=i, status="ok", output="x" * 2000))
    assert not writer.flush(30)
    assert errors and "full" in str(errors[0]).lower() and isinstance(writer.error, sqlite3.Error)
    assert store.get_run(run_id).done == 0  # nothing is marked saved that was not
    full["on"] = False  # space freed: the writer's next try opens a fresh connection
    assert writer.flush(30)
    assert writer.error is None and len(errors) == 1
    writer.close()
    assert store.get_run(run_id).ok == 50


def test_a_run_whose_store_fills_up_stops_and_a_resume_after_freeing_space_finishes_it(store, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", 0.01)
    monkeypatch.setattr(C, "WRITE_GIVE_UP_S", 0.2)
    full = {"on": False}

    def hook(conn: sqlite3.Connection) -> None:
        if full["on"] and threading.current_thread().name == "llm-batch-writer":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")

    store.connect_hook = hook

    async def main() -> tuple[str, str, int, str, int]:
        sim = simulator(latency_s=0.05)
        frame = arithmetic_frame(200)
        full["on"] = True
        run = Run(store, frame, SPEC, [key("k")], sim_factory(sim))
        state = await run.end()
        message = store.get_run(run.run_id).message or run.tracker.snapshot().message
        saved = store.get_run(run.run_id).done
        full["on"] = False
        # resume: a fresh engine on the rows still pending
        pending = store.pending_rows(run.run_id)
        again = Run.__new__(Run)
        again.store, again.run_id, again.tracker = store, run.run_id, None
        from core.engine import BatchEngine
        from core.limits import GateRegistry
        from core.progress import ProgressTracker

        again.tracker = ProgressTracker(run.run_id, len(frame), [key("k").info()], clock=asyncio.get_running_loop().time)
        again.engine = BatchEngine(
            run_id=run.run_id, store=store, spec=SPEC, columns=list(frame.columns), cells=list(frame.astype(str).itertuples(index=False, name=None)),
            rows=pending, keys=[key("k")], gates=GateRegistry(), tracker=again.tracker, client_factory=sim_factory(sim),
        )  # fmt: skip
        final = await again.engine.run()
        return state, run.tracker.snapshot().message, saved, final, sim.total_requests()

    state, message, saved, final, sent = vrun(main)
    assert state == "failed" and "Free disk space, then resume" in message
    assert saved < 200
    assert final == "done" and store.get_run(store.list_runs()[0].id).ok == 200
    assert sent <= 200 + C.WRITE_BATCH_ROWS + SPEC.concurrency  # at most a batch and the in-flight paid twice


def test_a_lone_row_is_committed_within_the_batch_interval_without_a_flush(store):
    run_id = new_run(store, 1)
    writer = ResultWriter(store, interval_s=0.01)
    writer.record(run_id, RowResult(row=0, status="ok", output="a"))
    from tests.conftest import wait_for

    assert wait_for(lambda: store.get_run(run_id).ok == 1)
    writer.close()
