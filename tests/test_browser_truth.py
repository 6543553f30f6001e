"""Issue 7 in a real browser: `streamlit run app.py` driven by headless Chromium. What AppTest
cannot see: fragments that rerun on their own, answers drawn where the button is, what a reload
or a second tab shows. Screenshots go to artifacts/screenshots/truth-*.png and are looked at.

    python -m pytest tests/test_browser_truth.py -q -x        # needs /usr/bin/chromium
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect

import core
from tests.browser import PAGES, SHOTS, App, chromium, metric, screenshot, sidebar_progress, tr, wait_until_settled
from tests.conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("truth") / "data"


@pytest.fixture(scope="module")
def app(data_dir: Path) -> Iterator[App]:
    data_dir.mkdir(parents=True, exist_ok=True)
    a = App(data_dir, data_dir.parent / "app.log")
    yield a
    tb = a.traceback()
    a.stop()
    assert tb is None, f"the app logged an error:\n{tb}"


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="en-US")
    context.set_default_timeout(20_000)
    p = context.new_page()
    yield p
    exceptions = p.locator('[data-testid="stException"]')
    found = exceptions.all_inner_texts() if exceptions.count() else []
    context.close()
    assert not found, found


def shoot(page: Page, name: str) -> Path:
    return screenshot(page, SHOTS / f"truth-{name}.png")


def settle(page: Page) -> None:
    wait_until_settled(page)


def load(page: Page, app: App, path: str = "/") -> None:
    page.goto(app.url + path)
    expect(page.locator("h1").first).to_be_visible(timeout=30_000)
    settle(page)


def open_page(page: Page, name: str, lang: str = "en") -> None:
    page.locator('[data-testid="stSidebarNavLink"]').nth(PAGES.index(name)).click()
    path = "/" if name == "data" else f"/{name}"
    page.wait_for_function(f"() => location.pathname === {path!r}")
    settle(page)
    expect(page.locator("h1").first).to_have_text(tr(f"{name}.title", lang))


def seed_run(data_dir: Path, *, simulated: bool = False, ok: int = 1, failed: int = 1, pending: int = 0, **spec: object) -> str:
    """A stored run as a past session left it: `ok` rows answered, `failed` rows failed (could
    not reach the provider), `pending` rows not done. Real-key runs need their keys again."""
    store = core.RunStore(data_dir)
    n = ok + failed + pending
    frame = pd.DataFrame({"question": [f"{i} + {i}" for i in range(n)], "answer": [str(2 * i) for i in range(n)]}, dtype=object)
    keys = core.demo_pool(2, rpm=300) if simulated else [core.KeyEntry("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", "sk-seeded-key-0000abcd", 90)]
    run_id = store.create_run(core.RunSpec(template="Compute {question}", **spec), frame, [k.info() for k in keys], file_name="seeded.csv")
    error = "Failed after 4 attempts: Could not reach the provider: Cannot connect to host api.openai.com:443 ssl:default"
    for i in range(ok):
        store.record_result(run_id, core.RowResult(i, "ok", output=str(2 * i), tokens_in=10, tokens_out=1, latency_ms=300))
    for i in range(ok, ok + failed):
        store.record_result(run_id, core.RowResult(i, "failed", error=error, attempts=4))
    store.set_status(run_id, "done" if not pending else "interrupted")
    store.close()
    return run_id


def alerts(page: Page, kind: str = "Error") -> list[str]:
    return page.locator(f'[data-testid="stAlertContent{kind}"]').all_inner_texts()


# --- retry and resume answer where the button is ----------------------------------------------


def test_retry_failed_rows_without_keys_answers_under_the_button_and_not_later(page: Page, app: App, data_dir: Path) -> None:
    run_id = seed_run(data_dir, ok=1, failed=2)
    load(page, app, f"/run?run={run_id}")
    page.locator(".st-key-retry_failed button").click()
    settle(page)
    answer = page.locator(".st-key-run_action_answer [data-testid=stAlertContentError]")
    expect(answer).to_contain_text("Enter the API keys again")
    shoot(page, "retry-answer")
    open_page(page, "data")
    open_page(page, "run")
    assert not [a for a in alerts(page) if "Enter the API keys again" in a]  # not a stale answer on a later visit
