"""The Prompt page's output columns in AppTest: the editor (its rows kept across pages and from an
old tab's JSON fields), definition errors in both languages, the preview of exactly what is sent,
and a run whose counts say valid, invalid and re-asked."""

from __future__ import annotations

import json
import time

from streamlit.testing.v1 import AppTest

import core

EDITOR = "columns_editor_0"


def on(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, app.exception
    return app


def columns_mode(at: AppTest) -> AppTest:
    on(at, "prompt")
    at.segmented_control(key="output_mode").set_value("columns").run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value.replace("\\", "") for e in at.error]  # plain() escapes Markdown


def add_rows(at: AppTest, *rows: dict, key: str = EDITOR) -> AppTest:
    """What a user typing rows into the editor sends back (AppTest cannot type into cells)."""
    at.session_state[key] = {"edited_rows": {}, "added_rows": list(rows), "deleted_rows": []}
    at.run()
    assert not at.exception, at.exception
    return at


def test_text_stays_the_default_and_columns_mode_shows_the_editor(at):
    on(at, "prompt")
    assert at.segmented_control(key="output_mode").value == "text" and not at.data_editor
    columns_mode(at)
    assert at.data_editor(key=EDITOR).editing_mode == "dynamic"
    assert any("Add at least one column" in i.value for i in at.info)


def test_rows_typed_into_the_editor_become_the_runs_columns_and_survive_a_page_switch(at):
    columns_mode(at)
    add_rows(at, {"name": "sentiment", "type": "choice", "choices": "positive, negative, neutral"}, {"name": "stars", "type": "integer", "required": False})
    rows = at.session_state["output_columns"]
    assert rows == [
        {"name": "sentiment", "type": "choice", "required": True, "choices": ["positive", "negative", "neutral"]},
        {"name": "stars", "type": "integer", "required": False},
    ]
    spec = core.RunSpec.from_settings({"template": "{x}", "output_mode": "columns", "output_columns": rows})
    assert [c.type for c in spec.columns] == ["choice", "integer"]
    on(at, "keys")
    on(at, "prompt")
    shown = at.data_editor[0].value
    assert shown["name"].tolist() == ["sentiment", "stars"] and shown["choices"].tolist() == ["positive, negative, neutral", ""]
    assert shown["required"].tolist() == [True, False]


def test_the_preview_shows_the_exact_request_with_its_schema(at):
    columns_mode(at)
    add_rows(at, {"name": "answer", "type": "integer", "description": "the result"})
    sent = next(c.value for c in at.code if c.language == "json")
    body = json.loads(sent)
    first = at.session_state["dataset"]["table"].frame["question"][0]
    assert body["model"] == "simulated" and body["messages"] == [{"role": "user", "content": f"Compute {first}. Reply with the number only."}]
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["schema"]["properties"]["answer"] == {"type": "integer", "description": "the result"}
    assert any("json_schema (strict)" in c.value for c in at.caption)


def test_the_preview_follows_what_the_provider_took_before(at):
    core.structured.remember_mode(core.get_store(), core.constants.SIMULATED_BASE_URL, "simulated", core.AskMode.INSTRUCTIONS)
    columns_mode(at)
    add_rows(at, {"name": "answer", "type": "integer"})
    body = json.loads(next(c.value for c in at.code if c.language == "json"))
    assert "response_format" not in body and body["messages"][0]["role"] == "system" and "```json" in body["messages"][0]["content"]


def test_a_definition_error_is_said_in_english_and_chinese(at):
    columns_mode(at)
    add_rows(at, {"name": "mood", "type": "choice", "choices": "happy"})
    assert errors(at) == ["Column 'mood' is one of a list: give at least two allowed values, separated by commas."]
    at.segmented_control(key="lang").set_value("zh").run()
    assert errors(at) == ["列“mood”是“列表中的一项”：请至少填写两个允许的取值，用逗号分隔。"]
    on(at, "run")  # the Run page refuses to start with it, in the same words
    assert "列“mood”是“列表中的一项”：请至少填写两个允许的取值，用逗号分隔。" in errors(at)


def test_two_columns_of_one_name_are_refused_on_the_run_page_in_chinese(at):
    at.segmented_control(key="lang").set_value("zh").run()
    columns_mode(at)
    add_rows(at, {"name": "a"}, {"name": "A"})
    on(at, "run")
    assert errors(at) == ["有两个输出列都叫“A”：请给每列取不同的名字。"]


def test_a_tab_from_before_output_columns_opens_its_json_fields_as_text_columns(at):
    at.session_state["output_mode"] = "json"
    at.session_state["json_fields"] = "reason, infer"
    at.run()
    on(at, "prompt")
    assert at.segmented_control(key="output_mode").value == "columns"
    assert at.data_editor[0].value["name"].tolist() == ["reason", "infer"]
    assert "json_fields" not in at.session_state


def test_a_run_with_columns_counts_valid_invalid_and_re_asked_rows(at):
    columns_mode(at)
    add_rows(at, {"name": "answer", "type": "integer"})
    at.selectbox(key="label_column").set_value("answer").run()
    on(at, "run")
    at.number_input(key="first_n").set_value(5).run()
    at.button(key="run_test").click().run()
    run_id = at.session_state["run_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not core.get_store().get_run(run_id).status.finished:
        time.sleep(0.2)
    at.run()
    assert not at.exception, at.exception
    record = core.get_store().get_run(run_id)
    assert record.done == 5 and record.spec.columns == (core.OutputColumn("answer", "integer"),)
    labels = {m.label: m.value for m in at.metric}
    assert (labels["Valid"], labels["Invalid"], labels["Re-asked"]) == (str(record.ok), str(record.unparsed), str(record.reasked)), labels
    assert "Succeeded" not in labels  # a run with columns says valid, not succeeded


def test_a_stored_run_shows_its_typed_columns_and_why_a_row_is_invalid_in_chinese(at, tmp_path):
    store = core.RunStore(tmp_path / "data")
    spec = core.RunSpec(template="Rate {review}", columns=(core.OutputColumn("stars", "integer"), core.OutputColumn("spam", "boolean")))
    run_id = store.create_run(spec, core.read_table(b"review\ngood\nbad\n", "r.csv"), [k.info() for k in core.demo_pool(1)])
    store.record_result(run_id, core.RowResult(row=0, status="ok", output="{}", fields={"stars": 5, "spam": False}))
    error = 'The answer does not fit the output columns after 2 re-asks: "stars" should be a whole number, not "lots"; "spam" is missing.'
    store.record_result(run_id, core.RowResult(row=1, status="unparsed", output="{}", fields={"stars": None, "spam": None}, error=error, reasks=2))
    store.set_status(run_id, "done", "Finished: 1 ok, 1 unparsed.")
    at.segmented_control(key="lang").set_value("zh").run()
    on(at, "run")
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    shown = next(d.value for d in at.dataframe if "stars" in d.value.columns)
    assert shown["stars"][0] == 5 and shown["stars"].isna().tolist() == [False, True] and shown["spam"].tolist() == ["否", ""]
    assert shown["状态"].tolist() == ["成功", "不符合"]
    assert shown["错误"].tolist()[1] == '重问 2 次后，回答仍不符合输出列：“stars”应为整数，而不是 "lots"；缺少“spam”。'
    labels = {m.label: m.value for m in at.metric}
    assert (labels["符合"], labels["不符合"], labels["重问过"]) == ("1", "1", "1")
    boxes = [b.value.replace("\\", "") for b in [*at.warning, *at.error]]
    assert any("1 × 回答不符合输出列“stars”" in b for b in boxes), boxes  # the cause, in a few words


def test_a_row_just_added_and_still_blank_does_not_restart_the_editor(at):
    # The grid sends the new row before its name is typed: starting the editor again then would
    # take the half-typed name away (seen in the browser).
    columns_mode(at)
    add_rows(at, {"type": "text", "required": True})
    assert at.session_state["output_columns"] == [] and "columns_version" not in at.session_state
    assert at.data_editor(key=EDITOR) is not None  # still the same editor, under the same key
    add_rows(at, {"name": "mood", "type": "text", "required": True})
    assert at.session_state["output_columns"] == [{"name": "mood", "type": "text", "required": True}]
    assert at.data_editor(key="columns_editor_1") is not None


def test_the_reviews_demo_offers_its_own_columns_and_compares_the_one_named_like_the_label(at):
    at.selectbox(key="demo_sheet").set_value("reviews").run()
    at.button(key="use_demo").click().run()
    columns_mode(at)
    at.button(key="demo_columns").click().run()
    assert not at.exception, at.exception
    names = [r["name"] for r in at.session_state["output_columns"]]
    assert names == ["sentiment", "rating", "date", "recommend"]
    assert at.data_editor[0].value["name"].tolist() == names
    assert at.session_state["label_column"] == "sentiment" and at.selectbox(key="label_field").value == "sentiment"
    s = at.session_state
    settings = {k: s[k] for k in ("template", "output_mode", "output_columns", "label_column", "label_field")}
    spec = core.RunSpec.from_settings(settings)
    assert spec.compared_field == "sentiment" and spec.columns[0].choices == ("positive", "negative", "neutral")
