"""Browser reliability tests: the real app (`streamlit run app.py`) driven by Chromium against the
loopback simulator (`python -m core.simulator`) posing as a local vLLM server.

    1. kill -9 the app in the middle of a run, start it again on the same data folder, find the
       run from its link as "interrupted", enter the key again, resume: every row once in the
       download, and on the provider's side nothing paid twice but what was in flight at the kill.
    2. two browser sessions start a run each at the same moment, sharing two keys: each session
       sees its own run, and together they stay within each key's requests/min at the provider.

Widgets are found by their `key`, which Streamlit renders as the CSS class `st-key-<key>`; texts
are compared with app_pages/i18n.py; the steps and fixtures are tests/browser.py's. Screenshots go
to artifacts/screenshots/app_reliability-*.png.

    python -m pytest tests/test_app_reliability.py -q -x      # about 1.5 minutes; needs /usr/bin/chromium
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import (
    TEMPLATE,
    App,
    Sessions,
    check_results,
    enter_keys,
    error_texts,
    finished_rows,
    load_app,
    metric,
    no_trouble,
    open_page,
    questions_csv,
    read_download,
    run_id_of,
    set_slider,
    settle,
    shoot,
    sidebar_progress,
    tr,
    upload,
    wait_progress,
    write_prompt,
)
from tests.conftest import SimServer
from tests.test_engine import max_in_window, within_limit

# --- 1. kill -9 in the middle of a run -----------------------------------------------------------

CRASH_ROWS = 400
CRASH_KEY = "sk-crash-ui"
CRASH_CONCURRENCY = 4
CRASH_CSV = "crash_questions.csv"


@pytest.mark.slow
def test_kill_9_of_the_app_mid_run_then_resume_from_the_link(tmp_path: Path, apps: list[App], sessions: Sessions) -> None:
    t0 = time.monotonic()
    sim = SimServer("--latency", "0.1", "--jitter", "0.01", "--error-rate", "0", "--rpm", "0")
    try:
        data_dir = tmp_path / "data"
        first = App(data_dir, tmp_path / "streamlit-1.log")
        apps.append(first)
        data, frame = questions_csv(CRASH_ROWS)

        # --- prepare and start the run in the first app ---
        a = sessions("crash-before")
        load_app(a, first.url + "/")
        upload(a, CRASH_CSV, data, frame)
        write_prompt(a)
        enter_keys(a, sim.base_url, (CRASH_KEY,), rpm=6000)
        open_page(a, "run")
        set_slider(a, "concurrency", CRASH_CONCURRENCY, low=1)
        run_all = a.page.locator(".st-key-run_all button")
        expect(run_all).to_contain_text(f"{CRASH_ROWS:,}")
        expect(run_all).to_be_enabled()
        run_all.click()
        settle(a, "run start")
        run_id = run_id_of(a)
        expect(run_all).to_be_disabled()  # one run at a time from a tab (the baseline for the check after Resume)

        # --- kill -9 once the store has ~80 finished rows ---
        deadline = time.monotonic() + 60
        while finished_rows(data_dir) < 80:
            assert time.monotonic() < deadline, f"the run did not reach 80 rows in 60 s ({finished_rows(data_dir)})"
            time.sleep(0.02)
        first.kill9()
        t_kill = time.monotonic()
        done_at_kill = finished_rows(data_dir, run_id)
        with sqlite3.connect(data_dir / "runs.sqlite3") as conn:
            status_at_kill, spec_json = conn.execute("SELECT status, spec_json FROM runs WHERE id = ?", (run_id,)).fetchone()
        stored_concurrency = int(re.search(r'"concurrency":\s*(\d+)', spec_json).group(1))  # type: ignore[union-attr]
        assert stored_concurrency == CRASH_CONCURRENCY, f"the run was stored with concurrency {stored_concurrency}"
        assert 0 < done_at_kill < CRASH_ROWS, f"the kill must land in the middle of the run: {done_at_kill}"
        assert status_at_kill == "running", status_at_kill
        a.page.wait_for_timeout(1500)
        shoot(a, "killed")  # what the open tab shows when its server died
        a.close()

        # --- a new app on the same data folder finds the run from its link ---
        second = App(data_dir, tmp_path / "streamlit-2.log")
        apps.append(second)
        t_restart = time.monotonic() - t_kill
        b = sessions("crash-after")
        load_app(b, f"{second.url}/run?run={run_id}")
        page = b.page
        expect(page.locator("h1").first).to_have_text(tr("run.title"))
        assert f"run={run_id}" in page.url, page.url
        expect(page.locator('[data-testid="stMain"]')).to_contain_text(run_id)
        expect(page.locator('[data-testid="stMain"]')).to_contain_text(tr("run.current", name=CRASH_CSV))
        assert finished_rows(data_dir, run_id) == done_at_kill, "rows were added after the kill"
        expect(page.locator("[class*='st-key-run_bar']").first).to_contain_text(f"{done_at_kill:,} / {CRASH_ROWS:,} · {tr('state.interrupted')}")
        main_progress = page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first
        expect(main_progress).to_contain_text(tr("state.interrupted"))
        assert metric(page, tr("run.ok")) == f"{done_at_kill:,}"
        assert metric(page, tr("run.pending")) == f"{CRASH_ROWS - done_at_kill:,}"
        expect(page.locator(".st-key-resume_stored button")).to_be_visible()
        shoot(b, "interrupted")

        # --- keys again (never stored), back to the run through the sidebar, resume ---
        enter_keys(b, sim.base_url, (CRASH_KEY,), rpm=6000)
        open_page(b, "run")
        assert f"run={run_id}" in page.url, f"the sidebar lost the run: {page.url}"
        expect(page.locator('[data-testid="stMain"]')).to_contain_text(run_id)
        expect(page.locator(".st-key-resume_stored button")).to_be_visible()
        page.locator(".st-key-resume_stored button").click()
        settle(b, "resume")
        assert not error_texts(page), error_texts(page)
        # What the page must do by itself, without the user touching anything, is checked softly
        # (`ui_problems`, asserted at the end) so that the rest of the story still gets checked.
        ui_problems: list[str] = []
        try:  # the page redraws itself once the resumed run is going: give a loaded machine that moment
            expect(page.locator(".st-key-run_all button")).to_be_disabled(timeout=20_000)
        except AssertionError:
            ui_problems.append("after Resume, 'Run all' is enabled while the run is live (the one-run-per-tab guard is off)")
        t_resume = time.monotonic()
        deadline = t_resume + 60
        while finished_rows(data_dir, run_id) < CRASH_ROWS:
            assert time.monotonic() < deadline, f"the resumed run did not finish in the store in 60 s ({finished_rows(data_dir, run_id)} rows)"
            time.sleep(0.2)
        t_store_done = time.monotonic() - t_resume
        try:  # the page polls every 1-2 s while a run is live: 15 s is plenty to show the end
            wait_progress(b, lambda p: p[0] == CRASH_ROWS and p[2] == tr("state.done"), 15, "the page did not follow the resumed run")
        except AssertionError as exc:
            main_text = page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first.inner_text()
            ui_problems.append(
                f"after Resume the page froze: the store had all {CRASH_ROWS} rows {t_store_done:.1f} s after the click, but 15 s later"
                f" the sidebar still said {sidebar_progress(page)} and the Run page {main_text!r}, in flight {metric(page, tr('run.in_flight'))}"
                f" ({exc}); it only updates once the user navigates"
            )
            open_page(b, "run")  # what a user would do: click around; a full rerun shows the truth
        done = wait_progress(b, lambda p: p[0] == CRASH_ROWS and p[2] == tr("state.done"), 30, "the resumed run did not finish")
        assert done == (CRASH_ROWS, CRASH_ROWS, tr("state.done"))
        settle(b, "run done")
        expect(page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first).to_contain_text(f"{CRASH_ROWS:,} / {CRASH_ROWS:,} · {tr('state.done')}")
        assert metric(page, tr("run.ok")) == f"{CRASH_ROWS:,}"
        assert metric(page, tr("run.failed")) == "0"
        shoot(b, "done")

        # --- every row once, right, in order ---
        check_results(read_download(b, run_id), frame, "after the crash")

        # --- at the provider: every prompt answered, only the in-flight ones twice ---
        stats = sim.stats()
        assert set(stats) == {CRASH_KEY}, sorted(stats)
        prompts = Counter(stats[CRASH_KEY]["prompts"])
        expected = {TEMPLATE.format(question=q) for q in frame["question"]}
        assert set(prompts) == expected, f"{len(set(prompts) - expected)} unexpected prompts, {len(expected - set(prompts))} never answered"
        paid_twice = sum(c - 1 for c in prompts.values())
        assert paid_twice <= CRASH_CONCURRENCY, f"{paid_twice} prompts were answered twice; at most {CRASH_CONCURRENCY} were in flight at the kill"
        assert stats[CRASH_KEY]["rate_limited"] == 0
        no_trouble(b, second)
        print(
            f"\n[crash] run {run_id}: killed at {done_at_kill}/{CRASH_ROWS} rows, restart took {t_restart:.1f} s, resumed rows stored in"
            f" {t_store_done:.1f} s, answered twice: {paid_twice}, requests: {stats[CRASH_KEY]['requests']}, whole test {time.monotonic() - t0:.1f} s"
        )
        assert not ui_problems, "the Run page after Resume:\n" + "\n".join(ui_problems)
    finally:
        sim.stop()


# --- 2. two sessions, two runs at once, two shared keys -----------------------------------------

SHARED_KEYS = ("sk-shared-1", "sk-shared-2")
SHARED_RPM = 600
SESSION_ROWS = 120


def _iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.slow
def test_two_sessions_two_runs_at_once_share_two_keys_within_their_limit(tmp_path: Path, apps: list[App], sessions: Sessions) -> None:
    t0 = time.monotonic()
    sim = SimServer("--rpm", str(SHARED_RPM), "--latency", "0.05", "--jitter", "0.01", "--error-rate", "0")
    try:
        data_dir = tmp_path / "data"
        app = App(data_dir, tmp_path / "streamlit.log")
        apps.append(app)
        names = {"a": "session_a_questions.csv", "b": "session_b_questions.csv"}
        files = {"a": questions_csv(SESSION_ROWS, offset=0), "b": questions_csv(SESSION_ROWS, offset=5000)}
        assert not set(files["a"][1]["question"]) & set(files["b"][1]["question"])

        ss = {who: sessions(f"shared-{who}") for who in ("a", "b")}
        for who, s in ss.items():
            load_app(s, app.url + "/")
            data, frame = files[who]
            upload(s, names[who], data, frame)
            write_prompt(s)
            enter_keys(s, sim.base_url, SHARED_KEYS, rpm=SHARED_RPM)
            open_page(s, "run")
            expect(s.page.locator(".st-key-run_all button")).to_contain_text(f"{SESSION_ROWS:,}")
            expect(s.page.locator(".st-key-run_all button")).to_be_enabled()
            assert not error_texts(s.page), error_texts(s.page)

        # both runs as close together as we can: two clicks, nothing in between
        buttons = [ss[who].page.locator(".st-key-run_all button") for who in ("a", "b")]
        clicked = time.monotonic()
        for button in buttons:
            button.click()
        gap_clicks = time.monotonic() - clicked
        for s in ss.values():
            settle(s, "run start")
        run_ids = {who: run_id_of(s) for who, s in ss.items()}
        assert run_ids["a"] != run_ids["b"], run_ids

        for s in ss.values():
            wait_progress(s, lambda p: p[0] == SESSION_ROWS and p[2] == tr("state.done"), 90, "the run did not finish")
        for who, s in ss.items():
            page = s.page
            settle(s, "run done")
            other = "b" if who == "a" else "a"
            assert run_id_of(s) == run_ids[who], f"session {who} now shows {page.url}"
            main = page.locator('[data-testid="stMain"]')
            expect(main).to_contain_text(tr("run.current", name=names[who]))
            expect(main).to_contain_text(run_ids[who])
            text = page.locator('[data-testid="stApp"]').inner_text()
            assert names[other] not in text and run_ids[other] not in text, f"session {who} shows the other session's run"
            assert metric(page, tr("run.ok")) == f"{SESSION_ROWS:,}"
            assert metric(page, tr("run.failed")) == "0"
            shoot(s, "done")

        # the two runs really ran at the same time: from the store's finish times
        with sqlite3.connect(data_dir / "runs.sqlite3") as conn:
            spans = {
                who: tuple(map(_iso, conn.execute("SELECT MIN(finished_at), MAX(finished_at) FROM results WHERE run_id = ?", (rid,)).fetchone()))
                for who, rid in run_ids.items()
            }
            created = {who: _iso(conn.execute("SELECT created_at FROM runs WHERE id = ?", (rid,)).fetchone()[0]) for who, rid in run_ids.items()}
        overlap = min(spans["a"][1], spans["b"][1]) - max(spans["a"][0], spans["b"][0])
        shorter = min(spans["a"][1] - spans["a"][0], spans["b"][1] - spans["b"][0])
        assert overlap > 0.5 * shorter, f"the runs hardly overlapped: {spans}"

        # at the provider: both keys used, nothing refused, together within each key's limit
        stats = sim.stats()
        assert set(stats) == set(SHARED_KEYS), sorted(stats)
        report = {k: (stats[k]["requests"], stats[k]["ok"], stats[k]["rate_limited"], max_in_window(stats[k]["times"], 3.0)) for k in SHARED_KEYS}
        assert sum(stats[k]["ok"] for k in SHARED_KEYS) == 2 * SESSION_ROWS, report
        for key in SHARED_KEYS:
            assert stats[key]["ok"] > 0, report
            assert stats[key]["rate_limited"] == 0, f"{key} was refused with 429: (requests, ok, 429, most in 3 s) = {report}"
            assert within_limit(stats[key]["times"], SHARED_RPM), f"{key} went over {SHARED_RPM}/min: {report}"

        # each session's download: its own rows, right
        for who, s in ss.items():
            check_results(read_download(s, run_ids[who]), files[who][1], f"session {who}")
        for s in ss.values():
            no_trouble(s, app)
        print(
            f"\n[shared] runs {run_ids}: clicks {gap_clicks * 1000:.0f} ms apart, created {abs(created['a'] - created['b']) * 1000:.0f} ms apart,"
            f" spans {', '.join(f'{w} {spans[w][1] - spans[w][0]:.1f} s' for w in spans)}, overlap {overlap:.1f} s;"
            f" per key (requests, ok, 429, most in 3 s) {report}; whole test {time.monotonic() - t0:.1f} s"
        )
    finally:
        sim.stop()
