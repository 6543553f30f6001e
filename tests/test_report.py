"""Reading a run back: how it ended, why its rows failed (grouped by cause), its charts' numbers,
and what core's English sentences mean (so that a page can say them in Chinese)."""

from __future__ import annotations

import pandas as pd
import pytest

from core import RowResult, RunSpec
from core.keys import demo_pool
from core.messages import explain, root_cause
from core.report import failure_causes, output_tokens_sample, run_outcome, run_report


def test_a_done_run_with_failed_rows_is_not_just_done():
    assert run_outcome("done", failed=0).code == "done" and run_outcome("done", failed=0).tone == "ok"
    result = run_outcome("done", failed=10)
    assert (result.code, result.tone, result.problems) == ("done_with_failures", "warning", 10)
    assert run_outcome("done", failed=0, unparsed=2).code == "done_with_failures"
    assert run_outcome("failed", failed=0).tone == "error"
    assert run_outcome("running", failed=3).tone == "neutral"


@pytest.mark.parametrize(
    ("text", "code", "params"),
    [
        (
            "Failed after 4 attempts: Could not reach the provider: Cannot connect to host api.openai.com:443 ssl:default",
            "unreachable",
            {"host": "api.openai.com"},
        ),
        ("Could not reach the provider: Cannot connect to host api.openai.com:443 ssl:default [Name or service not known]", "dns", {"host": "api.openai.com"}),
        ("Row 3: Invalid API key (401): Incorrect API key provided: sk-***", "http", {"status": "401"}),
        ("Not found (check the model name and base URL) (404): The model x does not exist", "http", {"status": "404", "detail": "The model x does not exist"}),
        ("Failed after 4 attempts: The request timed out (the provider may still bill it)", "timeout", {}),
        ("The answer's JSON has no field infer.", "missing_fields", {"fields": "infer"}),
        ("Dropped 3 empty rows at the end.", "dropped_rows", {"n": "3", "where": "at the end"}),
        ("The file is named .csv but is an Excel workbook, so it was read as one.", "read_as_xlsx", {"ext": ".csv"}),
        ("Paused: requests already sent will finish.", "paused", {}),
        ("something a provider said", "", {}),
    ],
)
def test_core_sentences_are_read_back_as_a_code_and_values(text, code, params):
    cause = root_cause(explain(text))
    assert cause.code == code
    assert params.items() <= cause.params.items()


def test_nested_sentences_keep_their_outer_values():
    said = explain("Every key stopped working (Invalid API key (401); Out of quota (429): no money). Add a working key to continue; finished rows are kept.")
    assert said.code == "all_keys_dead" and [i.code for i in said.inner] == ["http", "no_quota"]
    said = explain("Finished: 10 ok, 2 failed, 3 from cache.")
    assert (said.params["ok"], said.params["failed"], said.params["from_cache"]) == ("10", "2", "3")


def _run_with(store, results: list[RowResult], n_rows: int | None = None, **spec) -> str:
    n = n_rows or len(results)
    frame = pd.DataFrame({"q": [f"q{i}" for i in range(n)], "label": [("yes", "no")[i % 2] for i in range(n)]}, dtype=object)
    run_id = store.create_run(RunSpec(template="Say {q}", **spec), frame, [k.info() for k in demo_pool(2, rpm=120)])
    for r in results:
        store.record_result(run_id, r)
    return run_id


def test_failures_are_grouped_by_cause_with_counts_most_common_first(store):
    unreachable = "Failed after 4 attempts: Could not reach the provider: Cannot connect to host api.openai.com:443 ssl:default"
    results = [RowResult(i, "failed", error=unreachable) for i in range(10)]
    results += [RowResult(10 + i, "failed", error=f"The provider rejected this request (400): too long by {i} tokens") for i in range(3)]
    results += [RowResult(13, "unparsed", output="hm", error="The answer is not JSON; its raw text is kept in the output column.")]
    results += [RowResult(14, "ok", output="fine")]
    causes = failure_causes(store, _run_with(store, results))
    assert [(c.code, c.count) for c in causes] == [("unreachable", 10), ("http", 3), ("answer_not_json", 1)]
    assert causes[0].params == {"host": "api.openai.com"} and causes[0].first_row == 0
    assert causes[1].params == {"status": "400"}  # one cause, whatever each row's detail said


def test_the_report_has_throughput_latency_and_a_confusion_matrix_for_few_classes(store):
    results = [RowResult(i, "ok", output=("yes", "no", "no", "maybe")[i % 4], latency_ms=100 + i, correct=(i % 4) in (0, 1)) for i in range(8)]
    results.append(RowResult(8, "ok", output="yes", cached=True, latency_ms=0, correct=True))
    run_id = _run_with(store, results, label_column="label")
    report = run_report(store, run_id)
    assert report.limit_per_s == pytest.approx(4.0)  # two keys at 120/min
    assert sum(rate * report.bucket_s for _, rate in report.throughput) == 8  # the cache hit is not speed
    assert sorted(report.latencies_ms) == list(range(100, 108))
    assert report.confusion["yes"] == {"yes": 3, "no": 2}  # rows 0, 4 and the cached row 8; rows 2, 6
    assert report.confusion["no"] == {"no": 2, "…": 2}  # "maybe" is not a label: any other answer


def test_a_test_runs_measured_output_tokens_feed_the_estimate(store):
    run_id = _run_with(store, [RowResult(i, "ok", output="x", tokens_out=2 + i % 2) for i in range(4)] + [RowResult(4, "failed", error="x")])
    mean, n = output_tokens_sample(store, [run_id])
    assert (mean, n) == (2.5, 4)
    assert output_tokens_sample(store, []) is None
