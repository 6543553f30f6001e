"""Output columns in the browser: the real app (`streamlit run app.py`) in Chromium, on the reviews
demo and its simulated provider. Three columns are typed into the Prompt page's table editor cell by
cell, the preview shows the schema that will be sent, a test run fills them, and the XLSX download's
cells have the columns' types (read back with openpyxl). Screenshots go to
artifacts/screenshots/browser_columns-*.png.

    python -m pytest tests/test_browser_columns.py -q -x     # about a minute; needs /usr/bin/chromium
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Locator, expect

from tests.browser import App, Session, Sessions, choose, error_texts, load_app, metric, no_trouble, open_page, run_id_of, settle, shoot, tr, wait_progress

pytestmark = pytest.mark.slow

HEADER_PX = 35  # the data grid's header and rows are this tall
ROW_PX = 35
FIRST_CELL_X = 33 + 20  # past the row markers, inside the first column


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    workdir = tmp_path_factory.mktemp("columns-app")
    a = App(workdir / "data", workdir / "streamlit.log")
    try:
        yield a
    finally:
        a.stop()


class Editor:
    """The Prompt page's columns editor as a user works it. The grid is a canvas (its cells have no
    elements to click), so a cell is chosen by clicking its row's first cell and arrowing right, and
    what it holds is read from the table the grid keeps for screen readers. Every edit is taken in
    by the rerun it causes, after which the editor is drawn again from the session's rows; a step
    whose edit a rerun swallowed (a click landing while the grid is redrawn) is done again."""

    def __init__(self, s: Session) -> None:
        self.s = s

    def grid(self) -> Locator:
        return self.s.page.locator("[class*='st-key-columns_editor_'] [data-testid='stDataFrame']")

    def box(self) -> dict:
        grid = self.grid()
        expect(grid).to_be_visible()
        grid.scroll_into_view_if_needed()
        self.s.page.wait_for_timeout(300)  # the grid's first paint: it takes clicks only once drawn
        box = grid.bounding_box()
        assert box is not None
        return box

    def rows(self) -> list[list[str]]:
        return [r.locator("[role=gridcell]").all_inner_texts() for r in self.grid().locator("tbody [role=row]").all()]

    def cell(self, row: int, column: int) -> str | None:
        rows = self.rows()
        return rows[row][column].strip() if row < len(rows) and column < len(rows[row]) else None

    def click_row(self, row: int) -> None:
        box = self.box()
        self.s.page.mouse.click(box["x"] + FIRST_CELL_X, box["y"] + HEADER_PX + row * ROW_PX + ROW_PX / 2)

    def select(self, row: int, column: int) -> None:
        self.click_row(row)
        for _ in range(column):
            self.s.page.keyboard.press("ArrowRight")

    def step(self, what: str, action: Callable[[], None], done: Callable[[], bool]) -> None:
        for _ in range(3):
            action()
            settle(self.s, what)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # a deadline for failing, never a measure of speed
                if done():
                    return
                self.s.page.wait_for_timeout(100)
            self.s.page.keyboard.press("Escape")
            settle(self.s, what)
        path = shoot(self.s, f"failed-{what.replace(' ', '-')}")
        raise AssertionError(f"{what}: the editor shows {self.rows()} (screenshot {path.name})")

    def text_box(self) -> Locator:
        return self.s.page.locator("textarea.gdg-input")

    def type_text(self, text: str) -> None:
        box = self.text_box().first
        box.fill(text)
        box.press("Enter")

    def add(self, row: int, name: str, kind: str | None = None, *, optional: bool = False, choices: str = "") -> None:
        """One output column typed in: a new row (the grid's empty last row adds one), its name,
        the allowed values, its type (`kind`, picked from the list by its words), the required box.
        The screen readers' table holds the cells' values: "choice", "false"."""
        page = self.s.page

        def name_it() -> None:
            if self.cell(row, 0) is None:  # no such row yet: the empty last row adds it and opens its first cell
                self.click_row(row)
                settle(self.s, f"row for {name}")  # the grid sends the new row at once: type after that rerun
            if not self.text_box().count():
                self.select(row, 0)
                page.keyboard.press("Enter")
            self.type_text(name)

        self.step(f"column {name}", name_it, lambda: self.cell(row, 0) == name)
        if choices:

            def fill_choices() -> None:
                self.select(row, 4)
                page.keyboard.press("Enter")
                self.type_text(choices)

            self.step(f"column {name} choices", fill_choices, lambda: self.cell(row, 4) == choices)
        if kind:
            type_label = tr(f"columns.type.{kind}")

            def pick_type() -> None:
                self.select(row, 1)
                page.keyboard.press("Enter")
                expect(page.get_by_role("option", name=type_label, exact=True)).to_be_visible(timeout=3_000)
                page.keyboard.type(type_label)  # the list narrows to it, as a user typing sees
                expect(page.get_by_role("option")).to_have_count(1)
                page.keyboard.press("Enter")

            self.step(f"column {name} type", pick_type, lambda: self.cell(row, 1) == kind)
        if optional:

            def untick() -> None:
                self.select(row, 3)
                page.keyboard.press(" ")

            self.step(f"column {name} optional", untick, lambda: self.cell(row, 3) == "false")


def test_three_columns_typed_into_the_editor_fill_a_run_of_the_reviews_demo_and_download_as_typed_cells(app: App, sessions: Sessions) -> None:
    s = sessions("typed")
    page = s.page
    load_app(s, app.url)
    choose(page, ".st-key-demo_sheet", tr("demo.sheet.reviews"))
    settle(s, "demo sheet")
    page.locator(".st-key-use_demo button").click()
    settle(s, "reviews demo")
    open_page(s, "prompt")
    page.locator(".st-key-output_mode button", has_text=tr("prompt.mode.columns")).click()
    settle(s, "columns mode")
    editor = Editor(s)
    editor.add(0, "sentiment", "choice", choices="positive, negative, neutral")
    editor.add(1, "rating", "integer", optional=True)
    editor.add(2, "recommend", "boolean")
    assert not error_texts(page), error_texts(page)
    expect(page.locator(".st-key-label_field input")).to_have_value("sentiment")  # the column named like the label is scored

    sent = json.loads(page.locator("[data-testid='stCode'] code", has_text='"response_format"').first.inner_text())
    assert sent["response_format"]["type"] == "json_schema" and sent["response_format"]["json_schema"]["strict"] is True
    assert sent["response_format"]["json_schema"]["schema"]["properties"] == {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "rating": {"type": ["integer", "null"]},
        "recommend": {"type": "boolean"},
    }
    shoot(s, "prompt")

    open_page(s, "run")
    page.locator(".st-key-run_test button").click()
    settle(s, "run test rows")
    run_id = run_id_of(s)
    wait_progress(s, lambda p: p[0] == p[1] and p[2] != "running", 90, "the test rows finish")
    settle(s, "run finished")
    expect(page.locator(".st-key-download_xlsx button")).to_be_visible(timeout=90_000)
    assert (metric(page, tr("run.valid")), metric(page, tr("run.invalid"))) == ("10", "0")
    shoot(s, "run")

    with page.expect_download(timeout=30_000) as info:
        page.locator(".st-key-download_xlsx button").click()
    assert info.value.suggested_filename == f"results-{run_id}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    # The sheet has its own sentiment, rating and recommend (the labels): the answers' columns are named apart.
    assert header[:11] == ["id", "lang", "product", "review", "sentiment", "rating", "date", "recommend", "llm_sentiment", "llm_rating", "llm_recommend"]
    body = [dict(zip(header, row)) for row in rows[1:]]
    assert len(body) == 10
    for cells in body:
        assert cells["llm_sentiment"].data_type == "s" and cells["llm_sentiment"].value in ("positive", "negative", "neutral")
        assert cells["llm_rating"].value is None or (cells["llm_rating"].data_type == "n" and isinstance(cells["llm_rating"].value, int))
        assert cells["llm_recommend"].data_type == "b" and isinstance(cells["llm_recommend"].value, bool)
        assert cells["status"].value == "ok"
        assert cells["correct"].value is (cells["llm_sentiment"].value == cells["sentiment"].value)  # scored as a class
    assert any(c["llm_rating"].data_type == "n" for c in body) and {c["llm_recommend"].value for c in body} == {True, False}
    no_trouble(s, app)
