"""Issue 7, "the page tells the truth, at a glance", with Streamlit's AppTest: a run's state says
what happened, answers appear where the button is, settings describe the run shown, numbers are
honest, and the Chinese page is Chinese. AppTest's `run_every` timers do not fire, so tests call
`at.run()` to poll."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, free_port

LOCAL = "vLLM / llama.cpp (local)"


@pytest.fixture
def at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    st.cache_resource.clear()  # a fresh store in this test's data folder
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


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
