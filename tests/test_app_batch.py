"""The Run page's batch choice with Streamlit's AppTest: offered where the preset supports it, both
costs and the window shown, the run sent as a batch and its provider stages drawn."""

from __future__ import annotations

import pytest

import core
from core import constants as C
from core.batch_store import BatchJobs
from core.simulator import demo_simulator
from tests.conftest import ROOT, arithmetic_frame, crash, wait_for
from tests.test_app import metric, on

TEMPLATE = "Compute {question}. Reply with the number only."


@pytest.fixture
def instant_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "BATCH_POLL_FIRST_S", 0.001)
    monkeypatch.setattr(C, "BATCH_POLL_MAX_S", 0.005)
    monkeypatch.setattr(demo_simulator().config, "batch_completion_s", 0.0)


def test_the_run_page_offers_batch_mode_with_both_costs_and_runs_the_demo_as_a_batch(at, instant_batches):
    on(at, "app_pages/run.py")
    mode = at.radio(key="run_mode")
    assert mode.options == ["Now", "Batch (cheaper, slower)"] and mode.value == "now"
    assert any("as a batch" in c.value and "24 hours" in c.value for c in at.caption)
    before = demo_simulator().batch.created[:]
    mode.set_value("batch").run()
    at.button(key="run_test").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["run_id"]
    assert core.get_runner().last(run_id).wait(30)
    at.run()
    assert metric(at, "Succeeded") == "10" and metric(at, "Pending") == "0"
    assert len(demo_simulator().batch.created) == len(before) + 1  # one batch, not 10 requests
    panel = " ".join(m.value for m in at.markdown)
    assert "Batch at the provider" in panel and "completed" in panel and "10 of 10 done" in panel


def test_the_preset_flag_decides_where_batch_mode_is_offered(at):
    assert not core.batch_supported("DeepSeek") and core.batch_supported("OpenAI") and core.batch_supported("My own gateway")
    on(at, "app_pages/run.py")
    assert [r for r in at.radio if r.key == "run_mode"]  # the simulator offers it


def test_every_batch_text_has_chinese():
    from app_pages.i18n_batch import BATCH_STRINGS

    assert all(en and zh and en != zh for en, zh in BATCH_STRINGS.values())


def demo_batch_of_a_dead_process(store: core.RunStore, n: int = 4) -> str:
    """A demo batch run made by an app process that then died (its loop stopped, the store says
    'running'), with its batch at the demo simulator."""
    before = core.Runner()  # the process before the restart, on the same demo simulator
    handle = core.start_run(store, arithmetic_frame(n), core.RunSpec(template=TEMPLATE, batch=True), core.demo_pool(2), runner=before)
    assert wait_for(lambda: [j.batch_id is not None for j in BatchJobs(store).list(handle.run_id)] == [True], timeout=30)
    crash(before)
    assert store.get_run(handle.run_id).status == "running"
    return handle.run_id


def test_the_app_follows_a_batch_left_by_a_restart_as_soon_as_it_starts(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(C, "BATCH_POLL_FIRST_S", 0.001)
    monkeypatch.setattr(C, "BATCH_POLL_MAX_S", 0.005)
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(demo_simulator().config, "batch_completion_s", 3600.0)
    store = core.get_store()
    run_id = demo_batch_of_a_dead_process(store)
    created = demo_simulator().batch.created[:]

    monkeypatch.setattr(demo_simulator().config, "batch_completion_s", 0.0)  # the batch ends while the app is down
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.run()  # the Data page: nobody opens the run, nobody presses Resume
    assert not app.exception, app.exception
    handle = core.get_runner().last(run_id)
    assert handle is not None and handle.wait(30) and handle.result() == "done"
    assert demo_simulator().batch.created == created  # polled, never submitted again
    assert set(store.results_table(run_id)["status"]) == {"ok"}


def test_opening_a_batch_run_nobody_follows_follows_it_without_resume(at, monkeypatch):
    monkeypatch.setattr(C, "BATCH_POLL_FIRST_S", 0.001)
    monkeypatch.setattr(C, "BATCH_POLL_MAX_S", 0.005)
    monkeypatch.setattr(demo_simulator().config, "batch_completion_s", 3600.0)
    store = core.get_store()
    run_id = demo_batch_of_a_dead_process(store)  # after the app started: only opening it can follow it
    created = demo_simulator().batch.created[:]
    assert core.get_runner().last(run_id) is None

    monkeypatch.setattr(demo_simulator().config, "batch_completion_s", 0.0)
    at.query_params["run"] = run_id
    on(at, "app_pages/run.py")
    handle = core.get_runner().last(run_id)
    assert handle is not None and handle.wait(30) and handle.result() == "done"
    at.run()
    assert metric(at, "Succeeded") == "4" and metric(at, "Pending") == "0"
    assert not [b for b in at.button if b.key == "resume_stored"]
    assert demo_simulator().batch.created == created
