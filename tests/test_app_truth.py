"""Issue 7, "the page tells the truth, at a glance", with Streamlit's AppTest: a run's state says
what happened, answers appear where the button is, settings describe the run shown, numbers are
honest, and the Chinese page is Chinese. AppTest's `run_every` timers do not fire, so tests call
`at.run()` to poll."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, free_port

LOCAL = "vLLM / llama.cpp (local)"


def on(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def texts(app: AppTest) -> list[str]:
    """Every text drawn, markdown escapes removed."""
    found = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "text", "subheader"):
        found += [str(e.value).replace("\\", "") for e in app.get(kind)]
    found += [str(e.proto.text).replace("\\", "") for e in app.get("progress")]
    return found


def progress_texts(app: AppTest) -> list[str]:
    return [e.proto.text for e in app.get("progress")]


def use_unreachable_server(app: AppTest) -> None:
    """A local server that is not running: every request fails at once with 'could not reach'."""
    on(app, "keys")
    app.selectbox(key="provider").set_value(LOCAL).run()
    app.text_input(key="base_url").set_value(f"http://127.0.0.1:{free_port()}/v1").run()


def run_until_finished(app: AppTest, button: str = "run_test") -> str:
    on(app, "run")
    app.button(key=button).click().run()
    run_id = app.session_state["run_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        app.run()
        if metric(app, "Pending") == "0" and not any("running" in p for p in progress_texts(app)):
            break
        time.sleep(0.2)
    assert not app.exception, app.exception
    return run_id


# --- states that say what happened ------------------------------------------------------------


def test_a_run_whose_rows_failed_says_so_with_its_causes_in_the_page_sidebar_and_history(at):
    use_unreachable_server(at)
    on(at, "run")
    at.number_input(key="first_n").set_value(3).run()
    run_until_finished(at)
    bars = progress_texts(at)
    assert bars and all("done, 3 failed" in b for b in bars), bars  # the page's bar and the sidebar's
    warning = next(w.value for w in at.warning if "rows failed" in w.value)
    assert "3 × could not reach 127.0.0.1" in warning.replace("\\", "")
    on(at, "history")
    assert list(at.dataframe[0].value["Status"]) == ["done, 3 failed"]


# --- settings describe the run ------------------------------------------------------------------


def test_a_reloaded_run_url_shows_that_runs_provider_model_limits_and_cache_above_it(at, tmp_path):
    import core as c

    store = c.RunStore(tmp_path / "data")
    keys = [c.KeyEntry("DeepSeek", "https://api.deepseek.com/v1", "deepseek-chat", "sk-real-key-0000abcd", 45)]
    spec = c.RunSpec(template="Translate {question}", use_cache=False, price_in=0.5)
    run_id = store.create_run(spec, c.read_table(b"question\n1 + 1\n2 + 2\n", "q.csv"), [k.info() for k in keys], file_name="q.csv")
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)  # a reload is a new session
    fresh.query_params["run"] = run_id
    fresh.run()
    s = fresh.session_state
    assert (s["provider"], s["base_url"], s["model"], s["rpm"]) == ("DeepSeek", "https://api.deepseek.com/v1", "deepseek-chat", 45)
    assert (s["use_cache"], s["price_in"], s["template"]) == (False, 0.5, "Translate {question}")
    on(fresh, "run")
    line = fresh.caption[0].value.replace("\\", "")  # the New run box's own line comes first
    assert "q.csv" in line and "DeepSeek" in line and "deepseek-chat" in line and "45 requests/min" in line and "cache off" in line
    assert any("Made with" in c.value and "DeepSeek" in c.value for c in fresh.caption)
    # no key in this new session: it says so rather than run on the simulator
    assert any("DeepSeek needs an API key" in e.value.replace("\\", "") for e in fresh.error)
    assert not [b for b in fresh.button if b.key == "run_all"]


def test_a_provider_that_needs_a_key_and_has_none_does_not_quietly_run_simulated(at):
    on(at, "keys")
    at.selectbox(key="provider").set_value("OpenAI").run()
    on(at, "run")
    assert any("OpenAI needs an API key" in e.value.replace("\\", "") for e in at.error)
    assert not [b for b in at.button if b.key in ("run_all", "run_test")]
    at.button(key="use_demo_provider").click().run()  # the demo, chosen explicitly
    assert at.session_state["provider"] == "Simulated (demo)"
    assert [b for b in at.button if b.key == "run_all"] and not at.error


# --- smaller things -----------------------------------------------------------------------------


def seed(tmp_path: Path, *, ok: int = 1, failed: int = 0, pending: int = 2, first_rows: int | None = None) -> str:
    import core as c

    store = c.RunStore(tmp_path / "data")
    n = ok + failed + pending
    frame = c.read_table(("question,answer\n" + "".join(f"{i} + {i},{2 * i}\n" for i in range(n))).encode(), "q.csv")
    spec = c.RunSpec(template="Compute {question}", label_column="answer", test_of=first_rows)
    run_id = store.create_run(spec, frame, [k.info() for k in c.demo_pool(2)], file_name="q.csv")
    for i in range(ok):
        store.record_result(run_id, c.RowResult(i, "ok", output=str(2 * i), correct=True))
    for i in range(ok, ok + failed):
        store.record_result(run_id, c.RowResult(i, "failed", error="Failed after 4 attempts: The request timed out (the provider may still bill it)"))
    store.set_status(run_id, "interrupted" if pending else "done")
    return run_id


def open_run(app: AppTest, run_id: str) -> AppTest:
    app.query_params["run"] = run_id
    on(app, "run")
    return app


def test_pending_rows_show_blank_cells_not_a_grey_none(at, tmp_path):
    open_run(at, seed(tmp_path, ok=1, pending=2))
    shown = at.dataframe[-1].value
    assert list(shown["status"]) == ["ok", "pending", "pending"]
    assert list(shown["output"]) == ["0", "", ""] and list(shown["correct"]) == ["✓", "", ""]
    assert not shown.isna().any().any() and "None" not in shown.astype(str).values


def test_the_results_headers_status_and_errors_are_in_chinese_on_the_chinese_page(at, tmp_path):
    at.segmented_control(key="lang").set_value("zh").run()
    open_run(at, seed(tmp_path, ok=1, failed=1, pending=1))
    shown = at.dataframe[-1].value
    assert list(shown.columns) == ["question", "answer", "输出", "状态", "错误", "是否正确"]  # the input columns are the user's
    assert list(shown["状态"]) == ["成功", "失败", "待处理"]
    assert shown["错误"][1] == "尝试 4 次后仍失败：请求超时（服务商仍可能计费）"


def test_the_recent_errors_box_does_not_pass_for_the_failure_count(at):
    use_unreachable_server(at)
    on(at, "run")
    at.number_input(key="first_n").set_value(10).run()
    run_until_finished(at)
    labels = [e.label for e in at.expander]
    assert not any(label.startswith("Last errors") for label in labels), labels
    assert any("10 rows failed" in w.value for w in at.warning)


def test_the_demo_dataset_brings_the_demos_whole_prompt_back(at):
    on(at, "prompt")
    at.segmented_control(key="output_mode").set_value("columns").run()
    at.session_state["columns_editor_0"] = {"edited_rows": {}, "added_rows": [{"name": "reason"}], "deleted_rows": []}
    at.run()
    at.text_area(key="template").set_value("Explain {question}").run()
    on(at, "data")
    at.button(key="use_demo").click().run()
    s = at.session_state
    assert (s["template"], s["output_mode"], s["output_columns"], s["system"]) == ("Compute {question}. Reply with the number only.", "text", [], "")


def test_a_failed_upload_says_which_table_is_still_in_use(at):
    at.file_uploader(key="upload").upload("broken.csv", b"", "text/csv").run()
    assert at.error and "empty" in at.error[0].value
    assert any("still demo_arithmetic.csv" in w.value.replace("\\", "") and "broken.csv was not loaded" in w.value.replace("\\", "") for w in at.warning)
    at.run()  # and it keeps saying so while the uploader holds that file
    assert any("broken.csv" in w.value.replace("\\", "") for w in at.warning)


def test_the_answer_format_is_worded_in_the_pages_language_and_kept_across_a_switch(at):
    on(at, "prompt")
    control = at.segmented_control(key="output_mode")
    assert list(control.options) == ["Text", "Columns"]  # not "Text · 文本"
    control.set_value("columns").run()
    at.segmented_control(key="lang").set_value("zh").run()
    control = at.segmented_control(key="output_mode")
    assert control.value == "columns" and list(control.options) == ["文本", "多列"]


def test_the_provider_list_is_worded_in_chinese_and_the_choice_survives_switches_and_callbacks(at):
    on(at, "keys")
    at.segmented_control(key="lang").set_value("zh").run()
    box = at.selectbox(key="provider__zh")
    assert box.value == "Simulated (demo)"  # the choice is the preset's name; the words are the page's
    assert "模拟模型（演示）" in list(box.options) and "vLLM / llama.cpp（本地）" in list(box.options)
    assert "Simulated (demo)" not in list(box.options)
    box.set_value("DeepSeek").run()
    assert at.text_input(key="base_url").value == "https://api.deepseek.com/v1"  # the preset applied
    at.segmented_control(key="lang").set_value("en").run()
    assert at.selectbox(key="provider").value == "DeepSeek"
    at.selectbox(key="provider").set_value("Simulated (demo)").run()
    at.segmented_control(key="lang").set_value("zh").run()
    assert at.selectbox(key="provider__zh").value == "Simulated (demo)"
    # adding a real key leaves the demo provider, set by a callback: the Chinese box follows
    at.text_area(key="keys_text").set_value("sk-test-aaaa1111\n").run()
    at.button(key="add_keys").click().run()
    assert at.selectbox(key="provider__zh").value == "OpenAI"
    assert not at.exception


def test_requests_per_minute_is_set_on_the_keys_page_only(at):
    on(at, "run")
    assert not [s for s in at.slider if "per minute" in s.label]
    on(at, "keys")
    at.number_input(key="rpm").set_value(120).run()
    on(at, "run")
    assert "4 key(s) × 120 requests/min" in at.caption[0].value


def test_history_shows_each_runs_prompt_model_kind_and_state(at, tmp_path):
    seed(tmp_path, ok=2, failed=1, pending=0, first_rows=300)
    on(at, "history")
    table = at.dataframe[0].value
    row = table.iloc[0]
    assert row["Prompt"] == "Compute {question}" and row["Model"] == "Simulated provider"
    assert row["Kind"] == "test, 3 of 300" and row["Status"] == "done, 1 failed" and row["Cost"] == "$0.0000"


def test_resuming_with_keys_for_another_model_asks_first_and_switching_is_recorded(at, tmp_path):
    import core as c

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: requests fail at once, locally
    store = c.RunStore(tmp_path / "data")
    keys = [c.KeyEntry(LOCAL, url, "model-a", "sk-local-key-0000abcd", 60)]
    run_id = store.create_run(c.RunSpec(template="Say {question}"), c.read_table(b"question\n1\n2\n", "q.csv"), [k.info() for k in keys], file_name="q.csv")
    store.set_status(run_id, "paused")
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    fresh.query_params["run"] = run_id
    fresh.run()
    on(fresh, "keys")
    fresh.text_input(key="model").set_value("model-b").run()
    fresh.text_area(key="keys_text").set_value("sk-local-key-0000abcd\n").run()
    fresh.button(key="add_keys").click().run()
    on(fresh, "run")
    fresh.button(key="resume_stored").click().run()
    errors = [e.value.replace("\\", "") for e in fresh.error]
    assert any("This run was made with model-a" in e and "model-b" in e for e in errors), errors
    assert store.get_run(run_id).status == "paused"  # nothing was sent on the other model
    fresh.button(key="switch_model").click().run()
    assert not fresh.exception
    assert {k.model for k in store.get_run(run_id).keys} == {"model-a", "model-b"}  # the switch is recorded


# --- numbers ----------------------------------------------------------------------------------


def tokens(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_demo_costs_nothing_and_a_test_run_makes_the_estimate_close(at):
    on(at, "run")
    cost = next(m for m in at.metric if m.label == "Cost (estimate)")
    assert (cost.value, cost.delta) == ("$0", "simulated, not a price")  # no price that could be read as a real one
    assert any("length of the expected answers" in c.value for c in at.caption)  # the demo has a label column
    run_until_finished(at)
    assert metric(at, "Cost so far") == "$0.0000"
    at.run()
    assert any("measured" in c.value and "over 10 answers" in c.value for c in at.caption), [c.value for c in at.caption]
    estimate = tokens(metric(at, "Tokens (estimate)"))
    run_until_finished(at, "run_all")
    used = tokens(metric(at, "Tokens"))
    assert abs(estimate - used) / used < 0.15, (estimate, used)  # it was 35,224 for 5,584


# --- keys ---------------------------------------------------------------------------------------


def test_test_keys_tests_the_keys_in_the_box_and_says_why_each_fails(at, sim_server):
    server = sim_server("--dead-key", "sk-dead-0123456789abcd", "--no-quota-key", "sk-broke-0123456789abcd", "--model", "simulated")
    on(at, "keys")
    at.selectbox(key="provider").set_value(LOCAL).run()
    at.text_input(key="base_url").set_value(server.base_url).run()
    at.text_input(key="model").set_value("simulated").run()
    at.text_area(key="keys_text").set_value("sk-dead-0123456789abcd\nsk-broke-0123456789abcd\nsk-good-0123456789abcd").run()
    at.button(key="test_keys").click().run()  # not added first: Test keys adds them
    assert at.session_state["user_keys"] == ["sk-dead-0123456789abcd", "sk-broke-0123456789abcd", "sk-good-0123456789abcd"]
    results = list(at.dataframe[0].value["Test result"])
    assert results[:2] == ["✗ wrong key", "✗ no quota"] and results[2].startswith("✓ works (")
    said = [e.value.replace("\\", "") for e in at.error]
    assert any(
        "does not accept this key (401)" in e and "What to do: Copy the key again in full" in e and "The provider said: Incorrect API key provided" in e
        for e in said
    ), said
    assert any("no quota or balance left" in e and "Add credit" in e for e in said), said
    assert any("The key works" in s.value.replace("\\", "") for s in at.success)


def test_test_keys_never_reports_the_simulated_keys_as_the_users(at):
    on(at, "keys")
    at.button(key="test_keys").click().run()
    assert "no keys of yours to test" in at.info[-1].value
    assert list(at.dataframe[0].value["Test result"]) == [""] * 4 and not at.success


def test_a_closed_port_is_named_as_nothing_listening_with_what_to_do(at):
    on(at, "keys")
    at.selectbox(key="provider").set_value(LOCAL).run()
    at.text_input(key="base_url").set_value(f"http://127.0.0.1:{free_port()}/v1").run()
    at.button(key="test_keys").click().run()
    said = " ".join(e.value.replace("\\", "") for e in at.error)
    assert "Nothing is listening at 127.0.0.1" in said and "Start the local server" in said


# --- pictures -----------------------------------------------------------------------------------


def charts(app: AppTest) -> list[str]:
    """Each Altair chart drawn, as its spec followed by its data (Streamlit sends the data apart, as Arrow)."""
    import pyarrow as pa

    drawn = []
    for e in app.get("vega_lite_chart"):
        tables = [pa.ipc.open_stream(d.data.data).read_pandas().to_json(orient="records") for d in e.proto.datasets]
        drawn.append(e.proto.spec + "\n" + "\n".join(tables))
    return drawn


def test_the_run_page_draws_speed_against_the_limit_latency_and_accuracy(at):
    on(at, "keys")
    at.number_input(key="rpm").set_value(900).run()  # a ceiling: the limit line is 4 keys x 900/min = 60/s
    on(at, "run")
    at.number_input(key="first_n").set_value(40).run()
    run_until_finished(at)
    specs = charts(at)
    assert len(specs) == 3, specs  # rows per second, latency, accuracy
    assert '"limit":60.0' in specs[0] and '"rate"' in specs[0]
    assert '"from"' in specs[1] and '"to"' in specs[1]  # a histogram of seconds per answer
    assert '"right"' in specs[2] and '"wrong"' in specs[2]


def test_failures_are_drawn_by_cause_and_a_few_label_classes_get_a_confusion_matrix(at, tmp_path):
    import core as c

    store = c.RunStore(tmp_path / "data")
    frame = c.read_table(("text,label\n" + "".join(f"t{i},{('yes', 'no')[i % 2]}\n" for i in range(6))).encode(), "yn.csv")
    run_id = store.create_run(c.RunSpec(template="Say {text}", label_column="label"), frame, [k.info() for k in c.demo_pool(1)])
    for i, out in enumerate(["yes", "no", "no", "no"]):
        store.record_result(run_id, c.RowResult(i, "ok", output=out, latency_ms=100, correct=c.answers_match(out, ("yes", "no")[i % 2])))
    for i in (4, 5):
        store.record_result(run_id, c.RowResult(i, "failed", error="Failed after 4 attempts: The request timed out (the provider may still bill it)"))
    store.set_status(run_id, "done")
    open_run(at, run_id)
    specs = charts(at)
    assert any('"timed out"' in s for s in specs)  # failures by cause
    confusion = next(s for s in specs if '"label"' in s and '"answer"' in s)
    assert '{"label":"yes","answer":"no","rows":1}' in confusion


def test_a_run_whose_engine_is_still_closing_shows_its_downloads_without_rerunning_forever(at, monkeypatch):
    """The engine says "done" a moment before its thread lets go of the run (the writer closes,
    clients close). A page drawn in that moment used to rerun itself at once, and again, for as long
    as that took: on a loaded machine the downloads never appeared (CI, two sessions at once)."""
    import core

    on(at, "run")
    at.number_input(key="first_n").set_value(3).run()
    run_id = run_until_finished(at)
    handle = core.get_runner().last(run_id)
    assert handle is not None and handle.snapshot().state == "done"
    monkeypatch.setattr(type(handle), "done", property(lambda self: False))  # still closing, as seen from the page
    at.run(timeout=20)
    assert not at.exception, at.exception
    assert [b.label for b in at.get("download_button")][:1] == ["CSV for Excel"]
    assert not [b for b in at.button if b.key in ("pause", "cancel")]  # a finished run has nothing to pause


def test_core_errors_a_user_can_meet_are_chinese_on_the_chinese_page(at):
    at.segmented_control(key="lang").set_value("zh").run()
    at.file_uploader(key="upload").upload("q.csv", b'a,b\n1,"never closed\n2,3\n', "text/csv").run()
    assert at.error and at.error[0].value.replace("\\", "").startswith("第 2 行有一个引号")
    on(at, "keys")
    at.selectbox(key="provider__zh").set_value(LOCAL).run()
    at.text_input(key="base_url").set_value("localhost:8000/v1").run()
    assert any(e.value.replace("\\", "").startswith("接口地址必须以 http") for e in at.error)


def test_an_output_column_listed_twice_is_said_in_chinese_on_the_run_page(at):
    at.segmented_control(key="lang").set_value("zh").run()
    on(at, "prompt")
    at.segmented_control(key="output_mode").set_value("columns").run()
    at.session_state["columns_editor_0"] = {"edited_rows": {}, "added_rows": [{"name": "a"}, {"name": "a"}], "deleted_rows": []}
    at.run()
    on(at, "run")
    assert [e.value for e in at.error] == ["有两个输出列都叫“a”：请给每列取不同的名字。"]
