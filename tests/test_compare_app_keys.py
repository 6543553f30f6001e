"""The Compare page with AppTest: a variant on a provider the Keys page does not hold, sent with
keys pasted in the variant's own box (masked at once, held in this tab's memory only, dropped when
the comparison ends, asked for again to resume), each provider's keys pooled and paced apart."""

from __future__ import annotations

import dataclasses
import os
import time

from streamlit.testing.v1 import AppTest

import core
from tests.test_app_truth import on, texts
from tests.test_compare_app import LOCAL, until_finished

PAGE_KEY = "sk-page-key-0123456789"
OWN_KEYS = ("sk-deepseek-secret-one-1111", "sk-deepseek-secret-two-2222")


def _store() -> core.RunStore:
    return core.RunStore(os.environ["LLM_BATCH_DATA_DIR"])


def held(app: AppTest) -> dict:
    """The keys this tab holds for variants' providers, in its memory."""
    return app.session_state["cmp_keys"] if "cmp_keys" in app.session_state else {}


def until_stopped(app: AppTest, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while core.comparison_progress(_store(), app.session_state["compare_id"]).live:
        assert time.monotonic() < deadline, "the comparison did not stop"
        time.sleep(0.2)
    app.run()


def test_a_variant_on_another_provider_is_sent_with_keys_pasted_for_it_and_they_are_dropped_when_it_ends(at, sim_server, monkeypatch):
    page_server = sim_server("--rpm", "0", "--latency", "0.01", "--error-rate", "0")
    other_server = sim_server("--rpm", "0", "--latency", "1.5", "--jitter", "0", "--error-rate", "0")  # slow: a cancel leaves rows to do
    # "DeepSeek" stands for any provider the Keys page does not hold; here it answers on loopback
    deepseek = core.PROVIDER_PRESETS["DeepSeek"]
    monkeypatch.setitem(core.PROVIDER_PRESETS, "DeepSeek", dataclasses.replace(deepseek, base_url=other_server.base_url))
    on(at, "keys")
    at.selectbox(key="provider").set_value(LOCAL).run()
    at.text_input(key="base_url").set_value(page_server.base_url).run()
    at.text_input(key="model").set_value("simulated").run()
    at.text_area(key="keys_text").set_value(PAGE_KEY).run()
    at.button(key="add_keys").click().run()

    on(at, "compare")
    first = at.session_state["cmp_ids"][0]
    at.button(key=f"cmp_copy_{first}").click().run()
    second = at.session_state["cmp_ids"][1]
    at.selectbox(key=f"cmp_{second}_provider").set_value(other_server.base_url).run()
    assert at.session_state[f"cmp_{second}_model"] == "deepseek-chat"  # the preset's model
    # no key yet: said in the variant's box and where the Run button would be; nothing can start
    assert any(w.value == "DeepSeek needs an API key: paste one above, or choose this provider on the Keys page." for w in at.warning)
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any("Variant 'B' uses DeepSeek" in e and "paste one in the variant's box" in e for e in errors), errors
    assert not [b for b in at.button if b.key == "cmp_run"]

    # pasted: taken out of the box at once, shown masked, one pool for the provider
    at.text_area(key=f"cmp_{second}_keys_text").set_value("\n".join(OWN_KEYS)).run()
    assert at.text_area(key=f"cmp_{second}_keys_text").value == ""
    assert held(at) == {other_server.base_url: list(OWN_KEYS)}
    assert any("DeepSeek keys: sk-...1111, sk-...2222" in c.value for c in at.caption)
    assert "DeepSeek · 2 keys" in at.selectbox(key=f"cmp_{second}_provider").options
    assert not at.error and not any(k in x for x in texts(at) for k in (*OWN_KEYS, PAGE_KEY))

    at.selectbox(key="cmp_rows_mode").set_value("first").run()
    at.number_input(key="cmp_rows_n").set_value(40).run()
    at.button(key="cmp_run").click().run()
    at.button(key="cmp_cancel").click().run()  # B's first requests are still on their way
    until_stopped(at)
    cid = at.session_state["compare_id"]
    stopped = core.comparison_progress(_store(), cid)
    assert stopped.state == "cancelled" and stopped.pending > 0
    # the comparison ended: its pasted keys are gone from this tab, and resuming asks for them again
    assert held(at) == {} and "cmp_keys_for" not in at.session_state
    assert at.text_area(key=f"cmp_{second}_keys_text") is not None  # the variant's box asks again too
    at.button(key="cmp_resume").click().run()
    assert any("Variant 'B' uses DeepSeek" in e.value.replace("\\", "") for e in at.error)
    assert core.comparison_progress(_store(), cid).pending == stopped.pending  # nothing was resumed by halves
    at.text_area(key="cmp_resume_0_keys_text").set_value(OWN_KEYS[1]).run()
    at.button(key="cmp_resume").click().run()
    until_finished(at)
    assert held(at) == {}  # dropped again, once it ended

    record = core.get_comparison(_store(), cid)
    data = core.compare_table(_store(), cid)
    assert [(s.name, s.ok, s.correct) for s in data.summaries] == [("A", 40, 40), ("B", 40, 40)]
    # each variant went to its own provider on its own keys, every row once
    page_stats, other_stats = page_server.stats(), other_server.stats()
    assert set(page_stats) == {PAGE_KEY} and page_stats[PAGE_KEY]["requests"] == 40
    assert set(other_stats) <= set(OWN_KEYS) and sum(s["requests"] for s in other_stats.values()) == 40
    b_keys = _store().get_run(record.run_ids[1], counts=False).keys
    assert {k.masked for k in b_keys} <= {"sk-...1111", "sk-...2222"} and {k.provider for k in b_keys} == {"DeepSeek"}
    # and never a key on the page or in the data folder
    assert not any(k in x for x in texts(at) for k in (*OWN_KEYS, PAGE_KEY))
    # the variant's box asks for them again, in Chinese too
    at.segmented_control(key="lang").set_value("zh").run()
    assert any("方案 B 使用 DeepSeek，但没有提供对应的密钥" in e.value.replace("\\", "") for e in at.error)
    assert any(w.value.startswith("DeepSeek 需要 API 密钥") for w in at.warning)
    _store().close()
    for path in (core.RunStore(os.environ["LLM_BATCH_DATA_DIR"]).data_dir).iterdir():
        data_bytes = path.read_bytes()
        assert not any(k.encode() in data_bytes for k in (*OWN_KEYS, PAGE_KEY)), path


def test_a_provider_that_needs_no_key_is_offered_with_no_box(at):
    on(at, "compare")
    uid = at.session_state["cmp_ids"][0]
    ollama = core.PROVIDER_PRESETS["Ollama (local)"].base_url
    at.selectbox(key=f"cmp_{uid}_provider").set_value(ollama).run()
    assert at.session_state[f"cmp_{uid}_model"] == "llama3.2"
    assert not [a for a in at.text_area if a.key == f"cmp_{uid}_keys_text"] and not at.error
    assert not at.button(key="cmp_run").disabled  # it can run as it is
