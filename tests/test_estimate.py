"""The estimate before a run: output tokens from what was measured, else from the expected
answers or the JSON asked for, and it says which; the simulated provider costs nothing."""

from __future__ import annotations

import pandas as pd

from core import RowResult, RunSpec, demo_pool, estimate_run, make_pool, measured_output

FRAME = pd.DataFrame({"question": [f"{i} + {i}" for i in range(300)], "answer": [str(2 * i) for i in range(300)]}, dtype=object)
REAL = make_pool(["sk-test-aaaa1111"], provider="OpenAI", base_url="https://api.openai.com/v1", model="gpt-4o-mini", rpm=500)


def test_without_anything_measured_the_output_is_a_guess_and_says_so():
    est = estimate_run(FRAME, RunSpec(template="Say {question}"), REAL)
    assert est.out_basis == "guess" and est.tokens_out == 300 * 100


def test_the_label_columns_length_gives_the_output_of_a_short_answer():
    est = estimate_run(FRAME, RunSpec(template="Compute {question}", label_column="answer"), REAL)
    assert est.out_basis == "label" and est.tokens_out == 300  # "0" .. "598": one token each


def test_json_fields_give_the_output_of_a_json_answer():
    est = estimate_run(FRAME, RunSpec(template="Compute {question}", json_fields=("reason", "infer")), REAL)
    assert est.out_basis == "fields" and 20 < est.out_per_row < 60


def test_typed_columns_estimate_their_values_by_type_and_the_schema_counts_as_input():
    from core.columns import OutputColumn

    plain = estimate_run(FRAME, RunSpec(template="Compute {question}"), REAL)
    typed = RunSpec(template="Compute {question}", columns=(OutputColumn("ok", "boolean"), OutputColumn("mood", "choice", choices=("good", "bad"))))
    est = estimate_run(FRAME, typed, REAL)
    assert est.out_basis == "fields" and est.out_per_row < 15  # a yes/no and a short class, not two phrases
    assert est.tokens_in > plain.tokens_in + 300 * 20  # every request carries the schema


def test_a_measured_sample_wins_and_max_tokens_caps_it():
    est = estimate_run(FRAME, RunSpec(template="Say {question}", label_column="answer"), REAL, measured=(7.5, 10))
    assert (est.out_basis, est.sample, est.tokens_out) == ("measured", 10, 2250)
    assert estimate_run(FRAME, RunSpec(template="Say {question}", max_tokens=5), REAL, measured=(7.5, 10)).tokens_out == 1500


def test_the_simulated_provider_costs_nothing():
    est = estimate_run(FRAME, RunSpec(template="Say {question}"), demo_pool(4))
    assert est.cost == 0.0 and est.tokens_out > 0


def test_a_test_run_of_the_same_prompt_and_model_is_what_gets_measured(store):
    spec = RunSpec(template="Compute {question}")
    run_id = store.create_run(spec.replace(test_of=300), FRAME.head(4), [k.info() for k in REAL])
    for i in range(4):
        store.record_result(run_id, RowResult(i, "ok", output="x", tokens_out=3))
    other = store.create_run(RunSpec(template="Something else {question}"), FRAME.head(2), [k.info() for k in REAL])
    store.record_result(other, RowResult(0, "ok", output="x", tokens_out=99))
    assert measured_output(store, spec, "gpt-4o-mini", list(FRAME.columns)) == (3.0, 4)
    assert measured_output(store, spec, "deepseek-chat", list(FRAME.columns)) is None  # another model answers differently
    assert measured_output(store, spec.replace(json_fields=("a",)), "gpt-4o-mini", list(FRAME.columns)) is None
