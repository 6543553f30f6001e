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
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import core
from tests.browser import PAGES, SHOTS, App, click_nav, screenshot, sidebar_progress, tr, wait_until_settled
from tests.conftest import free_port

pytestmark = pytest.mark.slow


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
    click_nav(page, name)
    settle(page)
    expect(page.locator("h1").first).to_have_text(tr(f"{name}.title", lang))


def seed_run(
    data_dir: Path,
    *,
    simulated: bool = False,
    ok: int = 1,
    failed: int = 1,
    pending: int = 0,
    file_name: str = "seeded.csv",
    run_id: str | None = None,
    **spec: object,
) -> str:
    """A stored run as a past session left it: `ok` rows answered, `failed` rows failed (could
    not reach the provider), `pending` rows not done. Real-key runs need their keys again."""
    store = core.RunStore(data_dir)
    n = ok + failed + pending
    frame = pd.DataFrame({"question": [f"{i} + {i}" for i in range(n)], "answer": [str(2 * i) for i in range(n)]}, dtype=object)
    keys = core.demo_pool(2, rpm=300) if simulated else [core.KeyEntry("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", "sk-seeded-key-0000abcd", 90)]
    run_id = store.create_run(core.RunSpec(template="Compute {question}", **spec), frame, [k.info() for k in keys], file_name=file_name, run_id=run_id)
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


# --- progress: one truth per tick -----------------------------------------------------------

READ_RUN = """() => {
  const bar = document.querySelector("[class*='st-key-run_bar-'] [data-testid=stProgress]");
  const metrics = {};
  for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
    const label = m.querySelector('[data-testid=stMetricLabel]')?.innerText.trim();
    metrics[label] = m.querySelector('[data-testid=stMetricValue]')?.innerText.trim();
  }
  const fill = bar?.querySelector('[data-testid=stProgressBarTrack] > div');
  return {bar: bar ? bar.innerText.trim() : null, now: bar?.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow'),
          transition: fill ? getComputedStyle(fill).transitionDuration : null, metrics,
          sidebar: !!document.querySelector('.st-key-sidebar_run'),
          busy: document.body.innerText.includes(%r) || document.body.innerText.includes(%r)};
}"""
BAR = re.compile(r"^(\d+)% · ([\d,]+) / ([\d,]+) · (.+)$")


def read_run(page: Page) -> dict:
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState !== 'running'")
    got = page.evaluate(READ_RUN % (tr("run.busy"), tr("run.busy_paused")))
    m = BAR.match(got["bar"] or "")
    assert m, got
    got["pct"], got["done"], got["total"], got["state"] = int(m.group(1)), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", "")), m.group(4)
    return got


def agrees(got: dict) -> None:
    ok, failed, pending = (int(got["metrics"][tr(k)].replace(",", "")) for k in ("run.ok", "run.failed", "run.pending"))
    assert got["done"] == ok + failed and pending == got["total"] - got["done"], got
    assert got["pct"] == got["done"] * 100 // got["total"], got  # never "100%" with a row to go
    assert not got["sidebar"], "the Run page shows the run once, not a second bar in the sidebar"
    assert got["transition"] in ("0s", None), got  # a bar shows this tick's value, it does not slide there


def test_the_bar_the_counters_and_the_busy_note_say_the_same_at_every_tick(page: Page, app: App) -> None:
    load(page, app, "/run")  # a fresh session: the demo table on the simulated provider
    page.locator(".st-key-run_test button").click()
    settle(page)
    expect(page.locator("[class*='st-key-run_bar-ok-']")).to_contain_text("10 / 10 · done", timeout=30_000)
    page.locator(".st-key-run_all button").click()
    settle(page)
    first = read_run(page)
    assert first["total"] == 300 and first["pct"] < 100, first  # the new run's own bar, not the last one's 100%
    agrees(first)
    assert first["busy"]
    seen = [first]
    for _ in range(3):
        page.wait_for_timeout(700)
        seen.append(read_run(page))
        agrees(seen[-1])
    assert seen[-1]["done"] > first["done"], seen
    shoot(page, "progress-running")
    page.locator(".st-key-pause button").click()
    settle(page)
    expect(page.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.paused"))
    page.wait_for_timeout(1200)  # a tick or two while paused
    paused = read_run(page)
    agrees(paused)
    assert paused["metrics"][tr("run.speed")] == "–" and paused["metrics"][tr("run.eta")] == "–", paused
    assert page.get_by_text(tr("run.busy_paused")).is_visible()
    shoot(page, "progress-paused")
    page.locator(".st-key-cancel button").click()
    settle(page)
    expect(page.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.cancelled"))
    settle(page)
    cancelled = read_run(page)
    agrees(cancelled)
    assert not cancelled["busy"], "'a run is going' stays after the run stopped"
    expect(page.locator(".st-key-run_all button")).to_be_enabled()
    open_page(page, "data")
    assert sidebar_progress(page) == (cancelled["done"], 300, tr("state.cancelled"))  # elsewhere, the sidebar says the same


# --- smaller things -------------------------------------------------------------------------

CUT_OFF = """(key) => [...document.querySelectorAll(`.st-key-${key} p, .st-key-${key} [data-testid=stWidgetLabel]`)]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


ANY_CUT_OFF = """() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stWidgetLabel] p, [data-testid=stMain] button p')]
    .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


def cut_off(page: Page, key: str) -> list[str]:
    expect(page.locator(f".st-key-{key}")).to_be_visible()
    return page.evaluate(CUT_OFF, key)


def test_labels_are_not_cut_off_and_the_two_csvs_have_their_own_names(page: Page, app: App, data_dir: Path) -> None:
    run_id = seed_run(data_dir, ok=1, failed=2)
    load(page, app, f"/run?run={run_id}")
    assert not cut_off(page, "retry_failed")
    page.locator(".st-key-run_settings [data-testid=stExpander] summary").click()
    assert not cut_off(page, "use_cache")
    settle(page)
    page.wait_for_timeout(500)  # the picture only: the expander's opening animation
    shoot(page, "run-labels")
    names = []
    for fmt in ("csv", "csv-utf8"):
        with page.expect_download() as info:
            page.locator(f".st-key-download_{fmt} button").click()
        names.append(info.value.suggested_filename)
    assert names == [f"results-{run_id}.csv", f"results-{run_id}-utf8.csv"]
    open_page(page, "prompt")
    page.locator(".st-key-output_mode button", has_text="Columns").click()
    settle(page)
    assert not cut_off(page, "max_reasks")
    assert not cut_off(page, "set_temperature")
    shoot(page, "prompt-columns")
    for name in PAGES:  # and no other label or button on any page ends in "…"
        open_page(page, name)
        assert not page.evaluate(ANY_CUT_OFF), (name, page.evaluate(ANY_CUT_OFF))


def click_row(page: Page, table_key: str, row: int) -> None:
    """Select a row of a dataframe (a canvas): its checkbox, left of the first column."""
    box = page.locator(f"[class*='st-key-{table_key}'] [data-testid=stDataFrameResizable]").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 * (row + 1) + 17)
    settle(page)


def test_history_deletes_the_run_it_names_even_when_the_list_changed(page: Page, app: App, data_dir: Path) -> None:
    store = core.RunStore(data_dir)
    for r in store.list_runs():
        store.delete_run(r.id)
    older = seed_run(data_dir, simulated=True, file_name="older.csv")
    newer = seed_run(data_dir, simulated=True, file_name="newer.csv")
    load(page, app, "/history")
    click_row(page, "history_table", [r.id for r in store.list_runs()].index(older))  # the page lists them in the store's order
    expect(page.locator("h3", has_text="older.csv")).to_be_visible()
    # Another tab starts a run: it comes first in the list (its id sorts last), and every row shifts.
    newest = seed_run(data_dir, simulated=True, file_name="newest.csv", run_id="99991231-235959-ffffff")
    page.get_by_role("button", name=re.compile(tr("history.delete"))).first.click()
    confirm = page.locator('[data-testid="stPopoverBody"]')
    expect(confirm).to_contain_text(older)
    shoot(page, "history-delete")
    confirm.locator(".st-key-history_delete button").click()
    settle(page)
    left = {r.id for r in store.list_runs()}
    assert left == {newer, newest}, left  # the run that was named, not the one now in its row
    shoot(page, "history-after-delete")


# --- both languages -----------------------------------------------------------------------------

ENGLISH = re.compile(r"[A-Za-z][A-Za-z'’]*(?:[ \-,:;/]+[A-Za-z][A-Za-z'’]*){2,}")  # three English words in a row
QUOTED = re.compile(r"“[^”]*”|「[^」]*」")  # a prompt quoted by the page is the user's text
OUTSIDE_WORDS = re.compile(r"(服务商的原话|详细信息)：[^\n]*")  # the provider's or the network's own words, kept apart on purpose

READ_PAGE = """() => {
  const parts = [];
  for (const root of document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebar]')) {
    const clone = root.cloneNode(true);
    // The user's data: table previews of prompts are the user's text, not the page's.
    clone.querySelectorAll('[data-testid=stCode], [data-testid=stDataFrame]').forEach(e => e.remove());
    document.body.appendChild(clone);
    parts.push(clone.innerText);
    clone.remove();
  }
  return parts.join('\\n');
}"""


def english_on(page: Page, where: str, seen: dict[str, list[str]]) -> None:
    settle(page)
    folded = page.locator("[data-testid=stExpander] details:not([open]) summary")
    for _ in range(6):  # what is folded away is on the page too (a rerun may redraw them, so one at a time)
        if not folded.count():
            break
        try:
            folded.first.click(timeout=2_000)
        except PlaywrightTimeout:
            break
    page.wait_for_timeout(300)
    text = page.evaluate(READ_PAGE)
    text = OUTSIDE_WORDS.sub("", QUOTED.sub("", text))
    found = sorted(set(ENGLISH.findall(text)))
    if found:
        seen[where] = found
    shoot(page, f"zh-{where}")


def test_every_page_in_chinese_is_chinese(page: Page, app: App, data_dir: Path, sim_server) -> None:  # type: ignore[no-untyped-def]
    server = sim_server("--dead-key", "sk-dead-0123456789abcd", "--no-quota-key", "sk-broke-0123456789abcd", "--model", "simulated")
    seeded = seed_run(data_dir, ok=1, failed=2, file_name="旧任务.csv")
    seen: dict[str, list[str]] = {}
    load(page, app, "/?lang=zh")
    expect(page.locator("h1").first).to_have_text(tr("data.title", "zh"))
    english_on(page, "data", seen)
    upload = page.locator(".st-key-upload input[type=file]")
    upload.set_input_files(files=[{"name": "notes.csv", "mimeType": "text/csv", "buffer": b"\n a ,b,b\n1,2,3\n\n4,5\n"}])
    english_on(page, "data-notes", seen)
    upload.set_input_files(files=[{"name": "empty.csv", "mimeType": "text/csv", "buffer": b""}])
    english_on(page, "data-failed-upload", seen)
    page.locator(".st-key-use_demo button").click()

    open_page(page, "prompt", "zh")
    page.locator(".st-key-output_mode button", has_text="多列").click()
    english_on(page, "prompt-columns", seen)
    page.locator(".st-key-output_mode button", has_text="文本").click()
    settle(page)

    open_page(page, "keys", "zh")
    english_on(page, "keys-simulated", seen)
    page.locator(".st-key-test_keys button").first.click()
    english_on(page, "keys-nothing-to-test", seen)
    expect(page.locator(".st-key-provider__zh input")).to_have_value("模拟模型（演示）")  # the box is worded too
    page.locator(".st-key-provider__zh").click()
    page.get_by_role("option", name="vLLM / llama.cpp（本地）").click()
    settle(page)
    for key, value in (("base_url", server.base_url), ("model", "simulated")):
        page.locator(f".st-key-{key} input").fill(value)
        page.locator(f".st-key-{key} input").press("Enter")
        settle(page)
    page.locator(".st-key-keys_text textarea").fill("sk-dead-0123456789abcd\nsk-broke-0123456789abcd\nsk-good-0123456789abcd")
    page.locator(".st-key-keys_text textarea").press("Control+Enter")
    settle(page)
    page.locator(".st-key-test_keys button").first.click()
    expect(page.locator("[class*='st-key-verdict_']")).to_have_count(3)
    english_on(page, "keys-verdicts", seen)

    open_page(page, "run", "zh")
    english_on(page, "run-new", seen)
    page.locator(".st-key-run_all button").click()
    settle(page)
    page.locator(".st-key-pause button").click()
    expect(page.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.paused", "zh"))
    english_on(page, "run-paused", seen)
    page.locator(".st-key-cancel button").click()
    expect(page.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.cancelled", "zh"))
    english_on(page, "run-cancelled", seen)

    open_page(page, "keys", "zh")
    page.locator(".st-key-base_url input").fill(f"http://127.0.0.1:{free_port()}/v1")
    page.locator(".st-key-base_url input").press("Enter")
    settle(page)
    page.locator(".st-key-test_keys button").first.click()
    english_on(page, "keys-closed-port", seen)
    open_page(page, "run", "zh")
    page.locator(".st-key-first_n input").fill("3")
    page.locator(".st-key-first_n input").press("Enter")
    settle(page)
    page.locator(".st-key-run_test button").click()
    expect(page.locator("[class*='st-key-run_bar-']")).to_contain_text(tr("state.done_with_failures", "zh", n=3), timeout=60_000)
    english_on(page, "run-failed", seen)

    load(page, app, f"/run?run={seeded}&lang=zh")
    page.locator(".st-key-retry_failed button").click()
    expect(page.locator(".st-key-run_action_answer")).to_be_visible()
    english_on(page, "run-retry-answer", seen)

    open_page(page, "history", "zh")
    click_row(page, "history_table", 0)
    page.get_by_role("button", name=re.compile(tr("history.delete", "zh"))).first.click()
    english_on(page, "history", seen)
    assert not seen, "English on the Chinese page:\n" + "\n".join(f"{where}: {found}" for where, found in seen.items())
