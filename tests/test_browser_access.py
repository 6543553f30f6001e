"""Two people on one hosted app, in a real browser: `streamlit run app.py` with the team's
password, and two Chromium contexts (two browsers, two cookies) signed in as Ana and as Bo. Bo
cannot see Ana's run through its link until she shares it, and then only looks at it: no Pause,
Resume or Cancel, no Delete. Screenshots go to artifacts/screenshots/access-*.png.

    python -m pytest tests/test_browser_access.py -q -x        # needs /usr/bin/chromium
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

import core
from tests.browser import PAGES, SHOTS, App, chromium, screenshot, tr, wait_until_settled

pytestmark = pytest.mark.slow

PASSWORD = "a team password"
CONTROLS = ("pause", "cancel", "resume_live", "resume_stored", "retry_failed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("access") / "data"


@pytest.fixture(scope="module")
def app(data_dir: Path) -> Iterator[App]:
    data_dir.mkdir(parents=True, exist_ok=True)
    a = App(data_dir, data_dir.parent / "app.log", env={"LLM_BATCH_PASSWORD": PASSWORD})
    yield a
    tb = a.traceback()
    a.stop()
    assert tb is None, f"the app logged an error:\n{tb}"


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        pages = context.pages
        found = [t for p in pages for t in p.locator('[data-testid="stException"]').all_inner_texts()]
        context.close()
        assert not found, found


def person(browser: Browser, contexts: list[BrowserContext]) -> Page:
    """A browser of one's own: its own cookies, so its own Streamlit session."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(20_000)
    contexts.append(context)
    return context.new_page()


def shoot(page: Page, name: str) -> Path:
    return screenshot(page, SHOTS / f"access-{name}.png")


def sign_in(page: Page, app: App, name: str, path: str = "/") -> None:
    page.goto(app.url + path)
    expect(page.locator(".st-key-login_name input")).to_be_visible(timeout=30_000)
    wait_until_settled(page)
    page.locator(".st-key-login_name input").fill(name)
    page.locator(".st-key-password_input input").fill(PASSWORD)
    page.get_by_role("button", name=tr("auth.enter")).click()
    expect(page.locator("[data-testid=stSidebar]")).to_contain_text(tr("access.signed_in", name=name), timeout=30_000)
    wait_until_settled(page)


def open_page(page: Page, name: str) -> None:
    """Through the sidebar, as a person does: a reload would be a new session, signed out (the
    password mode keeps no cookie)."""
    page.locator('[data-testid="stSidebarNavLink"]').nth(PAGES.index(name)).click()
    page.wait_for_function(f"() => location.pathname === {'/' + name!r}")
    wait_until_settled(page)
    expect(page.locator("h1").first).to_have_text(tr(f"{name}.title"))


def controls(page: Page) -> list[str]:
    return [key for key in CONTROLS if page.locator(f".st-key-{key} button").count()]


def test_a_second_user_cannot_see_nor_steer_the_first_users_run(browser: Browser, app: App, data_dir: Path, contexts: list[BrowserContext]) -> None:
    ana, bo = person(browser, contexts), person(browser, contexts)

    # The door comes first, for a run link too.
    bo.goto(app.url + "/history")
    expect(bo.locator(".st-key-password_input input")).to_be_visible(timeout=30_000)
    wait_until_settled(bo)
    assert bo.locator("[data-testid=stSidebarNav]").count() == 0  # no page of the app behind it
    shoot(bo, "door")
    bo.goto(app.url + "/history?lang=zh")
    expect(bo.locator("[data-testid=stMain]")).to_contain_text(tr("access.password_prompt", "zh"), timeout=30_000)
    wait_until_settled(bo)
    shoot(bo, "door-zh")

    # Ana runs the demo table, then pauses it with rows still to do.
    sign_in(ana, app, "Ana", "/run")
    ana.locator(".st-key-run_all button").click()
    wait_until_settled(ana)
    expect(ana.locator(".st-key-pause button")).to_be_visible(timeout=30_000)
    ana.locator(".st-key-pause button").click()
    wait_until_settled(ana)
    expect(ana.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.paused"), timeout=30_000)
    run_id = re.search(r"[?&]run=([\w-]+)", ana.url).group(1)  # type: ignore[union-attr]
    assert core.RunStore(data_dir).get_run(run_id).owner == "ana"
    assert set(controls(ana)) == {"resume_live", "cancel"}

    # Bo follows the link: nothing of it, and a plain word why.
    sign_in(bo, app, "Bo", f"/run?run={run_id}")
    expect(bo.locator('[data-testid="stAlertContentWarning"]')).to_contain_text(tr("access.run_not_visible", id=run_id), timeout=20_000)
    assert "run=" not in bo.url and controls(bo) == []
    assert bo.locator("[class*='st-key-run_bar-']").count() == 0 and bo.locator(".st-key-sidebar_run").count() == 0
    shoot(bo, "unshared-link")
    open_page(bo, "history")
    assert run_id not in bo.locator("[data-testid=stMain]").inner_text()

    # Ana shares it; Bo looks at it, read-only.
    ana.get_by_text(tr("access.share")).click()
    wait_until_settled(ana)
    assert core.RunStore(data_dir).get_run(run_id).shared
    sign_in(bo, app, "Bo", f"/run?run={run_id}")  # the link again, in a new tab
    expect(bo.locator('[data-testid="stAlertContentInfo"]').filter(has_text="shared this with the team")).to_be_visible(timeout=30_000)
    expect(bo.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.paused"), timeout=30_000)
    assert controls(bo) == [], "Bo was offered a control on Ana's run"
    assert bo.get_by_text(tr("access.share")).count() == 0  # hers to share, not his
    shoot(bo, "shared-read-only")
    shoot(ana, "owner")

    # In History Bo sees it with its owner, and no Delete.
    open_page(bo, "history")
    box = bo.locator("[class*='st-key-history_table'] [data-testid=stDataFrameResizable]").bounding_box()
    assert box is not None
    bo.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's checkbox: the only run Bo may see
    wait_until_settled(bo)
    expect(bo.locator("[data-testid=stMain]")).to_contain_text(tr("access.read_only", owner="ana"))
    assert bo.get_by_role("button", name=tr("history.delete")).count() == 0
    shoot(bo, "history")

    # Ana's controls still work for her, and the run is hers to end.
    ana.locator(".st-key-cancel button").click()
    wait_until_settled(ana)
    expect(ana.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.cancelled"), timeout=60_000)
