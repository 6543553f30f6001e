"""Run leases: one process at a time runs a run; the others see it running elsewhere, from the
store, and take it over only once its process is gone. In process with named holders and a fake
wall clock; tests/test_replicas.py does the same with real processes of the command line."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest

from core import constants as C
from core.compare import comparison_progress, remove_comparison, resume_comparison, start_comparison
from core.errors import InputError
from core.keys import demo_pool
from core.leases import RunningElsewhere, holder, read_lease, running_elsewhere, take_lease
from core.runs import effective_status, remove_run, resume_run, run_progress, start_run
from core.spec import RunSpec
from core.status import RunStatus
from core.store import RowResult, RunStore
from core.variants import Variant
from tests.conftest import arithmetic_frame, wait_for

SPEC = RunSpec(template="Compute {question}. Reply with the number only.", concurrency=2)
A, B = "replica-a||101|aaaa", "replica-b||202|bbbb"  # two processes on two machines (no pid to check)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stored_run(store: RunStore, n: int = 4, *, batch: bool = False) -> str:
    frame = pd.DataFrame({"question": [f"{i} + 1" for i in range(n)]}, dtype=object)
    return store.create_run(SPEC.replace(batch=batch), frame, [])


def test_one_process_holds_a_run_another_is_refused_while_it_renews_and_takes_over_once_it_is_silent(store):
    run_id = stored_run(store)
    clock = Clock()
    mine = take_lease(store, run_id, me=A, ttl_s=30, clock=clock)
    with pytest.raises(RunningElsewhere) as refused:
        take_lease(store, run_id, me=B, ttl_s=30, clock=clock)
    assert refused.value.code == "running_elsewhere" and refused.value.params["where"] == "process 101 on replica-a"
    clock.now += 20
    assert mine.renew()  # the heartbeat: good for 30 s from now
    clock.now += 25  # 45 s after it was taken, 25 s after the heartbeat
    with pytest.raises(RunningElsewhere):
        take_lease(store, run_id, me=B, ttl_s=30, clock=clock)
    clock.now += 6  # silent for 31 s: its process is taken for dead
    theirs = take_lease(store, run_id, me=B, ttl_s=30, clock=clock)
    assert read_lease(store, run_id).holder == B
    assert not mine.renew()  # the first process finds out at its next heartbeat
    mine.release()  # and letting go of what it no longer holds changes nothing
    assert read_lease(store, run_id).holder == B
    theirs.release()
    assert read_lease(store, run_id) is None
    take_lease(store, run_id, me=A, ttl_s=30, clock=clock)  # a released run is free at once


def test_taking_a_lease_this_process_holds_renews_it(store):
    run_id = stored_run(store)
    clock = Clock()
    take_lease(store, run_id, me=A, ttl_s=30, clock=clock)
    clock.now += 29
    take_lease(store, run_id, me=A, ttl_s=30, clock=clock)
    assert read_lease(store, run_id).expires_at == clock.now + 30


def test_a_lease_of_a_process_of_this_machine_that_is_gone_is_taken_over_at_once(store):
    """A kill -9 on the same machine: the pid is gone (or a zombie), no need to wait for the TTL."""
    here = holder().split("|")
    far = time.time() + 3600

    def lease_of(pid: int, run_id: str) -> None:
        store._tx(
            [
                (
                    "INSERT OR REPLACE INTO run_leases (run_id, holder, heartbeat_at, expires_at) VALUES (?, ?, ?, ?)",
                    (run_id, f"{here[0]}|{here[1]}|{pid}|t", far - 60, far),
                )
            ]
        )

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        assert wait_for(lambda: open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", timeout=30)
        for pid, free in ((alive.pid, False), (zombie.pid, True), (gone.pid, True)):
            run_id = stored_run(store)
            lease_of(pid, run_id)
            assert (running_elsewhere(store, run_id) is None) is free, pid
            if free:
                assert take_lease(store, run_id).holder == holder()
            else:
                with pytest.raises(RunningElsewhere, match="on this machine"):
                    take_lease(store, run_id)
    finally:
        alive.kill()
        alive.wait()
        zombie.wait()


def test_a_process_that_lost_its_lease_cannot_change_the_runs_status(store):
    run_id = stored_run(store)
    store.set_status(run_id, "running")
    take_lease(store, run_id, me=B, ttl_s=60)  # B took the run over while this process was frozen
    store.set_status(run_id, "paused", "stopped")  # this process's late word
    assert store.get_run(run_id).status == "running"
    take_lease(store, run_id, me=B, ttl_s=-1)  # B died in turn: its lease has run out
    store.set_status(run_id, "paused", "stopped")
    assert store.get_run(run_id).status == "paused"


def test_a_run_held_elsewhere_shows_as_running_there_and_is_not_resumed_retried_or_touched(store):
    run_id = stored_run(store)
    store.record_result(run_id, RowResult(row=0, status="ok", output="1"))
    store.record_result(run_id, RowResult(row=1, status="failed", error="boom"))
    store.set_status(run_id, "running")
    assert effective_status(store.get_run(run_id)) == RunStatus.INTERRUPTED  # nobody runs it: cut off

    take_lease(store, run_id, me=B, ttl_s=60)
    record = store.get_run(run_id)
    assert record.running_elsewhere and effective_status(record) == RunStatus.RUNNING
    snap = run_progress(store, run_id)
    assert snap.state == "running" and snap.elsewhere == "process 202 on replica-b" and (snap.ok, snap.failed, snap.pending) == (1, 1, 2)
    for retry in (False, True):
        with pytest.raises(RunningElsewhere):
            resume_run(store, run_id, None, retry_failed=retry)
    assert store.get_run(run_id).failed == 1  # the failed row was not reset under the other process
    with pytest.raises(InputError) as refused:
        remove_run(store, run_id)  # History's delete
    assert refused.value.code == "run_elsewhere" and refused.value.params["host"] == "replica-b"
    assert store.get_run(run_id) is not None and read_lease(store, run_id).holder == B


def test_a_batch_run_held_elsewhere_is_not_polled_here(store):
    run_id = stored_run(store, batch=True)
    take_lease(store, run_id, me=B, ttl_s=60)
    with pytest.raises(RunningElsewhere):
        resume_run(store, run_id, None)
    with pytest.raises(RunningElsewhere):
        resume_run(store, run_id, None, now=True)


def test_a_refused_resume_gives_the_lease_back(store):
    run_id = store.create_run(SPEC, arithmetic_frame(3), [])
    with pytest.raises(InputError):
        resume_run(store, run_id, [], retry_failed=True)  # a run made with real keys needs them again
    assert read_lease(store, run_id) is None


def test_a_run_holds_its_lease_while_it_goes_renews_it_and_lets_go_at_the_end(harness, store, monkeypatch):
    monkeypatch.setattr(C, "LEASE_TTL_S", 0.6)  # a heartbeat every 0.2 s
    h = harness(latency_s=0.02)
    handle = start_run(store, arithmetic_frame(40), SPEC.replace(concurrency=1), h.keys("k", rpm=600), runner=h.runner)
    first = read_lease(store, handle.run_id)
    assert first is not None and first.mine
    assert wait_for(lambda: (lease := read_lease(store, handle.run_id)) is not None and lease.heartbeat_at > first.heartbeat_at, timeout=30)
    assert handle.wait(60) and handle.snapshot().state == "done"
    assert read_lease(store, handle.run_id) is None


def test_an_engine_whose_run_was_taken_over_stops_sending_and_leaves_the_status_to_the_new_owner(harness, store, monkeypatch):
    monkeypatch.setattr(C, "LEASE_TTL_S", 0.6)
    h = harness(latency_s=0.02)
    handle = start_run(store, arithmetic_frame(400), SPEC.replace(concurrency=1), h.keys("k", rpm=600), runner=h.runner)
    assert wait_for(lambda: handle.snapshot().done >= 3, timeout=30)
    # This process froze past its lease, and another took the run over and said it runs.
    store._tx([("UPDATE run_leases SET holder = ?, expires_at = ? WHERE run_id = ?", (B, time.time() + 3600, handle.run_id))])
    assert handle.wait(60)
    snap = handle.snapshot()
    assert snap.state == "paused" and "Another process took this run over" in snap.message and snap.pending > 0
    record = store.get_run(handle.run_id)
    assert record.status == "running" and record.lease.holder == B  # nothing of this process's end was written over it


def test_a_comparison_running_elsewhere_is_shown_from_the_store_and_neither_resumed_nor_deleted_here(harness, store):
    h = harness()
    base = RunSpec(template="-", label_column="answer", concurrency=2)
    variants = [Variant("a", "Compute {question}."), Variant("b", "Compute {question} carefully.")]
    record = start_comparison(store, arithmetic_frame(6), variants, h.keys("k"), base=base, runner=h.runner)
    for run_id in record.run_ids:
        assert h.runner.get(run_id).wait(60)
    store.reset_rows(record.run_ids[1], "ok")  # rows left to do
    store.set_status(record.run_ids[1], "running")
    take_lease(store, record.run_ids[1], me=B, ttl_s=60)
    progress = comparison_progress(store, record.id, h.runner)
    assert progress.state == "running" and progress.elsewhere == "process 202 on replica-b" and not progress.live
    with pytest.raises(RunningElsewhere):
        resume_comparison(store, record.id, h.keys("k"), runner=h.runner)
    with pytest.raises(InputError) as refused:
        remove_comparison(store, record.id, h.runner)
    assert refused.value.code == "comparison_live"
    assert store.get_run(record.run_ids[1]) is not None


def test_the_apps_start_up_follows_no_batch_run_another_process_follows(store):
    """At start the app polls again the batch runs a restart left (core.follow_batches): not one
    that another live process holds, however it stands in the store."""
    from core.batch_follow import follow_batches
    from core.batch_store import BatchJobs
    from core.runner import Runner

    run_id = store.create_run(SPEC.replace(batch=True), arithmetic_frame(3), [k.info() for k in demo_pool(1)])
    BatchJobs(store).add_intents(run_id, [[0, 1, 2]])
    store.set_status(run_id, "running")
    take_lease(store, run_id, me=B, ttl_s=60)
    runner = Runner()
    try:
        assert follow_batches(store, runner) == [] and runner.last(run_id) is None
        assert read_lease(store, run_id).holder == B
    finally:
        runner.shutdown()
