"""Hostile and odd workbooks: a stray far cell or a sheet that unzips to gigabytes is refused
before any cell is read, with the cell to delete named; ordinary workbooks open as before."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable

import openpyxl
import pytest
import xlsxwriter

from core import constants as C
from core.errors import InputError
from core.tables import load_table
from core.xlsx_guard import column_name, sheet_extent
from tests.conftest import ROOT


def far_cell_workbook() -> bytes:
    """A small table, and one stray value in the very last cell Excel has."""
    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf) as book:
        sheet = book.add_worksheet("Data")
        sheet.write_row(0, 0, ["question", "answer"])
        sheet.write_row(1, 0, ["1 + 1", "2"])
        sheet.write(1_048_575, 16_383, "oops")
    return buf.getvalue()


def test_column_names_are_excels():
    assert [column_name(i) for i in (1, 26, 27, 52, 703, 16_384)] == ["A", "Z", "AA", "AZ", "AAA", "XFD"]


def test_a_5_kb_workbook_with_a_stray_far_cell_is_refused_naming_the_cell():
    data = far_cell_workbook()
    assert len(data) < 10_000
    extent = sheet_extent(data, "Data")
    assert extent is not None and (extent.rows, extent.columns, extent.far_cell) == (1_048_576, 16_384, "XFD1048576")
    with pytest.raises(InputError) as caught:
        load_table(data, "stray.xlsx")
    assert caught.value.code == "sheet_too_far"
    assert "XFD1048576" in str(caught.value) and "delete the rows below your table" in str(caught.value)


def test_refusing_it_takes_no_memory_to_speak_of(tmp_path):
    # Measured in a child process of its own, by the kernel (the reader's memory is not Python's).
    path = tmp_path / "stray.xlsx"
    path.write_bytes(far_cell_workbook())
    code = (
        "import sys, resource; from core.tables import load_table; from core.errors import InputError\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    load_table(open(sys.argv[1], 'rb').read(), 'stray.xlsx')\nexcept InputError as exc:\n    print(exc.code)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    refused, grew_mb = out.stdout.split()
    assert refused == "sheet_too_far"
    assert int(grew_mb) < 50, f"opening a 5 KB file grew the process by {grew_mb} MB"


def test_a_sheet_that_unzips_beyond_the_limit_is_refused_before_it_is_read(monkeypatch):
    # A two-row sheet padded out: 3 MB of XML that zips to a few KB.
    bomb = rewrite_sheet(lambda body: body.replace(b"<sheetData>", b"<sheetData>" + b" " * 3_000_000), [["question", "answer"], ["1 + 1", "2"]])
    assert len(bomb) < 50_000
    monkeypatch.setattr(C, "MAX_SHEET_XML_MB", 2)
    with pytest.raises(InputError) as caught:
        load_table(bomb, "bomb.xlsx")
    assert caught.value.code == "sheet_too_big" and "unpacks to 3 MB" in str(caught.value)
    monkeypatch.setattr(C, "MAX_SHEET_XML_MB", 8)  # within the limit, the same file opens
    assert list(load_table(bomb, "bomb.xlsx").frame["answer"]) == ["2"]


@pytest.mark.parametrize("writer", ["openpyxl", "xlsxwriter"])
def test_ordinary_workbooks_measure_what_they_hold_and_open(writer):
    buf = io.BytesIO()
    rows = [["id", "text", "n"], *[[str(i), f"row {i}", i] for i in range(1, 301)]]
    if writer == "openpyxl":
        wb = openpyxl.Workbook()
        wb.active.title = "Second"
        wb.create_sheet("Data")
        for r in rows:
            wb["Data"].append(r)
        wb.save(buf)
    else:
        with xlsxwriter.Workbook(buf) as book:
            book.add_worksheet("Second")
            sheet = book.add_worksheet("Data")
            for i, r in enumerate(rows):
                sheet.write_row(i, 0, r)
                sheet.write_blank(i, 5, None, book.add_format({"bold": True}))  # a styled, empty cell: not content
    data = buf.getvalue()
    extent = sheet_extent(data, "Data")
    assert extent is not None and (extent.rows, extent.columns, extent.far_cell) == (301, 3, "A301")  # the first cell of the last row
    table = load_table(data, "book.xlsx", "Data")
    assert table.frame.shape == (300, 3)


def rewrite_sheet(rewrite: Callable[[bytes], bytes], rows: list[list[str]]) -> bytes:
    """An openpyxl workbook of `rows` on a sheet "Data", its sheet's XML passed through `rewrite`
    in the zip, as another spreadsheet program (or a hostile file) may have written it."""
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    src, out = zipfile.ZipFile(io.BytesIO(buf.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = rewrite(body)
            dst.writestr(item.filename, body)
    return out.getvalue()


def with_sheet_xml(sheet_data: str, namespace: str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main") -> bytes:
    """A workbook whose sheet holds exactly `sheet_data`, in the given namespace."""
    xml = f'<?xml version="1.0"?><worksheet xmlns="{namespace}"><sheetData>{sheet_data}</sheetData></worksheet>'.encode()
    return rewrite_sheet(lambda _: xml, [["question"]])


@pytest.mark.parametrize(
    ("sheet_data", "extent"),
    [
        pytest.param(
            '<row r="1"><c r="A1" t="inlineStr"><is><t>q</t></is></c></row><row r="300000"><c t="inlineStr"><is><t>x</t></is></c></row>',
            (300_000, 1),
            id="cells-without-r",
        ),
        pytest.param("<row r='1'><c r='A1'><v>1</v></c></row><row r='250000'><c r='C250000'><v>2</v></c></row>", (250_000, 3), id="single-quotes"),
        pytest.param('<row r="1"><c r="A1"><v>1</v></c></row><row r="300000"><c r="C300000" s="1"></c></row>', (1, 1), id="empty-styled-cell"),
        pytest.param("<row><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row>", (2, 2), id="no-positions-at-all"),
    ],
)
def test_the_extent_follows_the_cells_as_readers_place_them(sheet_data, extent):
    found = sheet_extent(with_sheet_xml(sheet_data), "Data")
    assert found is not None and (found.rows, found.columns) == extent


def test_a_strict_ooxml_sheet_is_measured_too():
    strict = "http://purl.oclc.org/ooxml/spreadsheetml/main"
    data = with_sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row><row r="900000"><c r="B900000"><v>2</v></c></row>', strict)
    found = sheet_extent(data, "Data")
    assert found is not None and (found.rows, found.columns) == (900_000, 2)
    with pytest.raises(InputError) as caught:
        load_table(data, "strict.xlsx")
    assert caught.value.code == "sheet_too_far"


def test_a_far_cell_holding_only_a_style_does_not_refuse_the_sheet():
    # The fast bound counts it; the cell-by-cell measure, as the reader, does not.
    data = with_sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>question</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>1 + 1</t></is></c></row>'
        '<row r="300000"><c r="C300000" s="1"></c></row>'
    )
    assert list(load_table(data, "styled.xlsx").frame["question"]) == ["1 + 1"]
