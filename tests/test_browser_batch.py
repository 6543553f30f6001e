"""Batch mode (issue 11) in a real browser: `streamlit run app.py` driven by headless Chromium
against the loopback simulator (`python -m core.simulator`) posing as OpenAI's Batch API.

    1. a batch run on a small table: "Batch (cheaper, slower)" chosen on the Run page, the
       provider's stages shown as they come (validating, in progress), the batch finished at the
       simulator, every row's answer in the results and in the CSV, the cost at the batch price.
    2. kill -9 of the app while the batch is at the provider, a new app on the same data folder,
       the run opened from its link (interrupted: its key is not there), the key entered again,
       the run opened again: it is followed without Resume; the provider saw one batch created
       for the one file and every row answered once; the page ends "done".

Screenshots go to artifacts/screenshots/browser_batch-*.png (one stage in Chinese) and are looked at.

    python -m pytest tests/test_browser_batch.py -q -x        # needs /usr/bin/chromium
"""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app_pages.common import fmt_money
from core import constants as C
from tests.browser import (
    App,
    Session,
    Sessions,
    check_results,
    error_texts,
    load_app,
    metric,
    no_trouble,
    open_page,
    questions_csv,
    read_download,
    run_id_of,
    settle,
    shoot,
    tr,
    upload,
    write_prompt,
)
from tests.conftest import SimServer

pytestmark = pytest.mark.slow

PROVIDER = "OpenAI"  # a preset that serves the Batch API, pointed at the simulator
MODEL = "gpt-4o-mini"
ROWS = 6
# Prices typed on the Run page (USD per million tokens), large enough that the cost shows in
# four decimals and half of it is told apart from all of it.
PRICE_IN, PRICE_OUT = 1000.0, 4000.0


def sim_batches(sim: SimServer) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/_sim/batches", timeout=10) as r:
        return json.loads(r.read())


def enter_key(s: Session, base_url: str, key: str) -> None:
    """Keys page: the OpenAI preset, its base URL changed to the simulator's, the key pasted."""
    open_page(s, "keys")
    page = s.page
    if page.locator(".st-key-provider input").input_value() != PROVIDER:  # a reloaded run brings its own
        page.locator(".st-key-provider").click()
        page.get_by_role("option", name=PROVIDER, exact=True).click()
        settle(s, "keys provider")
    expect(page.locator(".st-key-provider input")).to_have_value(PROVIDER)
    for field_key, value in (("base_url", base_url), ("model", MODEL)):
        field = page.locator(f".st-key-{field_key} input")
        if field.input_value() != value:
            field.fill(value)
            field.press("Enter")
            settle(s, f"keys {field_key}")
        expect(field).to_have_value(value)
    box = page.locator(".st-key-keys_text textarea")
    box.fill(key)
    page.locator(".st-key-add_keys button").click()
    settle(s, "keys add")
    expect(box).to_have_value("")
    expect(page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=re.compile(r"^sk-\.\.\."))).to_have_count(1)
    expect(page.locator(".st-key-provider input")).to_have_value(PROVIDER)  # adding a key keeps the preset
    assert not error_texts(page), error_texts(page)


def set_number(s: Session, key: str, value: float) -> None:
    field = s.page.locator(f".st-key-{key} input")
    field.fill(f"{value:.4f}")
    field.press("Enter")
    settle(s, key)
    expect(field).to_have_value(f"{value:.4f}")


def choose_batch(s: Session) -> None:
    """Run page: the prices typed, then "Batch (cheaper, slower)" chosen; both costs are shown."""
    page = s.page
    page.locator("[data-testid=stExpander] summary", has_text=tr("run.more_settings")).click()
    set_number(s, "price_in", PRICE_IN)
    set_number(s, "price_out", PRICE_OUT)
    mode = page.locator(".st-key-run_mode")
    expect(mode).to_contain_text(tr("run.mode.batch"))
    mode.get_by_text(tr("run.mode.batch"), exact=True).click()
    settle(s, "batch chosen")
    expect(mode.locator("input[type=radio]").nth(1)).to_be_checked()
    costs = page.locator('[data-testid="stCaptionContainer"]', has_text=re.compile(r"as a batch"))
    expect(costs).to_contain_text(tr("run.window.24h"))
    now_cost, batch_cost = re.findall(r"\$([\d,.]+)", costs.first.inner_text())[:2]
    assert float(batch_cost.replace(",", "")) == pytest.approx(float(now_cost.replace(",", "")) * C.BATCH_PRICE_FACTOR, abs=1e-4), (now_cost, batch_cost)


def start_batch(s: Session) -> str:
    run_all = s.page.locator(".st-key-run_all button")
    expect(run_all).to_contain_text(f"{ROWS:,}")
    expect(run_all).to_be_enabled()
    run_all.click()
    settle(s, "run start")
    return run_id_of(s, timeout=30_000)


def stored_cost(data_dir: Path, run_id: str) -> tuple[float, int, int]:
    with sqlite3.connect(data_dir / "runs.sqlite3") as conn:
        cost, tin, tout = conn.execute("SELECT SUM(cost), SUM(tokens_in), SUM(tokens_out) FROM results WHERE run_id = ?", (run_id,)).fetchone()
    return float(cost or 0.0), int(tin or 0), int(tout or 0)


def check_answered_once(sim: SimServer, run_id: str) -> None:
    seen = sim_batches(sim)
    assert len(seen["created"]) == 1, f"one file, one batch: the provider saw {seen['created']}"
    assert sorted(seen["answered"]) == sorted(f"{run_id}:{i}" for i in range(ROWS)), seen["answered"]
    assert set(seen["answered"].values()) == {1}, seen["answered"]
    stats = sim.stats()
    assert all(s["requests"] == 0 for s in stats.values()), f"rows were sent now, not in the batch: {stats}"


READ_GRID = """() => {
  const grids = document.querySelectorAll('[data-testid=stMain] [data-testid=stDataFrame]');
  const rows = [...(grids[grids.length - 1]?.querySelectorAll('[role=row]') || [])].map(r => [...r.querySelectorAll('[role=columnheader], [role=gridcell]')].map(c => c.textContent.trim()));
  return rows.filter(r => r.length);
}"""


def results_rows(s: Session) -> list[dict[str, str]]:
    """The rows the Run page's results table (its last `st.dataframe`, whose key is not drawn as a
    class) shows, read from the table's accessible grid, header row first."""
    header, *rows = s.page.evaluate(READ_GRID)
    return [dict(zip(header, row)) for row in rows]


def panel(s: Session):  # type: ignore[no-untyped-def]
    return s.page.locator(".st-key-batch_panel")


def bar(s: Session):  # type: ignore[no-untyped-def]
    return s.page.locator("[class*='st-key-run_bar-']").first


# --- 1. a batch run, stage by stage ----------------------------------------------------------


def test_a_batch_run_shows_the_providers_stages_and_every_answer_at_the_batch_price(tmp_path: Path, apps: list[App], sessions: Sessions) -> None:
    # Two minutes from validating to completed on the simulator's clock: validating for the first
    # 12 s, then in progress; the test finishes it at the simulator long before it would end.
    sim = SimServer("--latency", "0", "--error-rate", "0", "--rpm", "0", "--batch-completion", "120")
    try:
        data_dir = tmp_path / "data"
        app = App(data_dir, tmp_path / "streamlit.log")
        apps.append(app)
        data, frame = questions_csv(ROWS)
        s = sessions("run")
        load_app(s, app.url + "/")
        upload(s, "batch_questions.csv", data, frame)
        write_prompt(s)
        enter_key(s, sim.base_url, "sk-batch-ui-0001")
        open_page(s, "run")
        choose_batch(s)
        shoot(s, "1-chosen")
        run_id = start_batch(s)

        # validating: the batch exists at the provider and its id is shown
        expect(panel(s)).to_contain_text(tr("batch.title"), timeout=60_000)
        expect(panel(s)).to_contain_text(re.compile(r"batch_sim\d+"), timeout=60_000)
        expect(panel(s)).to_contain_text(f"{tr('batch.state.validating')} · 0 of {ROWS} done", timeout=60_000)
        assert len(sim_batches(sim)["created"]) == 1
        expect(bar(s)).to_contain_text(f"0 / {ROWS}")
        shoot(s, "2-validating")

        # in progress, as the provider says it at a later poll (the page polls with back-off)
        expect(panel(s)).to_contain_text(tr("batch.state.in_progress"), timeout=120_000)
        expect(panel(s)).to_contain_text(tr("batch.polled", at="").split(":")[0])
        shoot(s, "3-in-progress")

        # the same stage in Chinese
        s.page.locator(".st-key-lang button", has_text="简体中文").click()
        settle(s, "to Chinese")
        expect(s.page.locator("h1").first).to_have_text(tr("run.title", "zh"))
        expect(panel(s)).to_contain_text(tr("batch.title", "zh"))
        expect(panel(s)).to_contain_text(tr("batch.state.in_progress", "zh"))
        shoot(s, "4-in-progress-zh")
        s.page.locator(".st-key-lang button", has_text="English").click()
        settle(s, "to English")
        expect(s.page.locator("h1").first).to_have_text(tr("run.title"))

        # the provider finishes; the next poll downloads the output file
        sim.post("/_sim/batches/finish", {})
        expect(bar(s)).to_contain_text(f"{ROWS} / {ROWS} · {tr('state.done')}", timeout=180_000)
        settle(s, "done")
        expect(panel(s)).to_contain_text(f"{tr('batch.state.completed')} · {ROWS} of {ROWS} done, 0 failed")
        assert metric(s.page, tr("run.ok")) == f"{ROWS}" and metric(s.page, tr("run.failed")) == "0" and metric(s.page, tr("run.pending")) == "0"

        # the cost shown is the batch price: half of what the same tokens cost sent now
        cost, tokens_in, tokens_out = stored_cost(data_dir, run_id)
        full = (tokens_in * PRICE_IN + tokens_out * PRICE_OUT) / 1e6
        assert tokens_in > 0 and tokens_out > 0
        assert cost == pytest.approx(full * C.BATCH_PRICE_FACTOR), (cost, full)
        assert metric(s.page, tr("run.cost")) == fmt_money(full * C.BATCH_PRICE_FACTOR) != fmt_money(full)

        # every row's answer, in the page's table and in the CSV download
        expect(
            s.page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').last.locator('[role="gridcell"]', has_text=re.compile(r"^ok$"))
        ).to_have_count(ROWS)
        shown = results_rows(s)
        assert [[r["id"], r["question"], r["output"], r["status"]] for r in shown] == [
            [i, q, a, "ok"] for i, q, a in frame[["id", "question", "answer"]].values.tolist()
        ], shown
        expect(s.page.locator(".st-key-chart_confusion")).to_be_visible()  # the answers judged against the label column
        expect(s.page.locator(".st-key-chart_throughput, .st-key-chart_latency")).to_have_count(0)  # no rows/s of a batch that came back at once
        shoot(s, "5-done")
        check_results(read_download(s, run_id), frame, "the batch run")
        check_answered_once(sim, run_id)
        no_trouble(s, app)
    finally:
        sim.stop()


# --- 2. kill -9 of the app while the batch is at the provider --------------------------------


def test_kill_9_of_the_app_during_a_batch_then_resume_polls_the_same_batch(tmp_path: Path, apps: list[App], sessions: Sessions) -> None:
    sim = SimServer("--latency", "0", "--error-rate", "0", "--rpm", "0", "--batch-completion", "3600")  # an hour: at the provider at the kill
    key = "sk-batch-crash-ui-01"
    try:
        data_dir = tmp_path / "data"
        first = App(data_dir, tmp_path / "streamlit-1.log")
        apps.append(first)
        data, frame = questions_csv(ROWS, offset=50)
        a = sessions("crash-before")
        load_app(a, first.url + "/")
        upload(a, "batch_crash.csv", data, frame)
        write_prompt(a)
        enter_key(a, sim.base_url, key)
        open_page(a, "run")
        choose_batch(a)
        run_id = start_batch(a)
        expect(panel(a)).to_contain_text(re.compile(r"batch_sim\d+"), timeout=60_000)  # stored, then shown
        created = sim_batches(sim)["created"]
        assert len(created) == 1, created
        shoot(a, "1-submitted")

        first.kill9()
        with sqlite3.connect(data_dir / "runs.sqlite3") as conn:
            (status,) = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        assert status == "running", status
        a.close()
        sim.post("/_sim/batches/finish", {})  # the provider finishes while no app is watching
        assert sim_batches(sim)["answered"] == {}, "the simulator answers a batch at its next retrieve, not before"

        second = App(data_dir, tmp_path / "streamlit-2.log")
        apps.append(second)
        b = sessions("crash-after")
        load_app(b, f"{second.url}/run?run={run_id}")
        page = b.page
        expect(page.locator("h1").first).to_have_text(tr("run.title"))
        expect(page.locator('[data-testid="stMain"]')).to_contain_text(run_id)
        expect(bar(b)).to_contain_text(f"0 / {ROWS} · {tr('state.interrupted')}", timeout=30_000)
        expect(panel(b)).to_contain_text(created[0][0])
        expect(panel(b)).to_contain_text(tr("batch.polled_idle", at="").split(". ")[1])  # no promise of polling while nobody polls
        expect(panel(b)).not_to_contain_text(tr("batch.polled", at="").split(". ")[1])
        expect(page.locator(".st-key-resume_stored button")).to_be_visible()
        shoot(b, "2-interrupted")

        # the key again (never stored), back to the run through the sidebar: the page follows
        # the batch again by itself, with no Resume pressed
        enter_key(b, sim.base_url, key)
        open_page(b, "run")
        assert f"run={run_id}" in page.url, f"the sidebar lost the run: {page.url}"
        assert not error_texts(page), error_texts(page)
        expect(bar(b)).to_contain_text(f"{ROWS} / {ROWS} · {tr('state.done')}", timeout=120_000)
        settle(b, "done")
        expect(panel(b)).to_contain_text(f"{tr('batch.state.completed')} · {ROWS} of {ROWS} done, 0 failed · batch `{created[0][0]}`".replace("`", ""))
        assert metric(page, tr("run.ok")) == f"{ROWS}" and metric(page, tr("run.pending")) == "0"
        shoot(b, "3-done")

        assert sim_batches(sim)["created"] == created, "the stored batch is polled, never submitted again"
        check_answered_once(sim, run_id)
        check_results(read_download(b, run_id), frame, "after the kill")
        no_trouble(b, second)
    finally:
        sim.stop()
