"""Batch mode across restarts and keys, on the simulator through the real SDK: a restarted process
follows the stored batches by itself (never submitting them again), a demo batch survives a
restart of the app, a crash between an upload and storing its id leaves no orphan file, and the
parts of a run are spread over its keys, each followed with the key that sent it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import constants as C
from core.batch_follow import follow_batches
from core.batch_store import BatchJobs
from core.keys import KeyEntry, demo_pool, mask_key
from core.messages import explain
from core.runner import Runner
from core.runs import effective_status, resume_run, start_run
from core.sim_batch import owner_of
from core.simulator import Simulator, SimulatorConfig
from core.spec import RunSpec
from tests.conftest import arithmetic_frame, crash, wait_for

TEMPLATE = "Compute {question}. Reply with the number only."
KEY_A, KEY_B = "sk-alpha-000000000001", "sk-bravo-000000000002"


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "BATCH_POLL_FIRST_S", 0.001)
    monkeypatch.setattr(C, "BATCH_POLL_MAX_S", 0.005)


def run_batch(h, store, frame, keys=None):  # type: ignore[no-untyped-def]
    return start_run(store, frame, RunSpec(template=TEMPLATE, batch=True), keys or h.keys(KEY_B), runner=h.runner)


def jobs_of(store, run_id):  # type: ignore[no-untyped-def]
    return BatchJobs(store).list(run_id)


def all_sent(store, run_id, n):  # type: ignore[no-untyped-def]
    jobs = jobs_of(store, run_id)
    return len(jobs) == n and all(j.batch_id for j in jobs)


class Died(BaseException):
    """The process died here: not an Exception, so the run cannot tidy up or record a status."""


# --- 4. a restarted process follows its stored batches ------------------------------------------


def test_after_a_restart_stored_batches_are_polled_again_without_resume_and_never_submitted_again(harness, store):
    h = harness(batch_completion_s=3600)
    followed = run_batch(h, store, arithmetic_frame(5))
    paused = run_batch(h, store, arithmetic_frame(3))
    assert wait_for(lambda: all_sent(store, followed.run_id, 1) and all_sent(store, paused.run_id, 1), timeout=30)
    paused.pause()  # a choice: a restart does not undo it
    assert wait_for(lambda: store.get_run(paused.run_id).status == "paused", timeout=30)

    runner = h.restart()
    assert store.get_run(followed.run_id).status == "running" and effective_status(store.get_run(followed.run_id), runner) == "interrupted"
    assert follow_batches(store, runner) == []  # made with a real key, which no one has given this process
    assert follow_batches(store, runner, h.keys("sk-someone-else-0003")) == []  # never with another key
    handles = follow_batches(store, runner, h.keys(KEY_B, "sk-someone-else-0003"))
    assert [x.run_id for x in handles] == [followed.run_id]
    assert follow_batches(store, runner, h.keys(KEY_B)) == []  # already followed: nothing twice

    h.sim.batch.finish(jobs_of(store, followed.run_id)[0].batch_id)
    assert handles[0].wait(30) and handles[0].result() == "done"
    assert len(h.sim.batch.created) == 2  # one per run, as before the restart
    assert list(store.results_table(followed.run_id)["output"]) == list(arithmetic_frame(5)["answer"])
    assert h.sim.batch.answered == {f"{followed.run_id}:{i}": 1 for i in range(5)}
    assert store.get_run(paused.run_id).status == "paused" and runner.get(paused.run_id) is None


def test_a_page_opening_a_batch_run_nobody_follows_follows_it_with_the_pages_keys(harness, store):
    h = harness(batch_completion_s=3600)
    first = run_batch(h, store, arithmetic_frame(2))
    other = run_batch(h, store, arithmetic_frame(2))
    assert wait_for(lambda: all_sent(store, first.run_id, 1) and all_sent(store, other.run_id, 1), timeout=30)
    runner = h.restart()
    handles = follow_batches(store, runner, h.keys(KEY_B), run_id=first.run_id)
    assert [x.run_id for x in handles] == [first.run_id] and runner.get(other.run_id) is None  # only the run the page opened
    h.sim.batch.finish_all()
    assert handles[0].wait(30) and handles[0].result() == "done"
    assert len(h.sim.batch.created) == 2


# --- 5. a demo batch survives a restart of the app ---------------------------------------------


class Wall:
    """The demo simulator's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def demo_process(folder: Path, wall: Wall) -> tuple[Simulator, Runner]:
    """What a starting app has: a fresh demo simulator (its batches kept in the data folder) and a runner."""
    config = SimulatorConfig(rpm=0, latency_s=0.0, latency_jitter_s=0.0, error_rate=0.0, batch_completion_s=100)
    sim = Simulator(config, batch_folder=lambda: folder, batch_clock=wall)
    return sim, Runner(client_factory=lambda entry, timeout: sim.client(entry.api_key, timeout=timeout, max_retries=0))


def test_a_demo_batch_finishes_after_a_restart_of_the_app(store, monkeypatch):
    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 3)
    folder, wall = store.data_dir / C.SIM_BATCH_DIR, Wall()
    sim, runner = demo_process(folder, wall)
    frame = arithmetic_frame(6)
    handle = start_run(store, frame, RunSpec(template=TEMPLATE, batch=True), demo_pool(2), runner=runner)
    assert wait_for(lambda: all_sent(store, handle.run_id, 2), timeout=30)
    assert {j.key_fp for j in jobs_of(store, handle.run_id)} == {k.fingerprint for k in demo_pool(2)}  # one part per demo key
    crash(runner)

    sim, runner = demo_process(folder, wall)  # the app restarted: a new simulator, with nothing in memory
    try:
        [followed] = follow_batches(store, runner)  # a demo run needs no key
        wall.now += 50
        assert wait_for(lambda: {j.state for j in jobs_of(store, handle.run_id)} == {"in_progress"}, timeout=30)
        wall.now += 100
        assert followed.wait(30) and followed.result() == "done"
    finally:
        runner.shutdown()
    assert sim.batch.created == []  # polled, never submitted again
    assert sim.batch.answered == {f"{handle.run_id}:{i}": 1 for i in range(6)}
    assert list(store.results_table(handle.run_id)["output"]) == list(frame["answer"])
    kept = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert b"sim-key-" not in kept  # owners are digests: no key is written to the folder


# --- 6. no orphan file after a crash between upload and storing its id ---------------------------


@pytest.mark.parametrize("resumed_with", ["the same settings", "another model"])
def test_a_crash_between_uploading_a_file_and_storing_its_id_leaves_no_orphan_file(harness, store, monkeypatch, resumed_with):
    h = harness(batch_completion_s=0)
    real_set_file = BatchJobs.set_file

    def dies(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise Died()

    monkeypatch.setattr(BatchJobs, "set_file", dies)
    handle = run_batch(h, store, arithmetic_frame(4))
    assert wait_for(lambda: handle.done, timeout=30)
    uploaded = [f["id"] for f in h.sim.batch.files.values() if f["purpose"] == "batch"]
    assert len(uploaded) == 1 and jobs_of(store, handle.run_id)[0].input_file_id is None
    assert store.get_run(handle.run_id).status == "running"  # as a killed process leaves it
    monkeypatch.setattr(BatchJobs, "set_file", real_set_file)

    runner = h.restart()
    if resumed_with == "another model":  # the same key: its file is found, but it is not this request file any more
        keys = [KeyEntry("Test", "http://sim.test/v1", "simulated-2", KEY_B, 6000)]
        resumed = resume_run(store, handle.run_id, keys, switch_model=True, runner=runner)
    else:
        resumed = resume_run(store, handle.run_id, h.keys(KEY_B), runner=runner)
    assert resumed.wait(30) and resumed.result() == "done"
    files = [f["id"] for f in h.sim.batch.files.values() if f["purpose"] == "batch"]
    [(_, batch_file)] = h.sim.batch.created
    assert files == [batch_file]  # one request file at the provider, the batch's
    assert (batch_file == uploaded[0]) == (resumed_with == "the same settings")  # adopted, or deleted and sent again
    assert set(store.results_table(handle.run_id)["status"]) == {"ok"}


# --- 7. the parts of a run are spread over its keys ----------------------------------------------


def test_the_parts_are_spread_over_the_keys_and_each_is_followed_with_the_key_that_sent_it(harness, store, monkeypatch):
    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 2)
    h = harness(batch_completion_s=0)
    a, b = h.keys(KEY_A, KEY_B)
    handle = run_batch(h, store, arithmetic_frame(6), [a, b])
    assert handle.wait(30) and handle.result() == "done"
    jobs = jobs_of(store, handle.run_id)
    assert [j.key_fp for j in jobs] == [a.fingerprint, b.fingerprint, a.fingerprint]
    # At the provider each batch and its file are the key's own (another key gets a 404 for them).
    assert [h.sim.batch.owner(batch) for batch, _ in h.sim.batch.created] == [owner_of(KEY_A), owner_of(KEY_B), owner_of(KEY_A)]
    assert all(h.sim.batch.owner(batch) == h.sim.batch.owner(file) for batch, file in h.sim.batch.created)
    by_row = {r["row"]: r["key_fp"] for r in store.results(handle.run_id)}
    assert all(by_row[row] == j.key_fp for j in jobs for row in j.rows)
    assert set(store.results_table(handle.run_id)["status"]) == {"ok"}
    raw = store.path.read_bytes() + (store.path.parent / (store.path.name + "-wal")).read_bytes()
    assert KEY_A.encode() not in raw and KEY_B.encode() not in raw  # fingerprints, never keys


def test_a_part_whose_key_is_gone_on_resume_waits_for_that_key_and_says_which(harness, store, monkeypatch):
    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 2)
    h = harness(batch_completion_s=3600)
    handle = run_batch(h, store, arithmetic_frame(4), h.keys(KEY_A, KEY_B))
    assert wait_for(lambda: all_sent(store, handle.run_id, 2), timeout=30)
    runner = h.restart()

    resumed = resume_run(store, handle.run_id, h.keys(KEY_A), runner=runner)  # only the first key is given again
    h.sim.batch.finish_all()
    assert wait_for(lambda: store.get_run(handle.run_id).status == "waiting_for_keys", timeout=30)
    assert [j.applied for j in jobs_of(store, handle.run_id)] == [True, False]  # the first key's part is in
    message = store.get_run(handle.run_id).message
    assert (
        message
        == f"Waiting for the key {mask_key(KEY_B)}: it sent file 2 of this batch, and only that key can follow it. Enter it again (keys are never saved)."
    )
    assert resumed.snapshot().state == "waiting_for_keys" and resumed.snapshot().message == message
    assert explain(message).code == "batch_key_missing" and explain(message).params == {"keys": mask_key(KEY_B), "files": "2"}  # said in Chinese too
    assert len(h.sim.batch.created) == 2  # the waiting part is not sent again with the other key

    assert follow_batches(store, runner, h.keys(KEY_B), run_id=handle.run_id) == []  # the page has the key again: the live run takes it
    assert resumed.wait(30) and resumed.result() == "done"
    assert len(h.sim.batch.created) == 2 and set(store.results_table(handle.run_id)["status"]) == {"ok"}
