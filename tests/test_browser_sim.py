"""The reviews demo in Chromium, as a new user meets it: the sheet chosen on the Data page, the Keys
page saying what the simulated provider is, the estimate's $0 shown as no price, and a test run
whose answers carry the simulated badge. Screenshots in artifacts/screenshots/sim-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import PAGES, SHOTS, App, chromium, screenshot, tr, wait_until_settled

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("sim") / "data"
    data_dir.mkdir(parents=True)
    a = App(data_dir, data_dir.parent / "app.log")
    yield a
    tb = a.traceback()
    a.stop()
    assert tb is None, f"the app logged an error:\n{tb}"


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(20_000)
    p = context.new_page()
    yield p
    exceptions = p.locator('[data-testid="stException"]')
    found = exceptions.all_inner_texts() if exceptions.count() else []
    context.close()
    assert not found, found


def open_page(page: Page, name: str, lang: str = "en") -> None:
    page.locator('[data-testid="stSidebarNavLink"]').nth(PAGES.index(name)).click()
    page.wait_for_function(f"() => location.pathname === {('/' if name == 'data' else f'/{name}')!r}")
    wait_until_settled(page)
    expect(page.locator("h1").first).to_have_text(tr(f"{name}.title", lang))


def pick(page: Page, box: str, option: str) -> None:
    """Choose an option of a selectbox. A rerun that lands while the list is open (the page's first
    runs) closes it again, so the list is opened again, three times at most."""
    for attempt in range(3):
        page.locator(box).click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            wait_until_settled(page)


def shoot(page: Page, name: str) -> Path:
    return screenshot(page, SHOTS / f"sim-{name}.png")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_reviews_demo_says_it_is_simulated_wherever_it_is_met(page: Page, app: App, lang: str) -> None:
    page.goto(f"{app.url}/?lang={lang}")
    expect(page.locator("h1").first).to_have_text(tr("data.title", lang), timeout=30_000)
    wait_until_settled(page)
    pick(page, ".st-key-demo_sheet" if lang == "en" else ".st-key-demo_sheet__zh", tr("demo.sheet.reviews", lang))
    wait_until_settled(page)
    page.locator(".st-key-use_demo button").click()
    wait_until_settled(page)
    expect(page.locator("h2, h3").filter(has_text=tr("demo.label.reviews", lang)).first).to_be_visible()
    shoot(page, f"{lang}-data-reviews")

    open_page(page, "keys", lang)
    expect(page.locator(".st-key-sim_what")).to_contain_text(tr("sim.what_title", lang))
    shoot(page, f"{lang}-keys")

    open_page(page, "run", lang)
    cost = page.locator('[data-testid="stMetric"]').filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=tr("run.est_cost", lang)))
    expect(cost.locator('[data-testid="stMetricValue"]')).to_have_text("$0")
    expect(cost.locator('[data-testid="stMetricDelta"]')).to_have_text(tr("sim.cost_note", lang))
    shoot(page, f"{lang}-run-estimate")
    page.locator(".st-key-run_test button").click()
    expect(page.get_by_text(tr("sim.results_badge", lang))).to_be_visible(timeout=60_000)
    accuracy = page.locator('[data-testid="stMetric"]').filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=tr("run.accuracy", lang)))
    expect(accuracy.locator('[data-testid="stMetricValue"]').first).to_have_text(re.compile(r"^\d+(\.\d)?%$"), timeout=60_000)  # scored against the labels
    shoot(page, f"{lang}-run-results")
