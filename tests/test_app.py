"""Each page's wiring with Streamlit's AppTest: widgets in, one core call, the right thing drawn.
AppTest's `run_every` timers do not fire, so tests call `at.run()` to poll."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import core
from app_pages.i18n import STRINGS
from tests.conftest import ROOT

PAGES = ["app_pages/data.py", "app_pages/prompt.py", "app_pages/keys.py", "app_pages/run.py", "app_pages/history.py"]


def on(app: AppTest, page: str) -> AppTest:
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_the_app_opens_on_the_data_page_with_the_demo_dataset_and_no_key(at):
    assert at.title[0].value == "Data"
    assert metric(at, "Rows") == "300" and metric(at, "Columns") == "3"
    on(at, "app_pages/keys.py")
    assert "simulated keys" in at.info[0].value


def test_a_gbk_csv_from_chinese_excel_uploads_with_its_encoding_shown(at):
    data = "问题,答案\n1 + 1,2\n2 + 3,5\n".encode("gb18030")
    at.file_uploader(key="upload").upload("题目.csv", data, "text/csv").run()
    assert not at.exception
    assert metric(at, "Rows") == "2" and metric(at, "Encoding") == "gb18030"
    assert list(at.dataframe[0].value.columns) == ["问题", "答案"]


def test_a_file_that_cannot_be_read_gets_a_plain_message_and_keeps_the_previous_table(at):
    at.file_uploader(key="upload").upload("empty.csv", b"", "text/csv").run()
    assert not at.exception
    assert at.error and "empty" in at.error[0].value.lower()
    assert metric(at, "Rows") == "300"  # the table the user had is not lost


def test_column_chips_insert_placeholders_and_the_preview_renders_the_first_rows(at):
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Solve ").run()
    at.pills(key="column_chips").set_value("question").run()
    assert at.text_area(key="template").value == "Solve {question}"
    previews = [c.value for c in at.code]
    assert len(previews) == 3 and all(p.startswith("Solve ") and "{" not in p for p in previews)


def test_an_unknown_placeholder_is_flagged_with_the_closest_column(at):
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Compute {questoin}").run()
    assert any("{question}" in w.value.replace("\\", "") for w in at.warning)  # shown escaped, as text
    on(at, "app_pages/run.py")
    assert at.error and "question" in at.error[0].value  # nothing can be started with it
    assert not [b for b in at.button if b.key == "run_all"]


def test_the_prompt_survives_a_trip_to_another_page(at):
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Keep me {question}").run()
    on(at, "app_pages/keys.py")
    on(at, "app_pages/prompt.py")
    assert at.text_area(key="template").value == "Keep me {question}"


def test_pasted_keys_are_masked_once_added_and_never_shown_again(at):
    on(at, "app_pages/keys.py")
    at.text_area(key="keys_text").set_value("sk-test-aaaa1111\nsk-test-bbbb2222\n").run()
    at.button(key="add_keys").click().run()
    assert at.text_area(key="keys_text").value == ""
    table = at.dataframe[0].value
    assert list(table["Key"]) == ["sk-...1111", "sk-...2222"]
    assert at.selectbox(key="provider").value == "OpenAI"  # a real key leaves the demo provider
    rendered = repr([e for e in at.main]) + repr([e for e in at.sidebar])
    assert "sk-test-aaaa1111" not in rendered and "sk-test-bbbb2222" not in rendered


def test_requests_per_minute_are_auto_until_a_ceiling_is_typed_and_keys_can_share_one_limit(at):
    on(at, "app_pages/keys.py")
    at.text_area(key="keys_text").set_value("sk-test-aaaa1111\nsk-test-bbbb2222\n").run()
    at.button(key="add_keys").click().run()
    assert at.number_input(key="rpm").value is None
    assert list(at.dataframe[0].value["Requests/min"]) == ["Auto", "Auto"]
    at.number_input(key="rpm").set_value(500).run()
    at.checkbox(key="shared_limit").check().run()
    assert list(at.dataframe[0].value["Requests/min"]) == ["≤ 500", "≤ 500"]
    assert at.session_state["shared_limit"] is True
    on(at, "app_pages/run.py")
    assert any("500 requests/min" in c.value for c in at.caption)  # set once, on the Keys page, and said here
    on(at, "app_pages/keys.py")
    at.selectbox(key="provider").set_value("DeepSeek").run()
    assert at.number_input(key="rpm").value is None  # another provider: back to Auto


def test_every_pace_a_key_can_show_has_both_languages_and_cores_english():
    from core import PACE_TEXTS

    for code, english in PACE_TEXTS.items():
        assert STRINGS[f"pace.{code}"][0] == english, code


def test_choosing_a_provider_fills_its_base_url_model_and_limit(at):
    on(at, "app_pages/keys.py")
    at.selectbox(key="provider").set_value("DeepSeek").run()
    assert at.text_input(key="base_url").value == "https://api.deepseek.com/v1"
    assert at.text_input(key="model").value == "deepseek-chat"


def test_the_run_page_estimates_then_runs_the_demo_to_the_end_with_downloads(at):
    on(at, "app_pages/run.py")
    assert metric(at, "Requests") == "300"
    at.button(key="run_test").click().run()
    run_id = at.session_state["run_id"]
    assert at.query_params["run"] == run_id
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        at.run()
        if metric(at, "Succeeded") == "10":
            break
        time.sleep(0.2)
    assert metric(at, "Succeeded") == "10" and metric(at, "Pending") == "0"
    assert not at.exception
    table = at.dataframe[-1].value
    assert len(table) == 10 and set(table["status"]) == {"ok"}
    assert {b.key for b in at.get("download_button")} >= {"download_csv", "download_xlsx", "download_jsonl"}


def test_opening_a_run_url_in_another_tab_shows_that_run(at, tmp_path):
    on(at, "app_pages/run.py")
    at.button(key="run_test").click().run()
    run_id = at.session_state["run_id"]
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    other.query_params["run"] = run_id
    other.run()
    other.switch_page("app_pages/run.py").run()
    assert not other.exception
    assert any(run_id in c.value for c in other.caption)


def test_history_lists_past_runs_and_opens_one(at):
    on(at, "app_pages/run.py")
    at.button(key="run_test").click().run()
    on(at, "app_pages/history.py")
    table = at.dataframe[0].value
    assert len(table) == 1 and table["File"][0].startswith("demo_arithmetic.csv")


def test_the_language_switch_translates_every_page(at):
    at.segmented_control(key="lang").set_value("zh").run()
    assert at.title[0].value == "数据"
    for page, title in zip(PAGES[1:], ["提示词", "密钥与限速", "运行", "历史记录"]):
        on(at, page)
        assert at.title[0].value == title


SHOWN_WITH_LITERAL_BRACES = {"prompt.intro", "prompt.columns_help"}


def _used_keys() -> set[str]:
    """Every text key the pages look up, with f-string keys expanded from their known values."""
    used: set[str] = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "t" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant):
                    used.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    prefix = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                    assert any(k.startswith(prefix) for k in STRINGS), prefix
    return used


def test_every_text_the_pages_use_exists_in_both_languages():
    used = _used_keys()
    missing = sorted(k for k in used if k not in STRINGS)
    assert not missing, missing
    for key, (en, zh) in STRINGS.items():
        assert en.strip() and zh.strip(), key
        if key not in SHOWN_WITH_LITERAL_BRACES:  # these show "{column}" as an example, unformatted
            assert set(re.findall(r"\{(\w+)", en)) == set(re.findall(r"\{(\w+)", zh)), key
    for state in ("starting", "running", "paused", "waiting_for_keys", "done", "cancelled", "failed", "interrupted"):
        assert f"state.{state}" in STRINGS


@pytest.fixture
def preset_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-team-preset-0000aaaa,sk-team-preset-1111bbbb")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.deepseek.com/v1")
    return monkeypatch


def test_preset_keys_are_guarded_by_a_password(preset_env):
    preset_env.setenv("LLM_BATCH_PASSWORD", "open sesame")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not app.title or app.title[0].value != "Data"  # nothing of the app before the password
    app.text_input(key="login_name").input("Ana")
    app.text_input(key="password_input").input("wrong")
    app.button[0].click().run()  # a form sends its fields with the button
    assert app.error and "not right" in app.error[0].value
    core.get_throttle().succeeded(app.session_state["access_session"])  # (the wait after a failure is test_access_app's)
    app.text_input(key="password_input").input("open sesame")
    app.button[0].click().run()
    assert app.title[0].value == "Data"
    app.switch_page("app_pages/keys.py").run()
    assert "preset on this server" in app.success[0].value
    assert list(app.dataframe[0].value["Key"]) == ["sk-...aaaa", "sk-...bbbb"]
    assert "sk-team-preset" not in repr(list(app.main))


def test_preset_keys_without_a_password_are_not_used(preset_env):
    preset_env.delenv("LLM_BATCH_PASSWORD", raising=False)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert app.title[0].value == "Data"
    app.switch_page("app_pages/keys.py").run()
    assert any("not used until an access mode is set" in w.value for w in app.warning)
    assert "simulated keys" in app.info[0].value


def test_switching_the_language_keeps_every_choice(at):
    on(at, "app_pages/prompt.py")
    at.segmented_control(key="output_mode").set_value("columns").run()
    at.session_state["columns_editor_0"] = {"edited_rows": {}, "added_rows": [{"name": "reason"}, {"name": "infer", "type": "integer"}], "deleted_rows": []}
    at.run()
    at.selectbox(key="label_column").set_value("answer").run()
    on(at, "app_pages/keys.py")
    at.selectbox(key="provider").set_value("DeepSeek").run()
    at.segmented_control(key="lang").set_value("zh").run()
    assert at.selectbox(key="provider__zh").value == "DeepSeek"  # the Chinese page has its own box, same choice
    on(at, "app_pages/prompt.py")
    assert at.segmented_control(key="output_mode").value == "columns"
    assert at.data_editor[0].value["name"].tolist() == ["reason", "infer"]
    assert at.selectbox(key="label_column").value == "answer"
    assert at.query_params["lang"] == "zh"


def test_a_reloaded_run_url_brings_back_that_runs_table_and_prompt(at):
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Please compute {question}").run()
    on(at, "app_pages/run.py")
    at.button(key="run_test").click().run()
    run_id = at.session_state["run_id"]
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)  # a reload is a new session
    fresh.query_params["run"] = run_id
    fresh.run()
    assert fresh.session_state["template"] == "Please compute {question}"
    assert fresh.session_state["dataset"]["name"] == "demo_arithmetic.csv"
    assert len(fresh.session_state["dataset"]["table"].frame) == 10  # the run's own rows


def test_errors_from_core_are_shown_in_the_chosen_language(at):
    at.segmented_control(key="lang").set_value("zh").run()
    at.file_uploader(key="upload").upload("empty.csv", b"", "text/csv").run()
    assert at.error and at.error[0].value.startswith("文件是空的")


def test_every_error_code_raised_by_core_has_a_translation():
    import re as _re

    codes = set()
    for path in (ROOT / "core").glob("*.py"):
        codes |= set(_re.findall(r'InputError\([^)]*?,\s*"([a-z_]+)"', path.read_text(encoding="utf-8"), _re.DOTALL))
    assert codes, "no codes found: the pattern is wrong"
    assert not sorted(c for c in codes if f"error.{c}" not in STRINGS)


def test_text_from_outside_is_shown_as_text_not_markdown(at):
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Hi {![x](http://e.test)} {:bolt:}").run()
    bodies = [w.value for w in at.warning]
    assert any("\\!\\[x\\]\\(http\\://e\\.test\\)" in b for b in bodies)  # escaped: no image, no link
    assert any("\\:bolt\\:" in b for b in bodies)  # no icon code either


def test_brace_tips_show_doubled_braces_in_both_languages(at):
    at.segmented_control(key="lang").set_value("zh").run()
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Hi {zzz}").run()
    assert "{{ 和 }}" in at.warning[0].value.replace("\\", "")


def test_a_new_table_without_the_label_column_clears_the_label_choice(at):
    at.file_uploader(key="upload").upload("other.csv", b"text\nhello\n", "text/csv").run()
    on(at, "app_pages/prompt.py")
    at.text_area(key="template").set_value("Say {text}").run()
    on(at, "app_pages/run.py")
    assert not at.error and [b for b in at.button if b.key == "run_all"]


def test_resuming_a_run_made_with_real_keys_asks_for_them_instead_of_using_the_demo(at, tmp_path):
    import core as c

    store = c.RunStore(tmp_path / "data")
    real = [c.KeyEntry("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", "sk-real-key-0000abcd", 60)]
    run_id = store.create_run(c.RunSpec(template="Compute {question}"), c.read_table(b"question\n1 + 1\n", "q.csv"), [k.info() for k in real])
    store.set_status(run_id, "running")  # as left by a crashed server
    on(at, "app_pages/run.py")
    at.query_params["run"] = run_id
    at.run()
    at.button(key="resume_stored").click().run()
    assert any("Enter the API keys again" in e.value.replace("\\", "") for e in at.error)
    assert store.get_run(run_id).pending == 1 and store.get_run(run_id).keys[0].provider == "OpenAI"


def test_the_price_can_be_edited_and_the_cache_turned_off_for_a_run(at):
    from tests.conftest import free_port

    on(at, "app_pages/keys.py")  # a real provider: the simulated one is free whatever the price says
    at.selectbox(key="provider").set_value("vLLM / llama.cpp (local)").run()
    at.text_input(key="base_url").set_value(f"http://127.0.0.1:{free_port()}/v1").run()
    on(at, "app_pages/run.py")
    at.number_input(key="price_in").set_value(1.0).run()
    at.number_input(key="price_out").set_value(2.0).run()
    at.checkbox(key="use_cache").uncheck().run()
    at.button(key="run_test").click().run()
    spec = c_get_run(at).spec
    assert (spec.price_in, spec.price_out, spec.use_cache) == (1.0, 2.0, False)


def c_get_run(app: AppTest):  # type: ignore[no-untyped-def]
    from app_pages.common import store

    return store().get_run(app.session_state["run_id"])
