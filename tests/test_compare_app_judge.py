"""The Compare page with AppTest: scoring by a judge (its provider, model and rubric chosen on the
page, its verdicts in the row view, its own requests, tokens and cost apart from the variants'),
and a second tab that finds a running comparison live and can steer it."""

from __future__ import annotations

import os
import time

from streamlit.testing.v1 import AppTest

import core
from tests.conftest import ROOT
from tests.test_app_truth import on
from tests.test_compare_app import metrics, slow_demo, table_with


def _store() -> core.RunStore:
    return core.RunStore(os.environ["LLM_BATCH_DATA_DIR"])


def until_judged(app: AppTest, timeout: float = 120) -> None:
    """Until the comparison, its judge included, is no longer live; then the page drawn again."""
    deadline = time.monotonic() + timeout
    while core.comparison_progress(_store(), app.session_state["compare_id"]).live:
        assert time.monotonic() < deadline, "the comparison did not end"
        time.sleep(0.2)
    app.run()
    assert not app.exception, app.exception


def test_a_judge_chosen_on_the_page_grades_every_answer_and_its_cost_is_shown_apart(at):
    on(at, "compare")
    at.selectbox(key="cmp_rows_mode").set_value("first").run()
    at.number_input(key="cmp_rows_n").set_value(40).run()
    first = at.session_state["cmp_ids"][0]
    at.button(key=f"cmp_copy_{first}").click().run()
    at.text_input(key=f"cmp_{at.session_state['cmp_ids'][1]}_system").set_value("Work carefully.").run()
    at.selectbox(key="cmp_score_mode").set_value("judge").run()
    assert at.session_state["cmp_judge_provider"] == core.constants.SIMULATED_BASE_URL  # no key anywhere: the simulated judge
    assert at.text_input(key="cmp_judge_model").disabled
    # a judge on a provider with no key: said, and nothing can start
    at.selectbox(key="cmp_judge_provider").set_value(core.PROVIDER_PRESETS["OpenAI"].base_url).run()
    assert at.session_state["cmp_judge_model"] == "gpt-4o-mini" and at.text_area(key="cmp_judge_keys_text") is not None
    assert any("The judge uses OpenAI" in e.value.replace("\\", "") for e in at.error)
    assert not [b for b in at.button if b.key == "cmp_run"]
    at.selectbox(key="cmp_judge_provider").set_value(core.constants.SIMULATED_BASE_URL).run()
    at.text_area(key="cmp_judge_rubric").set_value("Only the final number counts.").run()
    assert not at.error, [e.value for e in at.error]
    judge_line = next(c.value for c in at.caption if c.value.startswith("The judge: at most"))
    assert "80 more requests" in judge_line and "counted apart from the variants'" in judge_line
    at.button(key="cmp_run").click().run()
    until_judged(at)

    cid = at.session_state["compare_id"]
    record = core.get_comparison(_store(), cid)
    assert record.scoring == core.Scoring("judge") and record.judge == core.Judge(rubric="Only the final number counts.")
    numeric = core.compare_table(_store(), cid, scoring=core.Scoring.parse("numeric"))
    right = [f"{s.correct} / 40" for s in numeric.summaries]
    assert metrics(at, "Right")[:2] == right  # the simulated judge is honest
    assert metrics(at, "Judge's requests") == ["80"] and metrics(at, "Judge's cost") == ["$0.0000"] and metrics(at, "Not graded") == ["0"]
    assert sum(c.value.startswith("Judge: 40 graded · 40 requests") for c in at.caption) == 2  # under each variant, apart from its own cost
    assert any("graded 80 of 80 answers" in p.proto.text for p in at.get("progress"))
    rows = table_with(at, "A judge")
    assert set(rows["A judge"]) <= {"correct", "incorrect"} and rows["A judge's reason"].str.startswith("The answer gives").all()
    assert list(rows["A judge"] == "correct") == list(rows["A right"] == "✓")
    # in Chinese
    at.segmented_control(key="lang").set_value("zh").run()
    assert metrics(at, "评判请求数") == ["80"]
    rows = table_with(at, "A 评判")
    assert set(rows["A 评判"]) <= {"正确", "错误"}
    assert any(m.value.startswith("**评判模型：") for m in at.markdown)
    # the providers' choices speak Chinese too (a plain selectbox kept showing its first language's words)
    for key in ("cmp_judge_provider", f"cmp_{first}_provider"):
        chosen = at.selectbox(key=f"{key}__zh")
        assert chosen.value == core.constants.SIMULATED_BASE_URL and "模拟模型（演示）" in chosen.options


def test_a_second_tab_finds_a_running_comparison_live_and_can_stop_it(at):
    on(at, "compare")
    with slow_demo():
        at.button(key="cmp_classic").click().run()
        cid = at.session_state["compare_id"]
        other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)  # another tab: a session of its own
        other.query_params["compare"] = cid
        other.run()
        on(other, "compare")
        assert other.session_state["compare_id"] == cid
        assert any("running" in p.proto.text for p in other.get("progress"))
        other.button(key="cmp_cancel").click().run()  # its Cancel stops the comparison the first tab started
    deadline = time.monotonic() + 60
    while core.comparison_progress(_store(), cid).live:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    at.run()
    assert core.comparison_progress(_store(), cid).state == "cancelled"
    assert [b for b in at.button if b.key == "cmp_resume"]  # the first tab sees it stopped, to resume
