"""The engine end to end: real `openai` SDK, simulated provider behind its HTTP transport, real
SQLite store, real background runner."""

from __future__ import annotations

import pandas as pd
import pytest

from core.keys import KeyEntry
from core.runs import resume_run, start_run
from core.spec import RunSpec
from tests.conftest import arithmetic_frame, wait_for

SPEC = RunSpec(template="Compute {question}. Reply with the number only.", concurrency=8)


def run_to_end(handle, timeout: float = 60):  # type: ignore[no-untyped-def]
    assert handle.wait(timeout), f"run did not finish: {handle.snapshot()}"
    return handle.snapshot()


def within_limit(times: list[float], rpm: int, window: float = 3.0) -> bool:
    """What the provider allows: a bucket of one second's requests refilled at rpm/60, so at most
    rpm/60 * (1 + window) arrivals in any window."""
    return max_in_window(times, window) <= rpm / 60 * (1 + window)


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_every_row_comes_out_exactly_once_in_input_order_with_the_right_answer(harness, store):
    h = harness()
    frame = arithmetic_frame(150)
    snap = run_to_end(start_run(store, frame, SPEC, h.keys("k1", "k2", "k3"), runner=h.runner))
    assert snap.state == "done" and snap.ok == 150 and snap.failed == 0 and snap.pending == 0
    table = store.results_table(snap.run_id)
    assert list(table["id"]) == list(frame["id"])
    assert list(table["output"]) == list(frame["answer"])
    assert set(table["status"]) == {"ok"}
    assert sum(s.requests for s in h.sim.stats().values()) == 150  # nothing sent twice


def test_rate_limited_key_cools_down_and_429s_do_not_use_up_attempts(harness, store):
    # The engine believes 6,000/min but the provider allows 240/min: a 429 storm the engine must
    # absorb by cooling the key, without failing a single row even with max_attempts=1.
    h = harness(rpm=240)
    snap = run_to_end(start_run(store, arithmetic_frame(12), SPEC.replace(max_attempts=1), h.keys("x", rpm=6000), runner=h.runner))
    assert snap.ok == 12 and snap.failed == 0
    assert h.sim.stats()["x"].rate_limited > 0
    assert snap.keys[0].rate_limited > 0


def test_dead_key_is_dropped_and_its_rows_move_to_the_other_keys(harness, store):
    h = harness(dead_keys=frozenset({"dead"}))
    keys = h.keys("good1", "dead", "good2")
    snap = run_to_end(start_run(store, arithmetic_frame(60), SPEC.replace(concurrency=4), keys, runner=h.runner))
    assert snap.ok == 60 and snap.failed == 0
    by_fp = {k.fingerprint: k for k in snap.keys}
    dead = by_fp[keys[1].fingerprint]
    assert dead.state == "dead" and "Invalid API key" in (dead.dead_reason or "")
    assert h.sim.stats()["dead"].requests <= 4  # at most what was in flight when it died
    assert any("stopped" in e for e in snap.recent_errors)


def test_key_out_of_quota_is_dropped_like_a_dead_key(harness, store):
    h = harness(no_quota_keys=frozenset({"broke"}))
    keys = h.keys("broke", "fine")
    snap = run_to_end(start_run(store, arithmetic_frame(20), SPEC.replace(concurrency=2), keys, runner=h.runner))
    assert snap.ok == 20
    broke = next(k for k in snap.keys if k.fingerprint == keys[0].fingerprint)
    assert broke.state == "dead" and "quota" in (broke.dead_reason or "").lower()


def test_when_every_key_dies_the_run_waits_without_failing_rows_and_goes_on_with_new_keys(harness, store):
    h = harness(dead_keys=frozenset({"d1", "d2"}))
    handle = start_run(store, arithmetic_frame(30), SPEC, h.keys("d1", "d2"), runner=h.runner)
    assert wait_for(lambda: handle.snapshot().state == "waiting_for_keys")
    snap = handle.snapshot()
    assert snap.failed == 0 and "Add a working key" in snap.message
    assert wait_for(lambda: store.get_run(handle.run_id).status == "waiting_for_keys")  # via the writer thread
    handle.add_keys(h.keys("alive"))
    snap = run_to_end(handle)
    assert snap.state == "done" and snap.ok == 30


def test_server_errors_are_retried_with_backoff_until_they_succeed(harness, store):
    h = harness(p_5xx=0.3, seed=7)
    snap = run_to_end(start_run(store, arithmetic_frame(60), SPEC.replace(max_attempts=20), h.keys("k"), runner=h.runner))
    assert snap.ok == 60
    assert snap.retries > 0 and h.sim.stats()["k"].server_errors == snap.retries


def test_a_row_fails_with_a_plain_reason_after_its_attempts_are_used(harness, store):
    h = harness(p_5xx=1.0)
    snap = run_to_end(start_run(store, arithmetic_frame(5), SPEC.replace(max_attempts=3), h.keys("k"), runner=h.runner))
    assert snap.failed == 5 and snap.ok == 0
    table = store.results_table(snap.run_id, details=True)
    assert all(e.startswith("Failed after 3 attempts:") for e in table["error"])
    assert list(table["attempts"]) == [3] * 5
    assert h.sim.stats()["k"].requests == 15


def test_bad_request_fails_the_row_at_once_with_the_providers_message(harness, store):
    h = harness()
    frame = pd.DataFrame({"question": ["1 + 1", "SIMULATE_BAD_REQUEST", "2 + 2"]}, dtype=object)
    snap = run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner))
    table = store.results_table(snap.run_id, details=True)
    assert list(table["status"]) == ["ok", "failed", "ok"]
    assert "maximum context length" in table["error"][1] and table["attempts"][1] == 1


def test_error_bodies_not_shaped_like_openais_still_give_a_readable_message(harness, store):
    h = harness(error_style="detail", dead_keys=frozenset({"bad"}))
    handle = start_run(store, arithmetic_frame(3), SPEC, h.keys("bad"), runner=h.runner)
    assert wait_for(lambda: handle.snapshot().state == "waiting_for_keys")
    reason = handle.snapshot().keys[0].dead_reason or ""
    assert reason.startswith("Invalid API key (401)") and "{" not in reason
    handle.cancel()
    handle.wait(5)


def test_timeouts_dropped_connections_and_non_json_bodies_are_retried_and_counted(harness, store):
    h = harness(p_timeout=0.1, p_drop=0.1, p_nonjson=0.1, seed=3)
    spec = SPEC.replace(max_attempts=30, timeout_s=0.3, concurrency=16)
    snap = run_to_end(start_run(store, arithmetic_frame(80), spec, h.keys("k1", "k2"), runner=h.runner))
    assert snap.ok == 80 and snap.failed == 0
    stats = h.sim.stats()
    assert snap.timeouts == sum(s.timeouts for s in stats.values()) > 0
    assert sum(s.drops for s in stats.values()) > 0 and sum(s.nonjson for s in stats.values()) > 0
    assert list(store.results_table(snap.run_id)["output"]) == list(arithmetic_frame(80)["answer"])


def test_columns_are_filled_from_the_simulators_json_and_an_answer_that_does_not_fit_is_asked_again(harness, store):
    from core.columns import OutputColumn

    h = harness()
    frame = pd.DataFrame({"question": ["3 + 4", "SIMULATE_INVALID_ANSWER 2 + 2"]}, dtype=object)
    spec = RunSpec(template="Return JSON for {question}", columns=(OutputColumn("expression"), OutputColumn("infer", "number")), max_reasks=1)
    snap = run_to_end(start_run(store, frame, spec, h.keys("k"), runner=h.runner))
    table = store.results_table(snap.run_id, details=True)
    assert table["infer"].tolist() == [7, 4] and table["expression"][0] == "3 + 4" and list(table["status"]) == ["ok", "ok"]
    # the second row's first answer broke the schema on purpose: asked again once, then it fitted
    assert list(table["reasks"]) == [0, 1] and snap.reasked == 1 and snap.unparsed == 0


def test_accuracy_against_a_label_column(harness, store):
    h = harness(error_rate=0.2)
    frame = arithmetic_frame(100)
    spec = SPEC.replace(label_column="answer")
    snap = run_to_end(start_run(store, frame, spec, h.keys("k1", "k2"), runner=h.runner))
    table = store.results_table(snap.run_id)
    expected_right = sum(o == a for o, a in zip(table["output"], frame["answer"]))
    assert snap.judged == 100 and snap.correct == expected_right
    assert 60 <= expected_right <= 95  # the simulator really is wrong some of the time
    assert list(table["correct"]) == [o == a for o, a in zip(table["output"], frame["answer"])]


def test_finish_reasons_length_and_content_filter_are_recorded(harness, store):
    h = harness()
    frame = pd.DataFrame({"question": ["12345 + 67890", "SIMULATE_CONTENT_FILTER"]}, dtype=object)
    snap = run_to_end(start_run(store, frame, SPEC.replace(max_tokens=1), h.keys("k"), runner=h.runner))
    table = store.results_table(snap.run_id, details=True)
    assert list(table["finish_reason"]) == ["length", "content_filter"]
    assert "cut off" in table["error"][0]
    assert table["status"][1] == "failed" and "content filter" in table["error"][1]


def test_resuming_a_stopped_run_does_not_send_finished_rows_again(harness, store):
    h = harness(rpm=1200)
    frame = arithmetic_frame(60)
    spec = SPEC.replace(concurrency=2, use_cache=False)
    handle = start_run(store, frame, spec, h.keys("k", rpm=1200), runner=h.runner)
    assert wait_for(lambda: handle.snapshot().done >= 15)
    handle.cancel()
    handle.wait(5)
    done_before = handle.snapshot().done
    snap = run_to_end(resume_run(store, handle.run_id, h.keys("k2"), runner=h.runner))
    assert snap.state == "done" and snap.ok == 60
    prompts = [p for s in h.sim.stats().values() for p in s.prompts]
    # every row answered once, except at most the requests that were in flight at the cancel
    assert len(prompts) - len(set(prompts)) <= 2
    assert len(set(prompts)) == 60 and done_before >= 15
    assert list(store.results_table(handle.run_id)["output"]) == list(frame["answer"])


def test_retry_failed_rows_sends_only_the_failed_ones(harness, store):
    h = harness()
    frame = pd.DataFrame({"question": ["1 + 1", "SIMULATE_BAD_REQUEST", "2 + 2"]}, dtype=object)
    first = run_to_end(start_run(store, frame, SPEC.replace(use_cache=False), h.keys("k"), runner=h.runner))
    assert first.failed == 1
    before = h.sim.total_requests()
    snap = run_to_end(resume_run(store, first.run_id, h.keys("k"), retry_failed=True, runner=h.runner))
    assert h.sim.total_requests() - before == 1
    assert snap.ok == 2 and snap.failed == 1


def test_the_response_cache_makes_rerunning_the_same_prompts_free(harness, store):
    h = harness()
    frame = arithmetic_frame(40)
    run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner))
    sent = h.sim.total_requests()
    snap = run_to_end(start_run(store, frame, SPEC, h.keys("other-key"), runner=h.runner))
    assert h.sim.total_requests() == sent
    assert snap.ok == 40 and snap.cached == 40 and snap.cost == 0
    assert list(store.results_table(snap.run_id)["output"]) == list(frame["answer"])
    # and it can be turned off
    run_to_end(start_run(store, frame, SPEC.replace(use_cache=False), h.keys("k"), runner=h.runner))
    assert h.sim.total_requests() == sent + 40


def test_two_runs_sharing_a_key_stay_within_its_limit_together(harness, store):
    h = harness(rpm=600)
    keys = h.keys("shared", rpm=600)
    spec = SPEC.replace(concurrency=16, use_cache=False)
    a = start_run(store, arithmetic_frame(20), spec, keys, runner=h.runner)
    b = start_run(store, arithmetic_frame(20, start=1000), spec, keys, runner=h.runner)
    run_to_end(a)
    run_to_end(b)
    stats = h.sim.stats()["shared"]
    assert stats.ok == 40 and stats.rate_limited == 0
    assert within_limit(list(stats.times), 600)


def test_template_problems_are_reported_before_anything_is_sent(harness, store):
    from core.errors import InputError

    h = harness()
    with pytest.raises(InputError, match="question"):
        start_run(store, arithmetic_frame(3), RunSpec(template="Compute {questoin}"), h.keys("k"), runner=h.runner)
    assert h.sim.total_requests() == 0 and store.list_runs() == []


def test_keys_never_reach_the_store(harness, store):
    secret = "sk-live-THIS-IS-A-VERY-SECRET-KEY-123456"
    h = harness(dead_keys=frozenset({secret}))
    handle = start_run(store, arithmetic_frame(10), SPEC, [KeyEntry("Test", "http://sim.test/v1", "simulated", secret, 600), *h.keys("ok")], runner=h.runner)
    run_to_end(handle)
    store.close()
    for path in store.data_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in repr(handle.snapshot())


def test_a_run_made_with_real_keys_is_not_resumed_on_the_simulated_provider(harness, store):
    from core.errors import InputError
    from core.keys import demo_pool

    h = harness()
    handle = start_run(store, arithmetic_frame(3), SPEC, h.keys("real"), runner=h.runner)
    handle.cancel()
    handle.wait(5)
    with pytest.raises(InputError, match="Enter the API keys again"):
        resume_run(store, handle.run_id, demo_pool(2), runner=h.runner)
