"""The Compare page with Streamlit's AppTest: the classic experiment with no key, building
variants, the estimate, a comparison found again from its URL and from History, in English and
Chinese. AppTest's `run_every` timers do not fire, so tests call `at.run()` to poll."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

import core
from core import constants as C
from tests.conftest import ROOT
from tests.test_app_truth import metric, on, texts


def until_finished(app: AppTest, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.run()
        assert not app.exception, app.exception
        bars = [p.proto.text for p in app.get("progress")]
        if bars and not any("running" in b or "运行中" in b or "starting" in b for b in bars):
            return
        time.sleep(0.2)
    raise AssertionError(f"the comparison did not finish: {[p.proto.text for p in app.get('progress')]}")


def table_with(app: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The drawn table that has this column (AppTest finds dataframes by position, not key)."""
    return next(d.value for d in app.dataframe if column in d.value.columns)


def metrics(app: AppTest, label: str) -> list[str]:
    return [m.value for m in app.metric if m.label == label]


def test_the_classic_experiment_runs_with_no_key_and_names_the_careful_prompt_the_winner(at):
    on(at, "compare")
    assert any("simulated" in c.value for c in at.caption)  # said up front: it is the simulated provider
    at.button(key="cmp_classic").click().run()
    until_finished(at)
    cid = at.session_state["compare_id"]
    assert at.query_params["compare"] == cid
    assert metrics(at, "Accuracy")[:2] == ["93.0%", "98.7%"]
    assert metrics(at, "Right")[:2] == ["279 / 300", "296 / 300"]
    assert "careful wins by 5.7 points over terse" in " ".join(s.value.replace("\\", "") for s in at.success)
    assert any("Simulated provider" in c.value for c in at.caption)
    # the row view: why the careful prompt is better
    assert len(table_with(at, "careful")) == 300
    at.selectbox(key="cmp_filter").set_value("only_right:careful").run()
    shown = table_with(at, "careful")
    assert len(shown) == 17 and set(shown["careful right"]) == {"✓"} and set(shown["terse right"]) == {"✗"}
    at.selectbox(key="cmp_filter").set_value("all_wrong").run()
    assert len(table_with(at, "careful")) == 4
    downloads = [b.key for b in at.get("download_button")]
    assert len(downloads) == 7 and downloads[-1] == "cmp_download_both_xlsx"  # wide and summary, as CSV, XLSX and JSONL; both in one workbook
    # and in Chinese
    at.segmented_control(key="lang").set_value("zh").run()
    assert at.title[0].value == "对比提示词与模型"
    assert metrics(at, "准确率")[:2] == ["93.0%", "98.7%"]
    assert "careful 以领先 5.7 个百分点胜过 terse" in " ".join(s.value.replace("\\", "") for s in at.success)
    assert not [x for x in texts(at) if "compare." in x]  # no text shown as its key


def test_variants_are_built_on_the_page_checked_estimated_and_run_on_the_rows_chosen(at):
    on(at, "compare")
    ids = at.session_state["cmp_ids"]
    assert len(ids) == 1 and at.session_state[f"cmp_{ids[0]}_template"] == at.session_state["template"]  # the Prompt page's prompt
    at.button(key=f"cmp_copy_{ids[0]}").click().run()
    assert any("would send the same requests" in e.value.replace("\\", "") for e in at.error)
    second = at.session_state["cmp_ids"][1]
    at.text_area(key=f"cmp_{second}_template").set_value("Compute {question} step by step. Reply with the number only.").run()
    assert not at.error
    at.selectbox(key="cmp_rows_mode").set_value("random").run()
    at.number_input(key="cmp_rows_n").set_value(12).run()
    at.number_input(key="cmp_seed").set_value(5).run()
    assert metric(at, "Requests") == "24"
    run = at.button(key="cmp_run")
    assert run.label == "Run 2 variants on 12 rows"
    run.click().run()
    assert not at.exception and not at.error
    until_finished(at)
    record = core.get_comparison(_store(), at.session_state["compare_id"])
    assert record.rows == tuple(core.RowSelection("random", 12, seed=5).rows(300)) and [v.name for v in record.variants] == ["A", "B"]
    assert metrics(at, "Right")[:2] and all(v.endswith("/ 12") for v in metrics(at, "Right")[:2])

    # the grid: every template x every model, in one click
    at.text_area(key="cmp_grid_templates").set_value("Compute {question}.\n---\nWhat is {question}?")
    at.text_input(key="cmp_grid_models").set_value("simulated, gpt-4o-mini")
    at.button(key="cmp_make_grid").click().run()
    names = [at.session_state[f"cmp_{u}_name"] for u in at.session_state["cmp_ids"]]
    assert names == ["t1/simulated", "t1/gpt-4o-mini", "t2/simulated", "t2/gpt-4o-mini"]


def _store() -> core.RunStore:
    import os

    return core.RunStore(os.environ["LLM_BATCH_DATA_DIR"])


def test_a_comparison_is_found_again_from_its_url_and_from_history(at):
    on(at, "compare")
    at.button(key="cmp_classic").click().run()
    until_finished(at)
    cid = at.session_state["compare_id"]
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)  # a reload is a new session
    fresh.query_params["compare"] = cid
    fresh.run()
    on(fresh, "compare")
    assert fresh.session_state["compare_id"] == cid and metrics(fresh, "Accuracy")[:2] == ["93.0%", "98.7%"]

    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    other.run()
    on(other, "history")
    listed = table_with(other, "Comparison id")
    assert list(listed["Comparison id"]) == [cid] and list(listed["Variants"]) == ["terse, careful"]
    on(other, "run")
    assert any(link.proto.page.endswith("compare.py") or "compare" in link.proto.page for link in other.get("page_link"))


class slow_demo:  # noqa: N801 - used as a context: `with slow_demo():`
    """Demo answers that take 20 s while inside: a click right after starting finds every row
    still to do, on any machine. Requests sent meanwhile keep their 20 s."""

    def __enter__(self) -> None:
        from core.simulator import demo_simulator

        self.config = demo_simulator().config
        self.was, self.config.latency_s = self.config.latency_s, 20.0

    def __exit__(self, *exc: object) -> None:
        self.config.latency_s = self.was


def test_a_comparison_can_be_cancelled_resumed_and_scored_again_from_the_page(at):
    on(at, "compare")
    with slow_demo():
        at.button(key="cmp_classic").click().run()
        at.button(key="cmp_cancel").click().run()  # every row is still to do: no answer came yet
    deadline = time.monotonic() + 60
    while not [b for b in at.button if b.key == "cmp_resume"]:
        assert time.monotonic() < deadline, [p.proto.text for p in at.get("progress")]
        time.sleep(0.2)
        at.run()
    assert any("cancelled" in p.proto.text for p in at.get("progress"))
    stopped = core.comparison_progress(_store(), at.session_state["compare_id"])
    assert stopped.state == "cancelled" and stopped.pending > 0
    at.button(key="cmp_resume").click().run()
    until_finished(at)
    assert metrics(at, "Right")[:2] == ["279 / 300", "296 / 300"]  # the same answers, each row once
    # another scoring, with nothing sent again
    at.text_input(key="cmp_rescore").set_value("numeric:3").run()
    at.button(key="cmp_rescore_go").click().run()
    assert metrics(at, "Right")[:2] == ["300 / 300", "300 / 300"]
    at.text_input(key="cmp_rescore").set_value("regex:(").run()
    at.button(key="cmp_rescore_go").click().run()
    assert any("does not compile" in e.value for e in at.error)


def test_one_of_scoring_draws_a_confusion_matrix_per_variant(at):
    on(at, "compare")
    at.selectbox(key="cmp_rows_mode").set_value("first").run()
    at.number_input(key="cmp_rows_n").set_value(8).run()
    at.selectbox(key="cmp_score_mode").set_value("oneof").run()
    assert any("at least two classes" in e.value for e in at.error)  # said before anything runs
    at.text_input(key="cmp_classes").set_value("-48, -99, 1").run()
    ids = at.session_state["cmp_ids"]
    at.button(key=f"cmp_copy_{ids[0]}").click().run()
    at.text_input(key=f"cmp_{at.session_state['cmp_ids'][1]}_system").set_value("Work carefully.").run()
    at.button(key="cmp_run").click().run()
    until_finished(at)
    assert not at.exception
    assert sum("Expected vs answered" in m.value for m in at.markdown) == 2


def test_a_variants_template_problem_is_said_in_chinese_with_the_variants_name(at):
    at.segmented_control(key="lang").set_value("zh").run()
    at.file_uploader(key="upload").upload("题目.csv", "问题,答案\n1 + 1,2\n".encode(), "text/csv").run()
    on(at, "compare")
    errors = [e.value.replace("\\", "") for e in at.error]
    assert errors and errors[0].startswith("A："), errors  # the variant named, then its problem in Chinese
    assert "Unknown column" not in errors[0] and "{question}" in errors[0]


LOCAL = "vLLM / llama.cpp (local)"


def test_a_variant_picks_its_provider_from_the_keys_page_and_is_sent_with_that_providers_keys_only(at, sim_server):
    server = sim_server("--model", "simulated", "--rpm", "0", "--latency", "0.01", "--error-rate", "0")
    on(at, "keys")
    at.selectbox(key="provider").set_value(LOCAL).run()
    at.text_input(key="base_url").set_value(server.base_url).run()
    at.text_input(key="model").set_value("simulated").run()
    at.text_area(key="keys_text").set_value("sk-good-0123456789abcd").run()
    at.button(key="add_keys").click().run()
    on(at, "compare")
    first = at.session_state["cmp_ids"][0]
    provider = at.selectbox(key=f"cmp_{first}_provider")
    # the Keys page's provider, then the demo, then every other preset, whose keys can be pasted for the variant
    assert provider.options[:3] == ["vLLM / llama.cpp (local) · 1 key", "Simulated (demo)", "OpenAI · no key yet"]
    assert "DeepSeek · no key yet" in provider.options and "Ollama (local)" in provider.options
    assert provider.value == server.base_url  # the Keys page's provider first
    assert at.text_input(key=f"cmp_{first}_model").value == "simulated" and not at.text_input(key=f"cmp_{first}_model").disabled
    # a second variant, the same prompt, on the simulated provider: not the same requests
    at.button(key=f"cmp_copy_{first}").click().run()
    second = at.session_state["cmp_ids"][1]
    assert at.session_state[f"cmp_{second}_provider"] == server.base_url  # a copy keeps the provider
    at.selectbox(key=f"cmp_{second}_provider").set_value(C.SIMULATED_BASE_URL).run()
    assert at.text_input(key=f"cmp_{second}_model").disabled and at.session_state[f"cmp_{second}_model"] == "simulated"
    assert not at.error, [e.value for e in at.error]
    at.selectbox(key="cmp_rows_mode").set_value("first").run()
    at.number_input(key="cmp_rows_n").set_value(6).run()
    assert metric(at, "Requests") == "12"
    at.button(key="cmp_run").click().run()
    until_finished(at)
    record = core.get_comparison(_store(), at.session_state["compare_id"])
    assert [(v.name, v.base_url, v.simulated) for v in record.variants] == [("A", server.base_url, False), ("B", C.SIMULATED_BASE_URL, True)]
    # only A's six rows went to the loopback server, on the user's key; B's were answered by the built-in simulator
    assert sum(s["requests"] for s in server.stats().values()) == 6
    runs = [_store().get_run(r, counts=False) for r in record.run_ids]
    assert [k.masked for k in runs[0].keys] == ["sk-...abcd"] and all(k.simulated for k in runs[1].keys)
    assert metrics(at, "Right")[:2] and all(v.endswith("/ 6") for v in metrics(at, "Right")[:2])

    # the grid on a provider of its own choice
    at.text_area(key="cmp_grid_templates").set_value("Compute {question}.\n---\nWhat is {question}?")
    at.selectbox(key="cmp_grid_provider").set_value(C.SIMULATED_BASE_URL)
    at.text_input(key="cmp_grid_models").set_value("")
    at.button(key="cmp_make_grid").click().run()
    ids = at.session_state["cmp_ids"]
    assert [at.session_state[f"cmp_{u}_name"] for u in ids] == ["t1", "t2"]
    assert {at.session_state[f"cmp_{u}_provider"] for u in ids} == {C.SIMULATED_BASE_URL}
    at.selectbox(key=f"cmp_{ids[0]}_provider").set_value(server.base_url).run()
    at.text_input(key=f"cmp_{ids[0]}_model").set_value("my-model").run()

    # keys removed on the Keys page: a variant on that provider falls back to one that can run, said in Chinese too
    on(at, "keys")
    at.session_state["user_keys"] = []
    at.selectbox(key="provider").set_value("OpenAI").run()
    on(at, "compare")
    assert at.selectbox(key=f"cmp_{ids[0]}_provider").options[:2] == ["Simulated (demo)", "OpenAI · no key yet"]
    assert at.session_state[f"cmp_{ids[0]}_provider"] == C.SIMULATED_BASE_URL and at.session_state[f"cmp_{ids[0]}_model"] == "simulated"
    assert any("needs an API key" in w.value for w in at.warning)
    at.segmented_control(key="lang").set_value("zh").run()
    assert any("方案只能使用模拟模型" in w.value for w in at.warning)


def _finished_comparison(name: str, template: str) -> core.ComparisonRecord:
    """A small comparison made and finished outside the page, in the page's data folder."""
    from tests.conftest import arithmetic_frame, wait_for

    store, runner = _store(), core.Runner()
    try:
        variants = [core.Variant("terse", template), core.Variant("careful", template + " Work carefully.")]
        base = core.RunSpec(template="-", label_column="answer")
        record = core.start_comparison(store, arithmetic_frame(4), variants, core.demo_pool(2), base=base, name=name, runner=runner)
        assert wait_for(lambda: not core.comparison_progress(store, record.id, runner).live, timeout=60)
        return record
    finally:
        runner.shutdown()


def test_history_deletes_the_comparison_it_names_with_its_runs_and_not_while_it_runs(at):
    kept = _finished_comparison("kept", "Compute {question}.")
    gone = _finished_comparison("gone", "What is {question}?")
    on(at, "history")
    assert list(table_with(at, "Comparison id")["Comparison id"]) == [gone.id, kept.id]
    assert not [b for b in at.button if b.key == "history_delete_comparison"]  # nothing picked, nothing to delete
    at.session_state["history_comparison"] = gone.id  # as a click on its row does
    at.run()
    confirm = " ".join(m.value for m in at.markdown)
    assert f"Delete comparison gone (`{gone.id}`), and the 2 runs of its 2 variants" in confirm.replace("\\", "")
    delete = at.button(key="history_delete_comparison")
    assert delete.label == "Delete the comparison and its 2 runs"
    delete.click().run()
    assert not at.exception
    store = _store()
    assert core.get_comparison(store, gone.id) is None and all(store.get_run(r, counts=False) is None for r in gone.run_ids)
    assert core.get_comparison(store, kept.id) is not None and all(store.get_run(r, counts=False) is not None for r in kept.run_ids)
    assert any("Deleted comparison gone and its 2 runs." in s.value.replace("\\", "") for s in at.success), [s.value for s in at.success]
    assert list(table_with(at, "Comparison id")["Comparison id"]) == [kept.id]
    assert not [b for b in at.button if b.key == "history_delete_comparison"]  # the pick went with it
    # in Chinese, naming it too
    at.session_state["history_comparison"] = kept.id
    at.segmented_control(key="lang").set_value("zh").run()
    assert f"确定删除对比 kept（`{kept.id}`）及其 2 个方案的 2 个任务和结果吗" in " ".join(m.value for m in at.markdown).replace("\\", "")
    assert at.button(key="history_delete_comparison").label == "删除该对比及其 2 个任务"
    at.segmented_control(key="lang").set_value("en").run()

    # a comparison still going in this app is not deleted: it is said, and it stays
    on(at, "compare")
    with slow_demo():
        at.button(key="cmp_classic").click().run()
        at.button(key="cmp_pause").click().run()  # paused: still going, every row still to do
    live = at.session_state["compare_id"]
    on(at, "history")
    at.session_state["history_comparison"] = live
    at.run()
    at.button(key="history_delete_comparison").click().run()
    assert any("still running: cancel it first" in e.value.replace("\\", "") for e in at.error), [e.value for e in at.error]
    assert core.get_comparison(_store(), live) is not None
    on(at, "compare")
    at.button(key="cmp_cancel").click().run()
