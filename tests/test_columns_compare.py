"""Compare and accuracy with output columns: a typed answer is scored as its type (a class as a
class, a number as a number, yes/no as yes/no), in the table tests of Scoring and in a comparison
of two variants with columns, through the real SDK and runner against a scripted provider."""

from __future__ import annotations

import json

import httpx2
import openai
import pandas as pd
import pytest

from core.columns import OutputColumn
from core.compare import start_comparison
from core.compare_report import compare_table
from core.keys import KeyEntry
from core.runner import Runner
from core.scoring import Scoring, confusion_matrix
from core.spec import RunSpec
from core.variants import Variant
from tests.test_compare import wait_done
from tests.test_engine_v2 import _completion


@pytest.mark.parametrize(
    "scoring, answer, label, expected",
    [
        ("exact", True, "yes", True), ("exact", True, "是", True), ("exact", False, "TRUE", False), ("oneof:yes,no", False, "no", True),
        ("exact", 12, "12.0", True), ("exact", 12.0, "12", True), ("exact", 12, "13", False), ("numeric:0.5", 12.4, "12", True),
        ("numeric:0.5", 13, "12", False), ("exact", "positive", "Positive", True), ("oneof:positive,negative", "negative", "positive", False),
        ("contains", 1234, "23", True), ("regex:^\\d+$", 42, None, True), ("exact", True, "maybe", False),
    ],
)  # fmt: skip
def test_a_typed_answer_is_scored_as_its_type(scoring, answer, label, expected):
    assert Scoring.parse(scoring).score(answer, label) is expected


def test_a_yes_no_answer_falls_in_the_class_that_says_the_same():
    scoring = Scoring.parse("oneof:是,否")
    assert scoring.classify(True) == "是" and scoring.classify(False) == "否"
    assert confusion_matrix(scoring, [(True, "是"), (False, "是"), (False, "否")]) == {"是": {"是": 1, "否": 1}, "否": {"否": 1}}


COLUMNS = (OutputColumn("sentiment", "choice", choices=("positive", "negative")), OutputColumn("stars", "integer"))


def test_a_comparison_with_columns_scores_each_variants_typed_answers(store):
    frame = pd.DataFrame({"review": ["good", "bad", "good", "bad"], "label": ["Positive", "negative", "positive", "NEGATIVE"]}, dtype=object)
    sent: list[dict] = []

    def serve(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body)
        good = "good" in body["messages"][-1]["content"]
        lazy = body["messages"][-1]["content"].startswith("Guess")  # variant B always says positive
        sentiment = "positive" if good or lazy else "negative"
        return httpx2.Response(200, json=_completion(json.dumps({"sentiment": sentiment.upper(), "stars": "4" if good else 1})))

    def factory(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=entry.api_key, base_url=entry.base_url, max_retries=0, timeout=timeout,
                                  http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(serve)))  # fmt: skip

    runner = Runner(client_factory=factory)
    try:
        keys = [KeyEntry("Test", "http://sim.test/v1", "m", "sk-test-0000aaaa", 6000, None)]
        variants = [
            Variant("A", "Judge: {review}", provider="Test", base_url="http://sim.test/v1", model="m", columns=COLUMNS),
            Variant("B", "Guess: {review}", provider="Test", base_url="http://sim.test/v1", model="m", columns=COLUMNS),
        ]
        base = RunSpec(template="-", label_column="label", label_field="sentiment")
        record = start_comparison(store, frame, variants, keys, base=base, scoring=Scoring.parse("oneof:positive,negative"), runner=runner)
        wait_done(store, record.id, runner)
    finally:
        runner.shutdown()
    assert all(b["response_format"]["type"] == "json_schema" for b in sent)
    table = compare_table(store, record.id)
    wide = table.wide
    assert wide["A"].tolist() == ["positive", "negative", "positive", "negative"]  # coerced to the choice as written
    assert wide["A stars"].tolist() == [4, 1, 4, 1] and type(wide["A stars"][0]) is int
    by_name = {s.name: s for s in table.summaries}
    assert (by_name["A"].correct, by_name["B"].correct) == (4, 2)
    assert table.confusion["B"] == {"positive": {"positive": 2}, "negative": {"positive": 2}}
    assert table.verdict.winner == "A"


def test_the_runs_confusion_matrix_reads_a_yes_no_column_as_yes_and_no(store):
    from core.keys import demo_pool
    from core.report import run_report
    from core.store import RowResult

    spec = RunSpec(template="{q}", columns=(OutputColumn("spam", "boolean"),), label_column="label")
    frame = pd.DataFrame({"q": ["a", "b", "c"], "label": ["yes", "no", "no"]}, dtype=object)
    run_id = store.create_run(spec, frame, [k.info() for k in demo_pool(1)])
    for row, (value, right) in enumerate([(True, True), (True, False), (False, True)]):
        store.record_result(run_id, RowResult(row=row, status="ok", fields={"spam": value}, correct=right))
    assert run_report(store, run_id).confusion == {"yes": {"yes": 1}, "no": {"yes": 1, "no": 1}}


def test_a_batch_run_sends_the_schema_on_every_line_and_checks_every_answer(harness, store):
    from core.runs import start_run

    h = harness(batch_completion_s=0)
    frame = pd.DataFrame({"question": ["3 + 4", "2 + 2", "10 - 1"]}, dtype=object)
    spec = RunSpec(template="Compute {question}.", columns=(OutputColumn("result", "integer"),), batch=True)
    handle = start_run(store, frame, spec, h.keys("sk-b"), runner=h.runner)
    assert handle.wait(30) and handle.result() == "done"
    ((file_id, content),) = [(f, c) for f, c in h.sim.batch.contents.items() if h.sim.batch.files[f].get("purpose") == "batch"]
    lines = [json.loads(line) for line in content.decode().splitlines()]
    assert len(lines) == 3 and {line["body"]["response_format"]["type"] for line in lines} == {"json_schema"}
    assert lines[0]["body"]["response_format"]["json_schema"]["schema"]["properties"] == {"result": {"type": "integer"}}
    for r in store.results(handle.run_id):  # whatever the simulator answered, each answer was checked
        fields = json.loads(r["fields_json"]) if r["fields_json"] else {}
        assert (r["status"] == "ok" and type(fields["result"]) is int) or (r["status"] == "unparsed" and r["error"].startswith("The answer does not fit"))


def test_invalid_rows_are_grouped_by_the_column_their_first_problem_names(store):
    from core.keys import demo_pool
    from core.report import failure_causes
    from core.store import RowResult

    spec = RunSpec(template="{q}", columns=(OutputColumn("sentiment", "choice", choices=("a", "b")), OutputColumn("stars", "integer")))
    frame = pd.DataFrame({"q": list("abcd")}, dtype=object)
    run_id = store.create_run(spec, frame, [k.info() for k in demo_pool(1)])
    errors = [
        'The answer does not fit the output columns after 2 re-asks: "sentiment" should be one of a, b, not "c".',
        'The answer does not fit the output columns after 2 re-asks: "sentiment" should be one of a, b, not "d"; "stars" is missing.',
        'The answer does not fit the output columns after 2 re-asks: "stars" is missing.',
        "The answer does not fit the output columns after 2 re-asks: the answer is not a JSON object.",
    ]
    for row, error in enumerate(errors):
        store.record_result(run_id, RowResult(row=row, status="unparsed", error=error))
    causes = failure_causes(store, run_id)
    assert [(c.code, c.params, c.count) for c in causes] == [
        ("invalid_answer", {"name": "sentiment"}, 2), ("invalid_answer", {"name": "stars"}, 1), ("invalid_answer", {"name": ""}, 1),
    ]  # fmt: skip


def test_a_column_name_with_a_quote_gives_no_confusion_matrix_rather_than_a_failed_report(store):
    from core.keys import demo_pool
    from core.report import run_report
    from core.store import RowResult

    spec = RunSpec(template="{q}", columns=(OutputColumn('the "mood"', "choice", choices=("a", "b")),), label_column="label")
    run_id = store.create_run(spec, pd.DataFrame({"q": ["x"], "label": ["a"]}, dtype=object), [k.info() for k in demo_pool(1)])
    store.record_result(run_id, RowResult(row=0, status="ok", fields={'the "mood"': "a"}, correct=True))
    report = run_report(store, run_id)
    assert report.confusion == {} and report.correct == 1
