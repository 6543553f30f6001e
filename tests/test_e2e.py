"""Browser end-to-end test: the real app (`streamlit run app.py`) driven by Chromium through a whole
job, against the loopback simulator (`python -m core.simulator`) posing as a local vLLM server.

The scenario is one story told in ordered steps that share one app server, one browser page and
one simulator (module scope); each step is its own test so that a step blocked by a known app bug
can be marked xfail while the later steps still run (they are meant to run in file order, together):

    1. upload a 300-row CSV              6. upload a GBK-encoded CSV
    2. write the prompt                  7. switch to Chinese and check every page
    3. add two keys for the simulator    8. back to English, check every page again
    4. run all rows, reload midway       9. no exception box, server traceback or JavaScript error
    5. download the CSV; check every answer and what the simulator was asked (nothing paid twice)

Screenshots of every page in both languages (en-*.png, zh-*.png) are taken along the way into
artifacts/screenshots/ (git-ignored). Widgets are found by their `key`, which
Streamlit renders as the CSS class `st-key-<key>`; texts are compared with app_pages/i18n.py.

    python -m pytest tests/test_e2e.py -q -x        # about a minute; needs /usr/bin/chromium
"""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect

from app_pages.i18n import LANGUAGES, STRINGS
from tests.browser import PAGES, PROVIDER, SHOTS, TEMPLATE, App, chromium, error_texts, metric, screenshot, sidebar_progress, tr, wait_until_settled
from tests.conftest import SimServer

pytestmark = pytest.mark.slow

N_ROWS = 300
KEYS = ("sk-e2e-one", "sk-e2e-two")
CSV_NAME = "e2e_questions.csv"
GBK_NAME = "e2e_gbk.csv"

EXCEPTIONS: list[str] = []  # every Streamlit exception box seen, with where and a screenshot
BROWSER_ERRORS: list[str] = []  # uncaught JavaScript errors in the page
STATE: dict[str, object] = {}  # what one step hands to the next (run id, the questions)


# --- the app, the simulator and the browser ---------------------------------------------------


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run app.py` on a free port, its runs stored in a fresh directory."""
    workdir = tmp_path_factory.mktemp("e2e-app")
    STATE["app_log"] = workdir / "streamlit.log"
    app = App(workdir / "data", workdir / "streamlit.log")
    try:
        yield app.url
    finally:
        app.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    """The loopback simulator, exactly as conftest's `sim_server` fixture starts it, kept for the
    whole module (sim_server itself is function-scoped): exact arithmetic, 600 requests/min per key."""
    server = SimServer("--latency", "0.05", "--jitter", "0.01", "--error-rate", "0", "--rpm", "600")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="en-US")
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.on("pageerror", lambda error: BROWSER_ERRORS.append(str(error)))
    pg.goto(app_url + "/")
    expect(pg.locator(".st-key-upload")).to_be_visible(timeout=30_000)
    settle(pg, "first load")
    yield pg
    context.close()


# --- helpers ------------------------------------------------------------------------------------


def settle(page: Page, where: str, timeout: float = 20_000) -> None:
    """Wait for Streamlit's rerun after an interaction to finish, then look for exception boxes.
    A rerun starts a few milliseconds after the event, so first give it the chance to start."""
    wait_until_settled(page, timeout)
    note_exceptions(page, where)


def note_exceptions(page: Page, where: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        path = shoot(page, f"exception-{len(EXCEPTIONS) + 1}")
        EXCEPTIONS.append(f"{where}: {boxes.first.inner_text()[:800]!r} (screenshot {path.name})")


def shoot(page: Page, name: str) -> Path:
    return screenshot(page, SHOTS / f"{name}.png")


def open_page(page: Page, name: str, lang: str = "en") -> None:
    """Switch page through the sidebar, within this browser session (a fresh page load would
    start a new Streamlit session and forget the upload, the prompt and the keys)."""
    page.locator('[data-testid="stSidebarNavLink"]').nth(PAGES.index(name)).click()
    path = "/" if name == "data" else f"/{name}"
    page.wait_for_function(f"() => location.pathname === {path!r}")
    settle(page, f"{lang}-{name}")
    expect(page.locator("h1").first).to_have_text(tr(f"{name}.title", lang))


def grid(page: Page, index: int = 0) -> pd.DataFrame:
    """An st.dataframe read from the accessible table that the data grid keeps for screen readers
    (only the rows it has drawn: enough for the first ones)."""
    frame = page.locator('[data-testid="stDataFrame"]').nth(index)
    expect(frame.locator('[role="columnheader"]').first).to_be_attached()
    headers = frame.locator('[role="columnheader"]').all_inner_texts()
    rows = []
    for row in frame.locator('tbody [role="row"]').all():
        rows.append(row.locator('[role="gridcell"]').all_inner_texts())
    return pd.DataFrame([r for r in rows if len(r) == len(headers)], columns=headers)


def wait_progress(page: Page, predicate, timeout: float, what: str) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = sidebar_progress(page)
        if last is not None and predicate(last):
            return last
        time.sleep(0.2)
    shoot(page, "failed-progress")
    raise AssertionError(f"{what}: last progress seen {last} (screenshot failed-progress.png)")


def questions_csv() -> tuple[bytes, pd.DataFrame]:
    """300 arithmetic questions with exact answers, some negative; fixed seed."""
    rng = random.Random(2024)
    rows = []
    for i in range(1, N_ROWS + 1):
        a, b, c = rng.randint(1, 99), rng.randint(1, 99), rng.randint(2, 19)
        if i % 3 == 0:
            question, value = f"{a} + {b} x {c}", a + b * c
        elif i % 3 == 1:
            question, value = f"{a} x {c} - {b}", a * c - b
        else:
            question, value = f"{a} + {b} - {c} x {c}", a + b - c * c
        rows.append({"id": str(i), "question": question, "answer": str(value)})
    frame = pd.DataFrame(rows, dtype=str)
    return frame.to_csv(index=False).encode(), frame


NO_ICONS = """() => { const s = document.createElement('style'); s.id = 'no-icons';
    s.textContent = '[data-testid*=Icon] { display: none !important; }'; document.head.appendChild(s); }"""


def visible_text(page: Page) -> str:
    """What a reader sees as words: Material icons are drawn from ligatures ("error", "key"), which
    are glyphs on screen but words in innerText, so they are hidden while reading."""
    page.evaluate(NO_ICONS)
    try:
        return page.locator('[data-testid="stApp"]').inner_text()
    finally:
        page.evaluate("() => document.getElementById('no-icons')?.remove()")


RAW_KEY = re.compile(r"\b(?:nav|sidebar|common|state|data|prompt|keys|run|history)\.[a-z_]+(?:\.[a-z_]+)*\b")


def english_leftovers(text: str, prefixes: tuple[str, ...]) -> list[str]:
    """English texts from i18n.py (the longest literal piece of each, 5+ letters, unless the
    Chinese text quotes it too, like "接口地址（Base URL）") found in `text`."""
    found = []
    for key, (en, zh) in STRINGS.items():
        if not key.startswith(prefixes) or en == zh:
            continue
        piece = max(re.split(r"\{[^}]*\}", en), key=len).strip(" .:()")
        if len(piece) >= 5 and piece not in zh and re.search(rf"(?<![A-Za-z]){re.escape(piece)}(?![A-Za-z])", text):
            found.append(f"{key}: {piece!r}")
    return found


# --- the scenario -------------------------------------------------------------------------------


def test_1_upload_csv(page: Page) -> None:
    data, frame = questions_csv()
    STATE["frame"] = frame
    page.locator(".st-key-upload input[type=file]").set_input_files(files=[{"name": CSV_NAME, "mimeType": "text/csv", "buffer": data}])
    settle(page, "en-data upload")
    expect(page.locator('[data-testid="stHeading"]', has_text=CSV_NAME)).to_be_visible()
    assert metric(page, tr("data.rows")) == f"{N_ROWS:,}"
    assert metric(page, tr("data.columns")) == "3"
    assert not error_texts(page), error_texts(page)
    preview = grid(page)
    assert list(preview.columns) == ["id", "question", "answer"]
    assert preview.iloc[0].tolist() == frame.iloc[0].tolist()  # our file, not the demo dataset
    shoot(page, "en-data")


def test_2_prompt(page: Page) -> None:
    open_page(page, "prompt")
    box = page.locator(".st-key-template textarea")
    box.fill("")
    box.press("Control+Enter")
    settle(page, "en-prompt clear")
    box.press_sequentially(TEMPLATE, delay=5)
    box.press("Control+Enter")
    settle(page, "en-prompt typed")
    expect(box).to_have_value(TEMPLATE)
    first = STATE["frame"].iloc[0]["question"]  # type: ignore[union-attr]
    expect(page.locator(".st-key-preview_0 code")).to_have_text(f"Compute {first}. Reply with the number only.")
    assert not page.locator('[data-testid="stAlertContentWarning"]').count(), page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    shoot(page, "en-prompt")


def test_3_keys(page: Page, sim: SimServer) -> None:
    open_page(page, "keys")
    page.locator(".st-key-provider").click()
    page.get_by_role("option", name=PROVIDER, exact=True).click()
    settle(page, "en-keys provider")
    expect(page.locator(".st-key-provider input")).to_have_value(PROVIDER)

    for key, value in (("base_url", sim.base_url), ("model", "simulated")):
        field = page.locator(f".st-key-{key} input")
        field.fill(value)
        field.press("Enter")
        settle(page, f"en-keys {key}")
        expect(field).to_have_value(value)

    keys_box = page.locator(".st-key-keys_text textarea")
    keys_box.fill("\n".join(KEYS))
    page.locator(".st-key-add_keys button").click()
    settle(page, "en-keys add")
    expect(keys_box).to_have_value("")  # the box never shows a key again
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text="sk-...-two")).to_be_attached()
    table = grid(page)
    assert table[tr("keys.col.key")].tolist() == ["sk-...-one", "sk-...-two"], table
    assert set(table[tr("keys.col.provider")]) == {PROVIDER}, table
    html = page.content()
    for key in KEYS:
        assert key not in html, f"the full key {key} is in the page's HTML after adding it"

    rpm = page.locator(".st-key-rpm input")
    rpm.fill("600")
    rpm.press("Enter")
    settle(page, "en-keys rpm")
    expect(rpm).to_have_value("600")

    page.locator(".st-key-test_keys button").first.click()
    settle(page, "en-keys test", timeout=40_000)
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text="works (").nth(1)).to_be_attached()
    table = grid(page)
    assert [v.startswith("✓ works (") for v in table[tr("keys.col.test")]] == [True, True], table
    assert not error_texts(page), error_texts(page)
    html = page.content()
    for key in KEYS:
        assert key not in html, f"the full key {key} is in the page's HTML after testing it"
    STATE["stats_before_run"] = sim.stats()  # Test keys sent one small request per key: not the run's
    shoot(page, "en-keys")


def test_4_run_with_reload(page: Page, app_url: str) -> None:
    open_page(page, "run")
    assert not error_texts(page), error_texts(page)
    run_all = page.locator(".st-key-run_all button")
    expect(run_all).to_contain_text(f"{N_ROWS:,}")
    run_all.click()
    settle(page, "en-run start")
    expect(page.locator("[class*='st-key-run_bar']").first).to_be_visible()
    assert "run=" in page.url, page.url
    run_id = re.search(r"[?&]run=([^&]+)", page.url).group(1)  # type: ignore[union-attr]
    STATE["run_id"] = run_id

    # progress rises while we watch
    first = wait_progress(page, lambda p: p[0] >= 10, 30, "the run did not start")
    assert first[1] == N_ROWS
    before = wait_progress(page, lambda p: p[0] >= 40, 30, "the run stalled before 40 rows")
    assert before[0] < N_ROWS, f"the run finished before the reload could happen: {before}"
    ok_before = int(metric(page, tr("run.ok")).replace(",", ""))
    shoot(page, "en-run-live")

    # reload in the middle: a new Streamlit session that must find the run from the URL
    page.reload()
    expect(page.locator(".st-key-run_settings")).to_be_visible(timeout=30_000)
    settle(page, "en-run reload")
    assert f"run={run_id}" in page.url, page.url
    expect(page.locator("h1").first).to_have_text(tr("run.title"))
    after = wait_progress(page, lambda p: p[0] > before[0], 30, "no progress after the reload")
    assert after[1] == N_ROWS

    done = wait_progress(page, lambda p: p[0] == N_ROWS and p[2] == tr("state.done"), 90, "the run did not finish")
    assert done == (N_ROWS, N_ROWS, tr("state.done"))
    settle(page, "en-run done")
    expect(page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first).to_contain_text(f"100% · {N_ROWS} / {N_ROWS} · {tr('state.done')}")
    assert int(metric(page, tr("run.ok")).replace(",", "")) == N_ROWS > ok_before
    assert metric(page, tr("run.failed")) == "0"
    assert metric(page, tr("run.pending")) == "0"
    assert metric(page, tr("run.accuracy")) == "100.0%"
    expect(page.locator(".st-key-download_csv button")).to_be_visible()
    note_exceptions(page, "en-run done")
    shoot(page, "en-run")


def test_5_download_and_bill(page: Page, sim: SimServer) -> None:
    frame: pd.DataFrame = STATE["frame"]  # type: ignore[assignment]
    with page.expect_download(timeout=30_000) as info:
        page.locator(".st-key-download_csv button").click()
    download = info.value
    assert download.suggested_filename == f"results-{STATE['run_id']}.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the CSV for Excel starts with a UTF-8 BOM"
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(got) == N_ROWS
    assert got["id"].tolist() == frame["id"].tolist(), "rows are in input order"
    assert got["question"].tolist() == frame["question"].tolist()
    wrong = got[got["output"] != got["answer"]]
    assert wrong.empty, wrong.head(10)
    assert set(got["status"]) == {"ok"}, got["status"].value_counts()
    note_exceptions(page, "en-run download")

    before = STATE.get("stats_before_run", {})
    after = sim.stats()
    assert set(after) == set(KEYS), f"keys the simulator saw: {sorted(after)}"

    def used(key: str, field: str) -> int:
        return after[key][field] - before.get(key, {}).get(field, 0)  # type: ignore[union-attr]

    per_key = {k: used(k, "requests") for k in KEYS}
    assert all(n > 0 for n in per_key.values()), per_key
    limited = sum(used(k, "rate_limited") for k in KEYS)
    answered = sum(used(k, "ok") for k in KEYS)
    assert answered == N_ROWS, f"{answered} requests answered for {N_ROWS} rows: something was paid twice ({per_key})"
    assert sum(per_key.values()) - limited == N_ROWS, per_key
    assert limited <= 5, f"{limited} requests were refused with 429"


def test_6_gbk_upload(page: Page) -> None:
    open_page(page, "data")
    rows = ["问题,答案", "1 + 1,2", "3 x 4,12", "10 - 7,3", "8 / 2,4"]
    data = "\n".join(rows).encode("gb18030") + b"\n"
    page.locator(".st-key-upload input[type=file]").set_input_files(files=[{"name": GBK_NAME, "mimeType": "text/csv", "buffer": data}])
    settle(page, "en-data gbk")
    expect(page.locator('[data-testid="stHeading"]', has_text=GBK_NAME)).to_be_visible()
    assert not error_texts(page), error_texts(page)
    assert metric(page, tr("data.encoding")) == "gb18030"
    assert metric(page, tr("data.rows")) == "4"
    preview = grid(page)
    assert list(preview.columns) == ["问题", "答案"]
    assert preview.iloc[0].tolist() == ["1 + 1", "2"]
    shoot(page, "en-data-gbk")


def test_7_chinese_ui(page: Page) -> None:
    open_page(page, "history")
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=CSV_NAME)).to_be_attached()
    shoot(page, "en-history")

    page.locator(".st-key-lang button").filter(has_text=LANGUAGES["zh"]).click()
    settle(page, "zh switch")
    expect(page.locator(".st-key-lang button[aria-checked=true]")).to_have_text(LANGUAGES["zh"])
    nav_links = page.locator('[data-testid="stSidebarNavLink"] p')
    expect(nav_links.nth(0)).to_have_text("数据")
    nav = [n.strip() for n in nav_links.all_inner_texts()]
    assert nav == [tr(f"nav.{p}", "zh") for p in PAGES], nav
    assert nav[1] == "提示词" and nav[3] == "运行", nav

    problems = []
    for name in PAGES:
        open_page(page, name, "zh")  # checks the page's title is the Chinese one
        text = visible_text(page)
        if raw := sorted(set(RAW_KEY.findall(text))):
            problems.append(f"zh-{name}: i18n keys shown instead of text: {raw}")
        if leftovers := english_leftovers(text, (f"{name}.", "nav.", "sidebar.", "state.", "common.", "keys.col.")):
            problems.append(f"zh-{name}: English left in the Chinese UI: {leftovers}")
        if name == "run":
            headings = [h.strip() for h in page.locator("h1, h2, h3").all_inner_texts()]
            assert headings[0] == "运行", headings
            english = [h for h in headings if re.search(r"\b(Run|Results)\b", h)]
            assert not english, f"English headings on the Chinese Run page: {english}"
            assert tr("run.ok", "zh") in text and tr("run.results", "zh") in text
            expect(page.locator("[class*='st-key-run_bar']").first).to_contain_text(f"{N_ROWS} / {N_ROWS} · {tr('state.done', 'zh')}")
        shoot(page, f"zh-{name}")
    assert not problems, "\n".join(problems)

    page.reload()  # a new session: the language comes back from the URL
    expect(page.locator("h1").first).to_have_text(tr("history.title", "zh"), timeout=30_000)
    settle(page, "zh-history reload")
    expect(page.locator(".st-key-lang button[aria-checked=true]")).to_have_text(LANGUAGES["zh"])


def test_8_back_to_english(page: Page) -> None:
    page.locator(".st-key-lang button").filter(has_text=LANGUAGES["en"]).click()
    settle(page, "en switch back")
    for name in PAGES:
        open_page(page, name, "en")
        text = visible_text(page)
        assert not RAW_KEY.findall(text), RAW_KEY.findall(text)
        chrome = "\n".join(page.locator("h1, h2, h3, label, [data-testid=stSidebarNav]").all_inner_texts())
        assert not re.search(r"[\u4e00-\u9fff]", chrome.replace(LANGUAGES["zh"], "")), chrome


def test_9_no_exceptions(page: Page, app_url: str) -> None:
    note_exceptions(page, "end")
    assert not EXCEPTIONS, "Streamlit exception boxes:\n" + "\n".join(EXCEPTIONS)
    log = Path(STATE["app_log"]).read_text(errors="replace")  # type: ignore[arg-type]
    assert "Traceback" not in log, f"the app logged an error:\n{log[log.index('Traceback') - 200:][:3000]}"
    assert not BROWSER_ERRORS, "JavaScript errors in the page:\n" + "\n".join(BROWSER_ERRORS)
