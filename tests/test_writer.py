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


# --- never in the engine's way, and every failure reported ------------------------------------

HOUR = 3600.0  # an interval or backoff that never elapses in a test: only flush and close commit


def big_row(i: int) -> RowResult:
    return RowResult(row=i, status="ok", output=f"answer {i} ".ljust(400, "."))


class StuckStore(RunStore):
    """A disk that hangs: the writer's commit waits until the test lets it go."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.entered, self.release = threading.Event(), threading.Event()
        super().__init__(*args, **kwargs)

    def write_batch(self, ops):  # type: ignore[no-untyped-def]
        self.entered.set()
        assert self.release.wait(30), "the test never released the disk"
        super().write_batch(ops)


def test_recording_never_waits_for_the_disk_even_when_a_commit_hangs(tmp_path):
    store = StuckStore(tmp_path)
    run_id = new_run(store, 1_000)
    writer = ResultWriter(store, interval_s=0.0, max_rows=10)

    async def engine() -> None:
        # On an event loop: if record() waited for SQLite, this would wait for the release
        # below, which only comes after it returns.
        for i in range(1_000):
            writer.record(run_id, RowResult(row=i, status="ok", output=str(i)))
            if i == 0:
                assert await asyncio.get_running_loop().run_in_executor(None, store.entered.wait, 30)
            await asyncio.sleep(0)

    vrun(engine)
    assert writer.flush(timeout=0) is False
    store.release.set()
    assert writer.flush(30)
    assert store.get_run(run_id).ok == 1_000
    writer.close()


def test_a_full_disk_is_reported_once_per_episode_and_a_flush_after_freeing_space_saves_at_once(full_disk_store, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", HOUR)  # only a flush makes it try again
    store = full_disk_store
    run_id = new_run(store, 300)
    errors: list[BaseException] = []
    writer = ResultWriter(store, on_error=errors.append, interval_s=HOUR)
    writer.record(run_id, RowResult(row=0, status="ok", output="0"))
    assert writer.flush(30)

    store.fill_disk()
    for i in range(1, 201):
        writer.record(run_id, big_row(i))
    writer.set_status(run_id, "done", "Finished.")
    assert writer.flush(30) is False
    assert writer.flush(30) is False  # tried again at once: still full
    assert len(errors) == 1, "one report per failure episode, not per retry"
    assert store.pending_rows(run_id) == list(range(1, 300)) and store.get_run(run_id).status == "paused"

    store.free_disk()
    assert writer.flush(30) and writer.error is None  # at once, though the backoff is an hour
    assert store.pending_rows(run_id) == list(range(201, 300)) and store.get_run(run_id).status == "done"

    store.fill_disk()
    for i in range(201, 300):
        writer.record(run_id, big_row(i))
    assert writer.flush(30) is False and len(errors) == 2  # a new episode is reported again
    store.free_disk()
    assert writer.close() and store.pending_rows(run_id) == []


def test_close_on_a_full_disk_gives_up_and_nothing_waits_for_the_gone_thread(full_disk_store, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", HOUR)
    store = full_disk_store
    run_id = new_run(store, 200)
    writer = ResultWriter(store, interval_s=HOUR)
    store.fill_disk()
    for i in range(200):
        writer.record(run_id, big_row(i))
    assert writer.close(0) is False
    writer._thread.join(30)
    assert writer.flush() is False and writer.close() is False  # neither hangs nor spins
    assert store.get_run(run_id).done == 0


def test_a_broken_error_callback_does_not_stop_the_saving(full_disk_store, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", HOUR)
    store = full_disk_store
    run_id = new_run(store, 100)

    def broken(exc: BaseException) -> None:
        raise ValueError("bug in the callback")

    writer = ResultWriter(store, on_error=broken, interval_s=HOUR)
    store.fill_disk()
    for i in range(100):
        writer.record(run_id, big_row(i))
    assert writer.flush(30) is False
    store.free_disk()
    assert writer.flush(30) and store.get_run(run_id).done == 100
    writer.close()


def test_a_failure_that_is_not_sqlite_is_reported_too_not_a_silently_dead_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", HOUR)

    class Buggy(RunStore):
        broken = True

        def write_batch(self, ops):  # type: ignore[no-untyped-def]
            if self.broken:
                raise TypeError("a bug in the store")
            super().write_batch(ops)

    store = Buggy(tmp_path)
    run_id = new_run(store, 3)
    errors: list[BaseException] = []
    writer = ResultWriter(store, on_error=errors.append, interval_s=HOUR)
    writer.record(run_id, RowResult(row=0, status="ok", output="a"))
    assert writer.flush(30) is False and isinstance(errors[0], TypeError)
    store.broken = False
    assert writer.flush(30) and store.get_run(run_id).ok == 1
    writer.close()


def test_a_bad_status_is_refused_where_it_is_set_not_in_the_batch(store):
    writer = ResultWriter(store)
    with pytest.raises(ValueError):
        writer.set_status("r", "finished")
    assert writer.close()


def test_flush_from_the_error_callback_is_refused_rather_than_waiting_for_itself(full_disk_store, monkeypatch):
    monkeypatch.setattr(C, "WRITE_RETRY_S", HOUR)
    store = full_disk_store
    run_id = new_run(store, 100)
    refused: list[BaseException] = []

    def on_error(exc: BaseException) -> None:
        try:
            writer.flush()
        except RuntimeError as e:
            refused.append(e)

    writer = ResultWriter(store, on_error=on_error, interval_s=HOUR)
    store.fill_disk()
    for i in range(100):
        writer.record(run_id, big_row(i))
    assert writer.flush(30) is False and len(refused) == 1
    store.free_disk()
    assert writer.close()
