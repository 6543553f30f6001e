"""Browser end-to-end tests: the real app (`streamlit run app.py`) driven by Chromium, against the
loopback simulator (`python -m core.simulator`) posing as a local vLLM server. Each test opens its
own browser session on the module's app and needs nothing another test left behind:

    - a whole job: upload a 300-row CSV, write the prompt, add two keys and test them, run all
      rows with a reload midway, download the CSV, check every answer and what the simulator was
      asked (nothing paid twice);
    - a GBK-encoded CSV opens with its Chinese headers;
    - every page in Chinese, then in English again, around a finished run stored by the command
      line: no English left, no i18n key shown, the language kept in the URL across a reload.

Screenshots of every page in both languages go to artifacts/screenshots/e2e-*.png (git-ignored)
and are looked at. The steps and fixtures are tests/browser.py's.

    python -m pytest tests/test_e2e.py -q -x        # about a minute; needs /usr/bin/chromium
"""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from app_pages.i18n import LANGUAGES, STRINGS
from tests.browser import (
    PAGES,
    PROVIDER,
    TEMPLATE,
    App,
    Session,
    Sessions,
    download_csv,
    error_texts,
    grid,
    load_app,
    metric,
    no_trouble,
    open_page,
    questions_csv,
    run_id_of,
    settle,
    shoot,
    tr,
    visible_text,
    wait_progress,
)
from tests.conftest import ROOT, SimServer

pytestmark = pytest.mark.slow

N_ROWS = 300
KEYS = ("sk-e2e-one", "sk-e2e-two")
CSV_NAME = "e2e_questions.csv"
GBK_NAME = "e2e_gbk.csv"
SEEDED_NAME = "e2e_seeded.csv"
SEEDED_ROWS = 12


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """`streamlit run app.py` on a free port, its runs stored in a fresh directory."""
    workdir = tmp_path_factory.mktemp("e2e-app")
    a = App(workdir / "data", workdir / "streamlit.log")
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    """The loopback simulator, exactly as conftest's `sim_server` fixture starts it, kept for the
    whole module: exact arithmetic, 600 requests/min per key."""
    server = SimServer("--latency", "0.05", "--jitter", "0.01", "--error-rate", "0", "--rpm", "600")
    yield server
    server.stop()


def first_load(s: Session, url: str) -> None:
    load_app(s, url)
    expect(s.page.locator(".st-key-upload")).to_be_visible(timeout=30_000)


RAW_KEY = re.compile(r"\b(?:nav|sidebar|common|state|data|prompt|keys|run|history|compare)\.[a-z_]+(?:\.[a-z_]+)*\b")


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


# --- a whole job --------------------------------------------------------------------------------


def upload_questions(s: Session, frame: pd.DataFrame, data: bytes) -> None:
    page = s.page
    page.locator(".st-key-upload input[type=file]").set_input_files(files=[{"name": CSV_NAME, "mimeType": "text/csv", "buffer": data}])
    settle(s, "en-data upload")
    expect(page.locator('[data-testid="stHeading"]', has_text=CSV_NAME)).to_be_visible()
    assert metric(page, tr("data.rows")) == f"{N_ROWS:,}"
    assert metric(page, tr("data.columns")) == "3"
    assert not error_texts(page), error_texts(page)
    preview = grid(page)
    assert list(preview.columns) == ["id", "question", "answer"]
    assert preview.iloc[0].tolist() == frame.iloc[0].tolist()  # our file, not the demo dataset
    shoot(s, "en-data")


def type_prompt(s: Session, frame: pd.DataFrame) -> None:
    """The prompt typed key by key, as a person does, and its preview on the first row."""
    open_page(s, "prompt")
    page = s.page
    box = page.locator(".st-key-template textarea")
    box.fill("")
    box.press("Control+Enter")
    settle(s, "en-prompt clear")
    box.press_sequentially(TEMPLATE, delay=5)
    box.press("Control+Enter")
    settle(s, "en-prompt typed")
    expect(box).to_have_value(TEMPLATE)
    first = frame.iloc[0]["question"]
    expect(page.locator(".st-key-preview_0 code")).to_have_text(f"Compute {first}. Reply with the number only.")
    warnings = page.locator('[data-testid="stAlertContentWarning"]')
    assert not warnings.count(), warnings.all_inner_texts()
    shoot(s, "en-prompt")


def add_and_test_keys(s: Session, sim: SimServer) -> None:
    """The keys pasted, masked at once and nowhere in the page's HTML, then tested."""
    open_page(s, "keys")
    page = s.page
    page.locator(".st-key-provider").click()
    page.get_by_role("option", name=PROVIDER, exact=True).click()
    settle(s, "en-keys provider")
    expect(page.locator(".st-key-provider input")).to_have_value(PROVIDER)
    for key, value in (("base_url", sim.base_url), ("model", "simulated")):
        field = page.locator(f".st-key-{key} input")
        field.fill(value)
        field.press("Enter")
        settle(s, f"en-keys {key}")
        expect(field).to_have_value(value)

    keys_box = page.locator(".st-key-keys_text textarea")
    keys_box.fill("\n".join(KEYS))
    page.locator(".st-key-add_keys button").click()
    settle(s, "en-keys add")
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
    settle(s, "en-keys rpm")
    expect(rpm).to_have_value("600")

    page.locator(".st-key-test_keys button").first.click()
    settle(s, "en-keys test", timeout=40_000)
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text="works (").nth(1)).to_be_attached()
    table = grid(page)
    assert [v.startswith("✓ works (") for v in table[tr("keys.col.test")]] == [True, True], table
    assert not error_texts(page), error_texts(page)
    html = page.content()
    for key in KEYS:
        assert key not in html, f"the full key {key} is in the page's HTML after testing it"
    shoot(s, "en-keys")


def run_with_reload(s: Session) -> str:
    """Run all rows, reload the page in the middle (a new Streamlit session that must find the
    run from the URL), watch it finish."""
    open_page(s, "run")
    page = s.page
    assert not error_texts(page), error_texts(page)
    run_all = page.locator(".st-key-run_all button")
    expect(run_all).to_contain_text(f"{N_ROWS:,}")
    run_all.click()
    settle(s, "en-run start")
    expect(page.locator("[class*='st-key-run_bar']").first).to_be_visible()
    run_id = run_id_of(s)

    first = wait_progress(s, lambda p: p[0] >= 10, 30, "the run did not start")
    assert first[1] == N_ROWS
    before = wait_progress(s, lambda p: p[0] >= 40, 30, "the run stalled before 40 rows")
    assert before[0] < N_ROWS, f"the run finished before the reload could happen: {before}"
    ok_before = int(metric(page, tr("run.ok")).replace(",", ""))
    shoot(s, "en-run-live")

    page.reload()
    expect(page.locator(".st-key-run_settings")).to_be_visible(timeout=30_000)
    settle(s, "en-run reload")
    assert f"run={run_id}" in page.url, page.url
    expect(page.locator("h1").first).to_have_text(tr("run.title"))
    after = wait_progress(s, lambda p: p[0] > before[0], 30, "no progress after the reload")
    assert after[1] == N_ROWS

    done = wait_progress(s, lambda p: p[0] == N_ROWS and p[2] == tr("state.done"), 90, "the run did not finish")
    assert done == (N_ROWS, N_ROWS, tr("state.done"))
    settle(s, "en-run done")
    expect(page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first).to_contain_text(f"100% · {N_ROWS} / {N_ROWS} · {tr('state.done')}")
    assert int(metric(page, tr("run.ok")).replace(",", "")) == N_ROWS > ok_before
    assert metric(page, tr("run.failed")) == "0"
    assert metric(page, tr("run.pending")) == "0"
    assert metric(page, tr("run.accuracy")) == "100.0%"
    shoot(s, "en-run")
    return run_id


def check_download_and_bill(s: Session, run_id: str, frame: pd.DataFrame, sim: SimServer, before: dict) -> None:
    """Every answer right, in input order, in a CSV that opens in Excel; at the simulator every row
    answered once, on both keys, with hardly a 429."""
    raw = download_csv(s, run_id)
    assert raw.startswith(b"\xef\xbb\xbf"), "the CSV for Excel starts with a UTF-8 BOM"
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(got) == N_ROWS
    assert got["id"].tolist() == frame["id"].tolist(), "rows are in input order"
    assert got["question"].tolist() == frame["question"].tolist()
    wrong = got[got["output"] != got["answer"]]
    assert wrong.empty, wrong.head(10)
    assert set(got["status"]) == {"ok"}, got["status"].value_counts()

    after = sim.stats()
    assert set(after) == set(KEYS), f"keys the simulator saw: {sorted(after)}"

    def used(key: str, field: str) -> int:
        return after[key][field] - before.get(key, {}).get(field, 0)

    per_key = {k: used(k, "requests") for k in KEYS}
    assert all(n > 0 for n in per_key.values()), per_key
    limited = sum(used(k, "rate_limited") for k in KEYS)
    answered = sum(used(k, "ok") for k in KEYS)
    assert answered == N_ROWS, f"{answered} requests answered for {N_ROWS} rows: something was paid twice ({per_key})"
    assert sum(per_key.values()) - limited == N_ROWS, per_key
    assert limited <= 5, f"{limited} requests were refused with 429"


def test_a_whole_job_upload_prompt_keys_run_with_a_reload_download(app: App, sim: SimServer, sessions: Sessions) -> None:
    s = sessions("job")
    first_load(s, app.url + "/")
    data, frame = questions_csv(N_ROWS)
    upload_questions(s, frame, data)
    type_prompt(s, frame)
    add_and_test_keys(s, sim)
    before = sim.stats()  # Test keys sent one small request per key: not the run's
    run_id = run_with_reload(s)
    check_download_and_bill(s, run_id, frame, sim, before)
    no_trouble(s, app)


# --- a GBK file ---------------------------------------------------------------------------------


def test_a_gbk_csv_opens_with_its_chinese_headers(app: App, sessions: Sessions) -> None:
    s = sessions("gbk")
    first_load(s, app.url + "/")
    page = s.page
    rows = ["问题,答案", "1 + 1,2", "3 x 4,12", "10 - 7,3", "8 / 2,4"]
    data = "\n".join(rows).encode("gb18030") + b"\n"
    page.locator(".st-key-upload input[type=file]").set_input_files(files=[{"name": GBK_NAME, "mimeType": "text/csv", "buffer": data}])
    settle(s, "en-data gbk")
    expect(page.locator('[data-testid="stHeading"]', has_text=GBK_NAME)).to_be_visible()
    assert not error_texts(page), error_texts(page)
    assert metric(page, tr("data.encoding")) == "gb18030"
    assert metric(page, tr("data.rows")) == "4"
    preview = grid(page)
    assert list(preview.columns) == ["问题", "答案"]
    assert preview.iloc[0].tolist() == ["1 + 1", "2"]
    shoot(s, "en-data-gbk")
    no_trouble(s, app)


# --- every page in both languages ---------------------------------------------------------------


def seed_finished_run(data_dir: Path, tmp_path: Path) -> str:
    """A finished run in the app's data folder, made by the command line on the demo provider."""
    data, _ = questions_csv(SEEDED_ROWS, offset=7000)
    source = tmp_path / SEEDED_NAME
    source.write_bytes(data)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "run",
            str(source),
            "--template",
            TEMPLATE,
            "--demo",
            "--label-column",
            "answer",
            "--output",
            str(tmp_path / "out.csv"),
            "--data-dir",
            str(data_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(data_dir / "runs.sqlite3") as conn:
        (run_id,) = conn.execute("SELECT id FROM runs WHERE file_name = ? ORDER BY created_at DESC LIMIT 1", (SEEDED_NAME,)).fetchone()
    return run_id


def test_every_page_in_chinese_then_in_english_again(app: App, sessions: Sessions, tmp_path: Path) -> None:
    run_id = seed_finished_run(app.data_dir, tmp_path)
    s = sessions("lang")
    page = s.page
    load_app(s, f"{app.url}/run?run={run_id}")
    expect(page.locator("[class*='st-key-run_bar']").first).to_contain_text(f"{SEEDED_ROWS} / {SEEDED_ROWS} · {tr('state.done')}")
    open_page(s, "history")
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=SEEDED_NAME).first).to_be_attached()
    shoot(s, "en-history")

    page.locator(".st-key-lang button").filter(has_text=LANGUAGES["zh"]).click()
    settle(s, "zh switch")
    expect(page.locator(".st-key-lang button[aria-checked=true]")).to_have_text(LANGUAGES["zh"])
    nav_links = page.locator('[data-testid="stSidebarNavLink"] p')
    expect(nav_links.nth(0)).to_have_text("数据")
    nav = [n.strip() for n in nav_links.all_inner_texts()]
    assert nav == [tr(f"nav.{p}", "zh") for p in PAGES], nav
    assert nav[1] == "提示词" and nav[3] == "运行", nav

    problems = []
    for name in PAGES:
        open_page(s, name, "zh")  # checks the page's title is the Chinese one
        text = visible_text(page)
        if raw := sorted(set(RAW_KEY.findall(text))):
            problems.append(f"zh-{name}: i18n keys shown instead of text: {raw}")
        if leftovers := english_leftovers(text, (f"{name}.", "nav.", "sidebar.", "state.", "common.", "keys.col.")):
            problems.append(f"zh-{name}: English left in the Chinese UI: {leftovers}")
        if name == "run":
            assert f"run={run_id}" in page.url, f"the sidebar lost the run: {page.url}"
            headings = [h.strip() for h in page.locator("h1, h2, h3").all_inner_texts()]
            assert headings[0] == "运行", headings
            english = [h for h in headings if re.search(r"\b(Run|Results)\b", h)]
            assert not english, f"English headings on the Chinese Run page: {english}"
            assert tr("run.ok", "zh") in text and tr("run.results", "zh") in text
            expect(page.locator("[class*='st-key-run_bar']").first).to_contain_text(f"{SEEDED_ROWS} / {SEEDED_ROWS} · {tr('state.done', 'zh')}")
        shoot(s, f"zh-{name}")
    assert not problems, "\n".join(problems)

    open_page(s, "history", "zh")
    page.reload()  # a new session: the language comes back from the URL
    expect(page.locator("h1").first).to_have_text(tr("history.title", "zh"), timeout=30_000)
    settle(s, "zh-history reload")
    expect(page.locator(".st-key-lang button[aria-checked=true]")).to_have_text(LANGUAGES["zh"])

    page.locator(".st-key-lang button").filter(has_text=LANGUAGES["en"]).click()
    settle(s, "en switch back")
    for name in PAGES:
        open_page(s, name, "en")
        text = visible_text(page)
        assert not RAW_KEY.findall(text), RAW_KEY.findall(text)
        chrome = "\n".join(page.locator("h1, h2, h3, label, [data-testid=stSidebarNav]").all_inner_texts())
        assert not re.search(r"[\u4e00-\u9fff]", chrome.replace(LANGUAGES["zh"], "")), chrome
    no_trouble(s, app)
