"""Batch mode through the provider's Batch API, on the simulator through the real SDK: request
files and their limits, the custom_id mapping, crash windows, cancel, expiry and retries."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

from core import constants as C
from core.batch import batch_cost
from core.batch_files import BatchLimits, read_outcomes, request_lines, split_requests
from core.batch_store import BatchJobs
from core.runs import resume_run, start_run
from core.spec import RunSpec
from tests.conftest import arithmetic_frame, wait_for

TEMPLATE = "Compute {question}. Reply with the number only."


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "BATCH_POLL_FIRST_S", 0.001)
    monkeypatch.setattr(C, "BATCH_POLL_MAX_S", 0.005)


def lines(n: int, text: str = "x") -> list[tuple[int, bytes]]:
    return list(request_lines("r1", range(n), lambda row: [{"role": "user", "content": f"{text}{row}"}], "m", {}))


def test_request_lines_name_the_run_and_row_and_ask_for_chat_completions():
    line = json.loads(lines(3)[2][1])
    assert line == {
        "custom_id": "r1:2",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "x2"}]},
    }


def test_request_files_split_at_the_request_limit_keeping_rows_in_order():
    files, too_large = split_requests(lines(7), BatchLimits(max_requests=3, max_bytes=10**6))
    assert [f.rows for f in files] == [(0, 1, 2), (3, 4, 5), (6,)] and too_large == []
    assert [len(f.content.splitlines()) for f in files] == [3, 3, 1]


def test_request_files_split_at_the_byte_limit_and_a_row_too_big_for_any_file_is_set_aside():
    small = lines(4)
    size = len(small[0][1])
    big = list(request_lines("r1", [4], lambda row: [{"role": "user", "content": "y" * 500}], "m", {}))
    files, too_large = split_requests(small + big, BatchLimits(max_requests=100, max_bytes=2 * size + 1))
    assert [f.rows for f in files] == [(0, 1), (2, 3)] and too_large == [4]
    assert all(len(f.content) <= 2 * size + 1 for f in files)


def out_line(cid: str, content: str) -> str:
    body = {"choices": [{"message": {"content": content}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
    return json.dumps({"custom_id": cid, "response": {"status_code": 200, "body": body}, "error": None})


def test_outcomes_map_back_by_custom_id_one_per_row_and_a_row_in_neither_file_fails_with_that_reason():
    output = "\n".join([out_line("r1:2", "two"), out_line("r1:0", "zero"), out_line("r1:0", "again"), out_line("other:1", "not ours"), "not json"])
    errors = json.dumps({"custom_id": "r1:3", "response": {"status_code": 400, "body": {"error": {"message": "too long"}}}, "error": None})
    got = read_outcomes("r1", [0, 1, 2, 3], output, errors, state="completed")
    assert [o.row for o in got] == [0, 1, 2, 3]
    assert got[0].body["choices"][0]["message"]["content"] == "zero"  # the first line wins
    assert got[1].body is None and "in neither its output nor its error file" in got[1].error
    assert got[2].body is not None and got[3].error == "The provider answered 400: too long"


def test_rows_left_out_of_a_cancelled_or_expired_batch_say_so():
    assert "cancelled" in read_outcomes("r1", [0], "", "", state="cancelled")[0].error
    assert "24 h window" in read_outcomes("r1", [0], "", "", state="expired")[0].error


def test_the_batch_price_is_half_and_the_window_is_24_hours():
    cost = batch_cost(2.0)
    assert (cost.now, cost.batch, cost.window) == (2.0, 1.0, "24h")


def run_batch(h, store, frame, **spec):  # type: ignore[no-untyped-def]
    return start_run(store, frame, RunSpec(template=TEMPLATE, batch=True, **spec), h.keys("sk-b"), runner=h.runner)


def test_a_batch_run_gives_every_row_one_result_one_batch_per_file_at_half_price(harness, store, monkeypatch):
    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 4)
    h = harness(batch_completion_s=0)
    n = 10
    handle = run_batch(h, store, arithmetic_frame(n), price_in=1.0, price_out=2.0, label_column="answer")
    assert handle.wait(30) and handle.result() == "done"
    table = store.results_table(handle.run_id)
    assert list(table["output"]) == list(arithmetic_frame(n)["answer"]) and set(table["status"]) == {"ok"}
    assert len(h.sim.batch.created) == 3 and len({f for _, f in h.sim.batch.created}) == 3  # 4 + 4 + 2 rows
    assert sorted(h.sim.batch.answered) == sorted(f"{handle.run_id}:{i}" for i in range(n)) and set(h.sim.batch.answered.values()) == {1}
    rows = store.results(handle.run_id)
    full = sum(r["tokens_in"] * 1.0 + r["tokens_out"] * 2.0 for r in rows) / 1e6
    assert store.get_run(handle.run_id).cost == pytest.approx(full / 2)
    assert h.sim.total_requests() == 0  # no chat request was sent now
    assert [j.state for j in BatchJobs(store).list(handle.run_id)] == ["completed"] * 3


def test_a_crash_between_creating_the_batch_and_storing_its_id_adopts_that_batch_on_resume(harness, store, monkeypatch):
    h = harness(batch_completion_s=0)
    real = BatchJobs.set_batch

    def dies(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the process died here")

    monkeypatch.setattr(BatchJobs, "set_batch", dies)
    handle = run_batch(h, store, arithmetic_frame(6))
    assert handle.wait(30) and handle.result() == "failed"
    assert len(h.sim.batch.created) == 1 and BatchJobs(store).list(handle.run_id)[0].batch_id is None
    monkeypatch.setattr(BatchJobs, "set_batch", real)

    resumed = resume_run(store, handle.run_id, h.keys("sk-b"), runner=h.runner)
    assert resumed.wait(30) and resumed.result() == "done"
    assert len(h.sim.batch.created) == 1  # found by its metadata, not created again
    assert BatchJobs(store).list(handle.run_id)[0].batch_id == h.sim.batch.created[0][0]
    assert set(store.results_table(handle.run_id)["status"]) == {"ok"} and set(h.sim.batch.answered.values()) == {1}


class StepClock:
    """The simulator's clock: 0 when a batch is created, then `now` for every later read."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return 0.0 if self.reads == 1 else self.now


def clocked(harness, clock):  # type: ignore[no-untyped-def]
    h = harness(batch_completion_s=100)
    h.sim.batch.sim._clock = clock
    return h


def test_progress_follows_the_providers_stages_and_cancel_keeps_the_finished_lines(harness, store):
    clock = StepClock()
    clock.now = 50.0  # half way: in progress, 2 of 5 lines done
    h = clocked(harness, clock)
    handle = run_batch(h, store, arithmetic_frame(5))
    assert wait_for(lambda: [j.state for j in BatchJobs(store).list(handle.run_id)] == ["in_progress"], timeout=30)
    job = BatchJobs(store).list(handle.run_id)[0]
    assert (job.completed, job.total) == (2, 5) and job.polled_at is not None
    handle.cancel()
    assert handle.wait(30) and handle.result() == "cancelled"
    assert h.sim.batch.batches[job.batch_id]["status"] == "cancelled"
    table = store.results_table(handle.run_id)
    assert list(table["status"]) == ["ok", "ok", "failed", "failed", "failed"]
    assert list(table["output"])[:2] == ["3", "6"] and "cancelled" in table["error"][4]
    assert store.get_run(handle.run_id).status == "cancelled"


def test_an_expired_batch_keeps_its_finished_lines_and_failed_rows_retry_as_a_new_batch_or_now(harness, store):
    clock = StepClock()
    h = clocked(harness, clock)
    handle = run_batch(h, store, arithmetic_frame(5))
    assert wait_for(lambda: (BatchJobs(store).list(handle.run_id) or [None])[0] is not None and BatchJobs(store).list(handle.run_id)[0].batch_id, timeout=30)
    h.sim.batch.expire(BatchJobs(store).list(handle.run_id)[0].batch_id, done=3)
    assert handle.wait(30) and handle.result() == "done"
    table = store.results_table(handle.run_id)
    assert list(table["status"]) == ["ok", "ok", "ok", "failed", "failed"]
    assert "completion window expired" in table["error"][3]

    h.sim.config.batch_completion_s = 0
    again = resume_run(store, handle.run_id, h.keys("sk-b"), retry_failed=True, runner=h.runner)
    assert again.wait(30) and again.result() == "done"
    assert len(h.sim.batch.created) == 2
    second = h.sim.batch.contents[h.sim.batch.created[1][1]].decode().splitlines()
    assert [json.loads(line)["custom_id"] for line in second] == [f"{handle.run_id}:3", f"{handle.run_id}:4"]  # only the failed rows
    assert set(store.results_table(handle.run_id)["status"]) == {"ok"}


def test_failed_rows_of_a_batch_run_can_be_retried_now(harness, store):
    h = harness(batch_completion_s=0)
    frame = pd.DataFrame({"question": ["1 + 1", "SIMULATE_BATCH_LOST", "2 + 2"]}, dtype=object)
    handle = run_batch(h, store, frame)
    assert handle.wait(30)
    assert list(store.results_table(handle.run_id)["status"]) == ["ok", "failed", "ok"]
    now = resume_run(store, handle.run_id, h.keys("sk-b"), retry_failed=True, now=True, runner=h.runner)
    assert now.wait(30) and now.result() == "done"
    assert h.sim.total_requests() == 1  # the one failed row, sent now; the batch was not made again
    assert len(h.sim.batch.created) == 1
    assert list(store.results_table(handle.run_id)["status"]) == ["ok", "ok", "ok"]


def test_cancel_never_sends_a_part_that_was_not_yet_a_batch(harness, store, monkeypatch):
    # Part 2's batch could not be created (the provider answered 503); the run is cancelled before
    # the retry. The part must not be created afterwards: its rows fail, to be retried by choice.
    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 3)
    h = harness(batch_completion_s=100)
    create, calls = h.sim.batch._create, []

    def create_refusing_the_second(body: bytes, who: str):  # type: ignore[no-untyped-def]
        calls.append(1)
        return h.sim._error(503, "Busy, try again.", "server_error", None) if len(calls) >= 2 else create(body, who)

    monkeypatch.setattr(h.sim.batch, "_create", create_refusing_the_second)
    handle = run_batch(h, store, arithmetic_frame(6))
    jobs = lambda: BatchJobs(store).list(handle.run_id)  # noqa: E731
    assert wait_for(lambda: len(jobs()) == 2 and jobs()[0].batch_id and jobs()[1].input_file_id and len(calls) >= 2, timeout=30)
    handle.cancel()
    assert handle.wait(30) and handle.result() == "cancelled"
    assert len(h.sim.batch.created) == 1  # the first part only
    table = store.results_table(handle.run_id)
    assert list(table["status"][3:]) == ["failed"] * 3 and all("Cancelled before" in e for e in table["error"][3:])


class Ticker:
    """Another coroutine on the engine loop, as another run's would be: it counts while the loop is
    free. `goes_on()` waits (from any thread) until it has ticked a few more times; on a loop held
    by synchronous work it never does, and the wait ends at its deadline with False."""

    def __init__(self, runner) -> None:  # type: ignore[no-untyped-def]
        self.ticks = 0
        self._stop = False
        self._future = runner.submit(self._run())

    async def _run(self) -> None:
        while not self._stop:
            self.ticks += 1
            await asyncio.sleep(0.001)

    def goes_on(self) -> bool:
        start = self.ticks
        return wait_for(lambda: self.ticks >= start + 3, timeout=30)

    def stop(self) -> None:
        self._stop = True
        self._future.result(30)


@pytest.mark.parametrize("step", ["build the request files", "read the output file", "commit the rows"])
def test_the_heavy_work_of_a_batch_runs_off_the_engine_loop_so_other_runs_keep_going(harness, store, monkeypatch, step):
    # Up to 200 MB of request lines, 50,000 output lines, one 50,000-row commit: while any of them
    # is under way, the loop that hosts every other run (and the page's progress) goes on.
    import core.batch

    h = harness(batch_completion_s=0)
    ticker = Ticker(h.runner)
    during: list[bool] = []
    if step == "build the request files":
        real_lines = core.batch.request_lines

        def lines(*args, **kwargs):  # type: ignore[no-untyped-def]
            during.append(ticker.goes_on())
            yield from real_lines(*args, **kwargs)

        monkeypatch.setattr(core.batch, "request_lines", lines)
    elif step == "read the output file":
        real_read = core.batch.read_outcomes

        def read(*args, **kwargs):  # type: ignore[no-untyped-def]
            during.append(ticker.goes_on())
            return real_read(*args, **kwargs)

        monkeypatch.setattr(core.batch, "read_outcomes", read)
    else:
        real_apply = BatchJobs.apply

        def apply(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            during.append(ticker.goes_on())
            return real_apply(self, *args, **kwargs)

        monkeypatch.setattr(BatchJobs, "apply", apply)
    handle = run_batch(h, store, arithmetic_frame(20))
    assert handle.wait(120) and handle.result() == "done"
    ticker.stop()
    assert during and all(during), f"the engine loop stood still while the batch run did this: {step}"
    assert set(store.results_table(handle.run_id)["status"]) == {"ok"}


def test_retrying_failed_rows_of_a_live_batch_stops_polling_but_never_cancels_the_batch_at_the_provider(harness, store, monkeypatch):
    # Part 1 came back with a row the provider lost; part 2 is still at the provider when "retry
    # failed rows" is pressed. Cancelling part 2 would throw away work already paid for.
    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 3)
    h = harness(batch_completion_s=3600)
    frame = pd.DataFrame({"question": ["1 + 1", "SIMULATE_BATCH_LOST", "2 + 2", "3 + 3", "4 + 4", "5 + 5"]}, dtype=object)
    handle = run_batch(h, store, frame)
    jobs = lambda: BatchJobs(store).list(handle.run_id)  # noqa: E731
    assert wait_for(lambda: len(jobs()) == 2 and all(j.batch_id for j in jobs()), timeout=30)
    first, second = (j.batch_id for j in jobs())
    h.sim.batch.finish(first)
    assert wait_for(lambda: jobs()[0].applied, timeout=30)
    assert not handle.done and list(store.results_table(handle.run_id)["status"][:3]) == ["ok", "failed", "ok"]

    again = resume_run(store, handle.run_id, h.keys("sk-b"), retry_failed=True, runner=h.runner)
    assert wait_for(lambda: len(h.sim.batch.created) == 3, timeout=30)  # the failed row, as a batch of its own
    assert h.sim.batch.batches[second]["status"] not in ("cancelling", "cancelled")
    h.sim.batch.finish_all()
    assert again.wait(30) and again.result() == "done"
    assert h.sim.batch.batches[second]["status"] == "completed"
    assert list(store.results_table(handle.run_id)["status"]) == ["ok", "failed", "ok", "ok", "ok", "ok"]  # lost again: the provider's doing
    assert all(h.sim.batch.answered[f"{handle.run_id}:{i}"] == 1 for i in (0, 2, 3, 4, 5))


def test_a_resumed_upload_of_a_later_part_sends_exactly_that_parts_rows(harness, store, monkeypatch):
    # Three files of three rows; the process dies just before the second is uploaded. The new
    # process splits at other limits (a newer version, a provider's lower limit): the second part
    # must still be sent with the rows it was planned with, all of them.
    from openai.resources.files import AsyncFiles

    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 3)
    h = harness(batch_completion_s=0)
    real_create, uploads = AsyncFiles.create, []

    async def dies_before_the_second_upload(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        uploads.append(1)
        if len(uploads) == 2:
            asyncio.get_running_loop().stop()
            await asyncio.Future()
        return await real_create(self, *args, **kwargs)

    monkeypatch.setattr(AsyncFiles, "create", dies_before_the_second_upload)
    handle = run_batch(h, store, arithmetic_frame(9))
    assert wait_for(lambda: len(uploads) == 2, timeout=30)
    runner = h.restart()
    assert [j.input_file_id is not None for j in BatchJobs(store).list(handle.run_id)] == [True, False, False]
    monkeypatch.setattr(AsyncFiles, "create", real_create)

    monkeypatch.setattr(C, "BATCH_MAX_REQUESTS", 2)
    resumed = resume_run(store, handle.run_id, h.keys("sk-b"), runner=runner)
    assert resumed.wait(30) and resumed.result() == "done", store.get_run(handle.run_id).message
    sent = [[json.loads(line)["custom_id"] for line in h.sim.batch.contents[f].decode().splitlines()] for _, f in h.sim.batch.created]
    assert sent == [[f"{handle.run_id}:{r}" for r in part] for part in ((0, 1, 2), (3, 4, 5), (6, 7, 8))]
    assert set(store.results_table(handle.run_id)["status"]) == {"ok"}
