"""The Run page's batch choice with Streamlit's AppTest: offered where the preset supports it, both
costs and the window shown, the run sent as a batch and its provider stages drawn."""

from __future__ import annotations

import pytest

import core
from core import constants as C
from core.simulator import demo_simulator
from tests.test_app import metric, on


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
