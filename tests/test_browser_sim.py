"""The reviews demo in Chromium, as a new user meets it: the sheet chosen on the Data page, the Keys
page saying what the simulated provider is, the estimate's $0 shown as no price, and a test run
whose answers carry the simulated badge. Screenshots in artifacts/screenshots/browser_sim-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser import App, Sessions, choose, no_trouble, open_page, settle, shoot, tr

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("sim") / "data"
    a = App(data_dir, data_dir.parent / "app.log")
    yield a
    a.stop()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_reviews_demo_says_it_is_simulated_wherever_it_is_met(sessions: Sessions, app: App, lang: str) -> None:
    s = sessions(lang)
    page = s.page
    page.goto(f"{app.url}/?lang={lang}")
    expect(page.locator("h1").first).to_have_text(tr("data.title", lang), timeout=30_000)
    settle(s, "first load")
    choose(page, ".st-key-demo_sheet" if lang == "en" else ".st-key-demo_sheet__zh", tr("demo.sheet.reviews", lang))
    settle(s, "demo")
    page.locator(".st-key-use_demo button").click()
    settle(s, "demo")
    expect(page.locator("h2, h3").filter(has_text=tr("demo.label.reviews", lang)).first).to_be_visible()
    shoot(s, f"{lang}-data-reviews")

    open_page(s, "keys", lang)
    expect(page.locator(".st-key-sim_what")).to_contain_text(tr("sim.what_title", lang))
    shoot(s, f"{lang}-keys")

    open_page(s, "run", lang)
    cost = page.locator('[data-testid="stMetric"]').filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=tr("run.est_cost", lang)))
    expect(cost.locator('[data-testid="stMetricValue"]')).to_have_text("$0")
    expect(cost.locator('[data-testid="stMetricDelta"]')).to_have_text(tr("sim.cost_note", lang))
    shoot(s, f"{lang}-run-estimate")
    page.locator(".st-key-run_test button").click()
    expect(page.get_by_text(tr("sim.results_badge", lang))).to_be_visible(timeout=60_000)
    accuracy = page.locator('[data-testid="stMetric"]').filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=tr("run.accuracy", lang)))
    expect(accuracy.locator('[data-testid="stMetricValue"]').first).to_have_text(re.compile(r"^\d+(\.\d)?%$"), timeout=60_000)  # scored against the labels
    shoot(s, f"{lang}-run-results")
    no_trouble(s, app)
