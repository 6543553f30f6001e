"""Output columns in the browser: the real app (`streamlit run app.py`) in Chromium, on the demo and
its simulated provider. Three columns are typed into the Prompt page's table editor cell by cell, the
preview shows the schema that will be sent, a test run fills them, and the XLSX download's cells have
the columns' types (read back with openpyxl). Screenshots go to artifacts/screenshots/columns-*.png.

    python -m pytest tests/test_browser_columns.py -q -x     # about a minute; needs /usr/bin/chromium
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.browser import App, Session, Sessions, error_texts, load_app, metric, no_trouble, open_page, run_id_of, settle, shoot, tr, wait_progress

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
    elements to click), so a cell is chosen by clicking its row's first cell and arrowing right.
    Every edit is taken in by the rerun it causes and the editor is drawn again under the next key
    (`columns_editor_<n>`), which is what each step waits for."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.version = 0

    def box(self) -> dict:
        grid = self.s.page.locator(f".st-key-columns_editor_{self.version} [data-testid='stDataFrame']")
        expect(grid).to_be_visible()
        grid.scroll_into_view_if_needed()
        self.s.page.wait_for_timeout(300)  # the grid's first paint: it takes clicks only once drawn
        box = grid.bounding_box()
        assert box is not None
        return box

    def click_row(self, row: int) -> None:
        box = self.box()
        self.s.page.mouse.click(box["x"] + FIRST_CELL_X, box["y"] + HEADER_PX + row * ROW_PX + ROW_PX / 2)

    def select(self, row: int, column: int) -> None:
        self.click_row(row)
        for _ in range(column):
            self.s.page.keyboard.press("ArrowRight")

    def committed(self, what: str) -> None:
        settle(self.s, what)
        self.version += 1
        try:
            expect(self.s.page.locator(f".st-key-columns_editor_{self.version}")).to_be_attached()
        except AssertionError:
            path = shoot(self.s, f"failed-{what.replace(' ', '-')}")
            raise AssertionError(f"{what}: the edit was not taken in (screenshot {path.name})") from None

    def add(self, row: int, name: str, type_label: str | None = None, *, optional: bool = False, choices: str = "") -> None:
        """One output column typed in: a new row (the grid's empty last row adds one), its name,
        its type from the list, the required box, the allowed values."""
        page = self.s.page
        self.click_row(row)
        self.type_in(name)
        self.committed(f"column {name}")
        if type_label:
            self.select(row, 1)
            page.keyboard.press("Enter")
            page.get_by_role("option", name=type_label, exact=True).click()
            self.committed(f"column {name} type")
        if optional:
            self.select(row, 3)
            page.keyboard.press(" ")
            self.committed(f"column {name} optional")
        if choices:
            self.select(row, 4)
            page.keyboard.press("Enter")  # opens the cell's text box
            self.type_in(choices)
            self.committed(f"column {name} choices")

    def type_in(self, text: str) -> None:
        """Type into the cell's text box once it has the focus, and take it (Enter)."""
        box = self.s.page.locator("textarea.gdg-input")
        expect(box).to_be_focused()
        self.s.page.keyboard.type(text)
        expect(box).to_have_value(text)
        self.s.page.keyboard.press("Enter")


def test_three_columns_typed_into_the_editor_fill_a_run_and_download_as_typed_cells(app: App, sessions: Sessions) -> None:
    s = sessions("typed")
    page = s.page
    load_app(s, app.url)  # the demo table and the simulated provider, as a first visit has them
    open_page(s, "prompt")
    page.locator(".st-key-output_mode button", has_text=tr("prompt.mode.columns")).click()
    settle(s, "columns mode")
    editor = Editor(s)
    editor.add(0, "expression")
    editor.add(1, "infer", tr("columns.type.integer"))
    editor.add(2, "checked", tr("columns.type.boolean"), optional=True)
    assert not error_texts(page), error_texts(page)

    sent = json.loads(page.locator("[data-testid='stCode'] code", has_text='"response_format"').first.inner_text())
    schema = sent["response_format"]["json_schema"]["schema"]
    assert schema["properties"] == {"expression": {"type": "string"}, "infer": {"type": "integer"}, "checked": {"type": ["boolean", "null"]}}
    assert schema["required"] == ["expression", "infer", "checked"] and sent["response_format"]["json_schema"]["strict"] is True
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
    rows = list(sheet.iter_rows(values_only=False))
    header = [c.value for c in rows[0]]
    assert header[:6] == ["id", "question", "answer", "expression", "infer", "checked"]
    body = rows[1:]
    assert len(body) == 10
    for row in body:
        cells = dict(zip(header, row))
        assert cells["expression"].data_type == "s" and cells["expression"].value == cells["question"].value
        assert cells["infer"].data_type == "n" and isinstance(cells["infer"].value, int)  # a number, not the text "42"
        assert cells["checked"].value is None  # optional, and not said
        assert cells["status"].value == "ok"
    right = sum(1 for row in body if dict(zip(header, row))["correct"].value is True)
    assert right == sum(1 for row in body if str(dict(zip(header, row))["infer"].value) == dict(zip(header, row))["answer"].value)
    no_trouble(s, app)
