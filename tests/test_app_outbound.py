"""Hosted mode in the app (AppTest): a base URL the server does not call gets a plain message on
the Keys page when its key is tested and on the Run page when a run is started, in English and
Chinese, never a traceback, and the loopback listener it points at receives nothing. The admin's
allow list (in secrets) lets a local server through; a broken one is said on the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.outbound import configure_outbound
from tests.conftest import ROOT
from tests.listeners import Listener


@pytest.fixture
def listener() -> Iterator[Listener]:
    s = Listener()
    yield s
    s.stop()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """The app with [hosting] secrets of the test's choosing; the process's policy reset after."""
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    for name in ("OPENAI_API_KEY", "LLM_BATCH_HOSTED", "LLM_BATCH_ALLOW_HOSTS"):
        monkeypatch.delenv(name, raising=False)

    def start(hosting: dict | None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        if hosting is not None:
            at.secrets["hosting"] = hosting
        at.run()
        assert not at.exception, at.exception
        return at

    yield start
    configure_outbound(None)


def unescaped(values: list[str]) -> str:
    return " ".join(values).replace("\\", "")


def local_server(at: AppTest, url: str, lang: str = "en") -> None:
    """The Keys page set to a local server (Ollama) at `url`, a key added, the page in `lang`, the key tested."""
    at.switch_page("app_pages/keys.py").run()
    at.selectbox(key="provider").set_value("Ollama (local)").run()
    at.text_input(key="base_url").set_value(url).run()
    at.text_area(key="keys_text").set_value("sk-local-0123456789abcdef\n").run()
    if lang != "en":
        at.segmented_control(key="lang").set_value(lang).run()
    at.button(key="test_keys").click().run()
    assert not at.exception, at.exception


@pytest.mark.parametrize(
    "lang, why, todo",
    [
        ("en", "This server does not call 127.0.0.1:{port}: 127.0.0.1 is a loopback address (this server itself).", "[hosting] allow"),
        ("zh", "本服务器不调用 127.0.0.1:{port}：127.0.0.1 是回环地址（即本服务器自身）。", "请使用服务商的公网地址"),
    ],
)
def test_testing_a_key_on_a_refused_url_says_why_in_plain_words_and_sends_nothing(app, listener, lang, why, todo):
    at = app({"check_urls": True})
    local_server(at, listener.url(), lang)
    said = unescaped([e.value for e in at.error])
    assert why.format(port=listener.port) in said and todo in said
    assert "Traceback" not in said
    assert listener.connections == 0


@pytest.mark.parametrize(
    "lang, text",
    [
        ("en", "This server does not call 127.0.0.1:{port}: 127.0.0.1 is a loopback address (this server itself). An admin can allow it"),
        ("zh", "本服务器不调用 127.0.0.1:{port}：127.0.0.1 是回环地址（即本服务器自身）。管理员可以把它加入出站允许列表"),
    ],
)
def test_the_run_page_says_why_a_refused_url_cannot_run_and_offers_no_start(app, listener, lang, text):
    at = app({"check_urls": True})
    local_server(at, listener.url(), lang)
    at.switch_page("app_pages/run.py").run()
    assert not at.exception, at.exception
    assert text.format(port=listener.port) in unescaped([e.value for e in at.error])
    assert not [b for b in at.button if b.key in ("run_test", "run_all")]  # said where the run would start, instead of it
    assert listener.connections == 0


def test_a_local_server_on_the_allow_list_is_called(app, listener):
    at = app({"check_urls": True, "allow": [f"127.0.0.1:{listener.port}"]})
    local_server(at, listener.url())
    assert not at.error, [e.value for e in at.error]
    assert any("The key works" in s.value for s in at.success)
    assert listener.connections >= 1


def test_without_hosting_settings_a_local_server_is_called_as_before(app, listener):
    at = app(None)
    local_server(at, listener.url())
    assert any("The key works" in s.value for s in at.success) and listener.connections >= 1


def test_a_broken_allow_list_is_said_on_the_page_and_nothing_internal_is_called(app, listener):
    at = app({"check_urls": False, "allow": ["vllm.lan:port"]})
    assert "vllm.lan:port" in unescaped([e.value for e in at.error])
    local_server(at, listener.url())
    assert "loopback address" in unescaped([e.value for e in at.error])  # closed, not open, on a typo
    assert listener.connections == 0


def test_every_refusal_has_both_languages_and_cores_english():
    from app_pages.i18n import STRINGS
    from core.addresses import REASONS
    from core.keyverdict import DIAGNOSES
    from core.refusals import REFUSAL_SENTENCES

    for reason in REASONS:
        for prefix in ("error.outbound_", "msg.outbound_"):
            assert STRINGS[prefix + reason][0] == REFUSAL_SENTENCES[reason], reason
        assert f"blocked_{reason}" in DIAGNOSES
        for part in ("short", "why", "todo"):
            assert f"keys.{part}.blocked_{reason}" in STRINGS
