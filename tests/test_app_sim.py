"""The demo sheets and what the app says about the simulated provider, with Streamlit's AppTest:
the Data page offers both sheets in both languages, each with the prompt that fits it; the Keys
page says what the simulated provider is and is not; the Run page's estimate shows its $0 as no
price; its results carry a badge; the reviews demo runs to answers scored against the labels."""

from __future__ import annotations

import re
import time

from streamlit.testing.v1 import AppTest

import core
from tests.test_app import metric, on


def choose_demo(at: AppTest, sheet: str, lang: str = "en") -> None:
    at.selectbox(key="demo_sheet" if lang == "en" else f"demo_sheet__{lang}").set_value(sheet).run()
    at.button(key="use_demo").click().run()
    assert not at.exception, at.exception


def badges(at: AppTest) -> list[str]:
    """The labels of the st.badge elements on the page (markdown ":color-badge[icon label]")."""
    found = [re.fullmatch(r":\w+-badge\[(?::material/\w+: )?(.*)\]", m.value) for m in at.markdown]
    return [f.group(1) for f in found if f]


def poll(at: AppTest, label: str, value: str) -> None:
    deadline = time.monotonic() + 60  # a deadline for failure only: the answers come from the in-process simulator
    while metric(at, label) != value and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert metric(at, label) == value


def test_the_data_page_offers_both_demo_sheets_with_their_prompts(at):
    box = at.selectbox(key="demo_sheet")
    assert box.options == ["Arithmetic questions", "Product reviews"] and box.value == "arithmetic"
    choose_demo(at, "reviews")
    assert metric(at, "Rows") == "200" and metric(at, "Columns") == "8"
    assert "product reviews with a labelled sentiment" in at.subheader[0].value
    s = at.session_state
    assert s["template"] == core.DEMO_SHEETS["reviews"].template and s["label_column"] == "sentiment"
    assert list(at.dataframe[0].value.columns) == ["id", "lang", "product", "review", "sentiment", "rating", "date", "recommend"]
    on(at, "app_pages/prompt.py")
    assert at.text_area(key="template").value == core.DEMO_SHEETS["reviews"].template
    previews = [c.value for c in at.code]
    assert previews and all(p.startswith("Is this review positive, negative or neutral?") and "{" not in p for p in previews)
    on(at, "app_pages/data.py")
    assert at.selectbox(key="demo_sheet").value == "reviews"  # the page shows the sheet in use
    choose_demo(at, "arithmetic")
    assert metric(at, "Rows") == "300" and at.session_state["template"] == core.DEMO_SHEETS["arithmetic"].template
    assert at.session_state["label_column"] == "answer"


def test_the_demo_choice_is_worded_in_chinese_and_gets_the_chinese_prompt(at):
    at.segmented_control(key="lang").set_value("zh").run()
    box = at.selectbox(key="demo_sheet__zh")
    assert box.options == ["四则运算题", "商品评论"] and box.label == "示例数据表"
    choose_demo(at, "reviews", "zh")
    assert "标注了情感的商品评论" in at.subheader[0].value
    assert at.session_state["template"] == core.DEMO_SHEETS["reviews"].template_zh
    assert at.session_state["demo_sheet"] == "reviews"  # the choice is kept for the other language


def test_the_keys_page_says_what_the_simulated_provider_is_and_is_not(at):
    on(at, "app_pages/keys.py")
    assert any("What the simulated provider does" in m.value for m in at.markdown)
    what = next(c.value for c in at.caption if "not a language model" in c.value)
    assert "Arithmetic is computed exactly" in what and "word list" in what and "dates" in what
    at.segmented_control(key="lang").set_value("zh").run()
    assert any("不是语言模型" in c.value for c in at.caption)
    at.text_area(key="keys_text").set_value("sk-test-aaaa1111\n").run()
    at.button(key="add_keys").click().run()
    assert at.session_state["provider"] == "OpenAI"
    assert not any("不是语言模型" in c.value for c in at.caption)  # a real provider with a key of the user's: not said


def test_the_estimate_shows_the_simulated_cost_as_no_price_and_results_carry_a_badge(at):
    choose_demo(at, "reviews")
    on(at, "app_pages/run.py")
    cost = next(m for m in at.metric if m.label == "Cost (estimate)")
    assert (cost.value, cost.delta) == ("$0", "simulated, not a price")
    assert "Simulated answers, not a real model" not in badges(at)  # nothing run yet
    at.number_input(key="first_n").set_value(20).run()
    at.button(key="run_test").click().run()
    poll(at, "Succeeded", "20")
    assert "Simulated answers, not a real model" in badges(at) and "Simulated provider" in badges(at)
    assert any("not from a model" in c.value for c in at.caption)
    table = at.dataframe[-1].value
    assert len(table) == 20 and set(table["output"]) <= {"positive", "negative", "neutral"}
    right = (table["output"] == table["sentiment"]).mean()
    assert right >= 0.7  # the lexicon's answers, scored against the labels
    accuracy = metric(at, "Accuracy")
    assert accuracy.endswith("%") and float(accuracy.rstrip("%")) == round(right * 100, 1)
    at.segmented_control(key="lang").set_value("zh").run()
    assert "模拟回答，并非真实模型" in badges(at)


def test_a_real_provider_keeps_its_priced_estimate(at):
    on(at, "app_pages/keys.py")
    at.text_area(key="keys_text").set_value("sk-test-aaaa1111\n").run()
    at.button(key="add_keys").click().run()
    on(at, "app_pages/run.py")
    cost = metric(at, "Cost (estimate)")
    assert cost.startswith("$") and "simulated" not in cost
