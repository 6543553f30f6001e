"""What the browser tests share: the app as a real `streamlit run` process, Chromium, and ways to
read what a page shows. Widgets are found by their `key`, rendered as the CSS class `st-key-<key>`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app_pages.i18n import STRINGS
from tests.conftest import ROOT, free_port

SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
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
