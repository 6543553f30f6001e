"""What the browser tests share: the app as a real `streamlit run` process, Chromium, browser
sessions that note what went wrong, the steps a user takes (upload, prompt, keys, run, download),
and ways to read what a page shows. Widgets are found by their `key`, rendered as the CSS class
`st-key-<key>`; texts are compared with app_pages/i18n.py.

The fixtures `browser` (one Chromium per module), `apps` (every app a test starts is stopped) and
`sessions` (a factory of `Session`s, closed at the end) are registered for every test module by
tests/conftest.py."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app_pages.i18n import STRINGS
from tests.conftest import ROOT, free_port

SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = ("data", "prompt", "keys", "run", "compare", "history")  # sidebar order, as app.py registers them
PROVIDER = "vLLM / llama.cpp (local)"
TEMPLATE = "Compute {question}. Reply with the number only."


def tr(key: str, lang: str = "en", **values: object) -> str:
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # CI installs it (.ci/run): a missing browser is a failure there
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run should have installed it")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (the README's test command does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class App:
    """`streamlit run app.py` as a subprocess on a free port, its runs stored in `data_dir`."""

    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLM_BATCH_"))}  # no preset keys, no password
        env = {**base, **(env or {}), "LLM_BATCH_DATA_DIR": str(data_dir)}  # unless `env` gives some
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port), "--server.headless", "true"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")
            time.sleep(0.2)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def traceback(self) -> str | None:
        log = self.log_path.read_text(errors="replace")
        if "Traceback" not in log:
            return None
        return log[max(0, log.index("Traceback") - 200) :][:3000]


def wait_until_settled(page: Page, timeout: float = 20_000) -> None:
    """Wait for Streamlit's rerun after an interaction to finish. A rerun starts a few
    milliseconds after the event, so first give it the chance to start."""
    try:
        page.wait_for_function("() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'running'", timeout=400)
    except PlaywrightTimeout:
        pass  # it was quick, or nothing had to rerun
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=stApp]');"
        " return a && a.dataset.testScriptState !== 'running' && a.dataset.testConnectionState === 'CONNECTED'; }",
        timeout=timeout,
    )


def screenshot(page: Page, path: Path) -> Path:
    """A screenshot of the whole page. Streamlit scrolls inside its main area, not the document,
    so the window is made as tall as the content for the picture (at most 4,000 px), then restored."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight || 0")
    except Exception:  # a page whose server is gone
        height = 0
    tall = min(max(800, int(height)), 4000)
    if tall > 800:
        page.set_viewport_size({"width": 1280, "height": tall})
        page.wait_for_timeout(300)  # layout only: no rerun
    try:
        page.screenshot(path=str(path))
    finally:
        if tall > 800:
            page.set_viewport_size({"width": 1280, "height": 800})
    return path


def error_texts(page: Page) -> list[str]:
    return page.locator('[data-testid="stAlertContentError"]').all_inner_texts()


def metric(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(rf"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').first.inner_text().strip()


SIDEBAR_PROGRESS = re.compile(r"([\d,]+)\s*/\s*([\d,]+)\s*·\s*(.+)")


def sidebar_progress(page: Page) -> tuple[int, int, str] | None:
    """(done, total, state) from the sidebar's run box (key `sidebar_run`), or on the Run page,
    which shows the run itself instead, from its bar (key `run_bar-...`); None if not shown."""
    box = page.locator(".st-key-sidebar_run [data-testid='stProgress'], [class*='st-key-run_bar-'] [data-testid='stProgress']")
    if not box.count():
        return None
    try:
        text = box.first.inner_text(timeout=2_000)
    except PlaywrightTimeout:
        return None
    m = SIDEBAR_PROGRESS.search(text)
    if not m:
        return None
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")), m.group(3).strip()


# --- fixtures (registered in tests/conftest.py) -------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def apps() -> Iterator[list[App]]:
    """Every app a test starts (appended here) is stopped at its end, unless it was killed already."""
    started: list[App] = []
    yield started
    for app in started:
        app.stop()


class Session:
    """One browser context (one Streamlit session per page load), with what it saw go wrong.
    Its screenshots are named `<prefix>-<name>-<what>.png`."""

    def __init__(self, browser: Browser, name: str, prefix: str = "browser") -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.name, self.prefix = name, prefix
        self.context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="en-US")
        self.context.set_default_timeout(20_000)
        self.page: Page = self.context.new_page()
        self.exceptions: list[str] = []
        self.js_errors: list[str] = []
        self.page.on("pageerror", lambda error: self.js_errors.append(str(error)))

    def close(self) -> None:
        self.context.close()


Sessions = Callable[..., Session]


@pytest.fixture
def sessions(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Sessions]:
    """`sessions(name)` opens a new browser session; screenshots are prefixed with the test
    module's name (test_e2e.py: "e2e-...") unless `prefix=` says otherwise."""
    made: list[Session] = []
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")

    def make(name: str, prefix: str | None = None) -> Session:
        s = Session(browser, name, prefix or module)
        made.append(s)
        return s

    yield make
    for s in made:
        with contextlib.suppress(PlaywrightError):  # a context whose app was killed may already be broken
            s.close()


# --- looking at a session -----------------------------------------------------------------------


def settle(s: Session, where: str, timeout: float = 20_000) -> None:
    """Wait for Streamlit's rerun after an interaction to finish, then look for exception boxes."""
    wait_until_settled(s.page, timeout)
    note_exceptions(s, where)


def note_exceptions(s: Session, where: str) -> None:
    boxes = s.page.locator('[data-testid="stException"]')
    if boxes.count():
        path = shoot(s, f"exception-{len(s.exceptions) + 1}")
        s.exceptions.append(f"{where}: {boxes.first.inner_text()[:800]!r} (screenshot {path.name})")


def shoot(s: Session, name: str) -> Path:
    return screenshot(s.page, SHOTS / f"{s.prefix}-{s.name}-{name}.png")


def open_page(s: Session, name: str, lang: str = "en") -> None:
    """Switch page through the sidebar, within this browser session (a fresh page load would
    start a new Streamlit session and forget the upload, the prompt and the keys)."""
    click_nav(s.page, name)
    settle(s, f"{lang}-{name}")
    expect(s.page.locator("h1").first).to_have_text(tr(f"{name}.title", lang))


def click_nav(page: Page, name: str) -> None:
    """Click a page's link in the sidebar and wait for the address to change (not for the page)."""
    page.locator('[data-testid="stSidebarNavLink"]').nth(PAGES.index(name)).click()
    path = "/" if name == "data" else f"/{name}"
    page.wait_for_function(f"() => location.pathname === {path!r}")


def wait_progress(s: Session, predicate: Callable[[tuple[int, int, str]], bool], timeout: float, what: str) -> tuple[int, int, str]:
    """The sidebar's (done, total, state) once `predicate` holds; fails with a screenshot after
    `timeout` seconds (a deadline for failing, never a measure of speed)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = sidebar_progress(s.page)
        if last is not None and predicate(last):
            return last
        time.sleep(0.2)
    path = shoot(s, "failed-progress")
    raise AssertionError(f"{s.name}: {what}: last progress seen {last} (screenshot {path.name})")


def run_id_of(s: Session, timeout: float = 10_000) -> str:
    """The run this session shows, from its URL (?run=...): the app writes it there during the
    rerun that a start triggers, which may end a moment after the click's rerun was seen."""
    try:
        s.page.wait_for_function("() => new URLSearchParams(location.search).has('run')", timeout=timeout)
    except PlaywrightTimeout:
        path = shoot(s, "no-run-in-url")
        raise AssertionError(f"{s.name}: no ?run= in {s.page.url} after {timeout / 1000:.0f} s (screenshot {path.name})") from None
    m = re.search(r"[?&]run=([^&]+)", s.page.url)
    assert m, s.page.url
    return m.group(1)


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


def no_trouble(s: Session, app: App) -> None:
    """No exception box, JavaScript error or server traceback on the way."""
    note_exceptions(s, "end")
    assert not s.exceptions, f"{s.name}: Streamlit exception boxes:\n" + "\n".join(s.exceptions)
    assert not s.js_errors, f"{s.name}: JavaScript errors in the page:\n" + "\n".join(s.js_errors)
    tb = app.traceback()
    assert tb is None, f"the app logged an error:\n{tb}"


# --- a user's steps -----------------------------------------------------------------------------


def questions_csv(n: int, offset: int = 0) -> tuple[bytes, pd.DataFrame]:
    """n arithmetic questions with exact answers (some negative), each one different (the row
    number is in it), and different from another file's with another offset."""
    rows = []
    for i in range(1, n + 1):
        a, b, c = offset + i, (i * 37) % 97 + 1, i % 17 + 2
        if i % 3 == 0:
            question, value = f"{a} + {b} x {c}", a + b * c
        elif i % 3 == 1:
            question, value = f"{a} x {c} - {b}", a * c - b
        else:
            question, value = f"{b} - {a} + {c} x {c}", b - a + c * c
        rows.append({"id": str(i), "question": question, "answer": str(value)})
    frame = pd.DataFrame(rows, dtype=str)
    assert frame["question"].is_unique
    return frame.to_csv(index=False).encode(), frame


def load_app(s: Session, url: str) -> None:
    s.page.goto(url)
    expect(s.page.locator("h1").first).to_be_visible(timeout=30_000)
    settle(s, "first load")


def upload(s: Session, name: str, data: bytes, frame: pd.DataFrame) -> None:
    page = s.page
    page.locator(".st-key-upload input[type=file]").set_input_files(files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    settle(s, "upload")
    expect(page.locator('[data-testid="stHeading"]', has_text=name)).to_be_visible()
    assert metric(page, tr("data.rows")) == f"{len(frame):,}"
    assert not error_texts(page), error_texts(page)


def write_prompt(s: Session, template: str = TEMPLATE) -> None:
    open_page(s, "prompt")
    box = s.page.locator(".st-key-template textarea")
    box.fill(template)
    box.press("Control+Enter")
    settle(s, "prompt typed")
    expect(box).to_have_value(template)


def enter_keys(s: Session, base_url: str, keys: tuple[str, ...], rpm: int) -> None:
    """Keys page: the provider, the simulator's URL, the model, the keys, requests/min per key."""
    open_page(s, "keys")
    page = s.page
    if page.locator(".st-key-provider input").input_value() != PROVIDER:  # a reloaded run brings its own
        page.locator(".st-key-provider").click()
        page.get_by_role("option", name=PROVIDER, exact=True).click()
        settle(s, "keys provider")
    expect(page.locator(".st-key-provider input")).to_have_value(PROVIDER)
    for key, value in (("base_url", base_url), ("model", "simulated")):
        field = page.locator(f".st-key-{key} input")
        field.fill(value)
        field.press("Enter")
        settle(s, f"keys {key}")
        expect(field).to_have_value(value)
    keys_box = page.locator(".st-key-keys_text textarea")
    keys_box.fill("\n".join(keys))
    page.locator(".st-key-add_keys button").click()
    settle(s, "keys add")
    expect(keys_box).to_have_value("")  # the box never shows a key again
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=re.compile(r"^sk-\.\.\."))).to_have_count(len(keys))
    field = page.locator(".st-key-rpm input")
    field.fill(str(rpm))
    field.press("Enter")
    settle(s, "keys rpm")
    expect(field).to_have_value(str(rpm))
    assert not error_texts(page), error_texts(page)


def choose(page: Page, box: str, option: str) -> None:
    """Choose an option of a selectbox (CSS selector `box`). A rerun that lands while the list is
    open (the page's first runs) closes it again, so the list is opened again, three times at most."""
    for attempt in range(3):
        page.locator(box).click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            wait_until_settled(page)


def set_slider(s: Session, key: str, value: int, low: int) -> None:
    """A slider set with the keyboard: its thumb (a hidden `input type=range` in this Streamlit,
    not a `[role=slider]`) focused, Home for the lowest value, then one step right at a time."""
    thumb = s.page.locator(f".st-key-{key} input[type=range]")
    thumb.focus()
    thumb.press("Home")
    for _ in range(value - low):
        thumb.press("ArrowRight")
    settle(s, f"slider {key}")
    expect(thumb).to_have_value(str(value))
    expect(s.page.locator(f".st-key-{key} [data-testid=stSliderThumbValue]")).to_have_text(str(value))


def download_csv(s: Session, run_id: str) -> bytes:
    """The bytes of the Run page's CSV download."""
    button = s.page.locator(".st-key-download_csv button")
    # The downloads are drawn by the page's one rerun after the run ends; on a loaded machine that
    # rerun can take longer than a click's default wait.
    expect(button).to_be_visible(timeout=90_000)
    with s.page.expect_download(timeout=30_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == f"results-{run_id}.csv"
    return Path(download.path()).read_bytes()


def read_download(s: Session, run_id: str) -> pd.DataFrame:
    """The Run page's CSV download, every cell as text."""
    return pd.read_csv(io.BytesIO(download_csv(s, run_id)), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def check_results(got: pd.DataFrame, frame: pd.DataFrame, who: str) -> None:
    """Every row once, in input order, answered right."""
    assert len(got) == len(frame), f"{who}: {len(got)} rows in the download for {len(frame)}"
    assert got["id"].tolist() == frame["id"].tolist(), f"{who}: rows are not in input order"
    assert got["question"].tolist() == frame["question"].tolist(), f"{who}: not this session's questions"
    wrong = got[got["output"] != got["answer"]]
    assert wrong.empty, f"{who}: wrong answers:\n{wrong.head(10)}"
    assert set(got["status"]) == {"ok"}, f"{who}: {got['status'].value_counts().to_dict()}"


def finished_rows(data_dir: Path, run_id: str | None = None) -> int:
    """Rows with a result in the store (of one run, or of all)."""
    db = data_dir / "runs.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            if run_id is None:
                return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)).fetchone()[0]
    except sqlite3.OperationalError:  # the tables are being created
        return 0
