"""Results downloads: what users open in Excel, and what programs read back."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from core.errors import InputError
from core.exports import (
    EXPORT_FORMATS,
    XLSX_CREATED,
    XLSX_MAX_CELL_CHARS,
    export_bytes,
    format_for_path,
    neutralize,
    to_csv_bytes,
    to_jsonl_bytes,
    to_xlsx_bytes,
    write_export,
)

FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"]
NUMBERS_AS_TEXT = ["-3", "+1.5", "-1e5"]


def results(n: int = 3) -> pd.DataFrame:
    """A results table as the engine builds it: inputs, outputs, status and error."""
    return pd.DataFrame(
        {
            "客户 名称": [f"客户{i}" for i in range(n)],
            "text": [f'row {i}, with "quotes" and\na newline' for i in range(n)],
            "answer": ["好的" if i % 2 else None for i in range(n)],
            "tokens": list(range(n)),
            "status": ["ok"] * n,
            "error": [None] * n,
        }
    )


def read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def as_excel_shows(value: object) -> object:
    """OOXML writes some control characters as _xHHHH_ escapes; Excel decodes them, openpyxl not."""
    if isinstance(value, str):
        return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)
    return value


def read_xlsx(data: bytes) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [[as_excel_shows(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def read_jsonl(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


# --- neutralize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=x", "'\t=x"),
        ("\r=x", "'\r=x"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("- a markdown bullet", "'- a markdown bullet"),
        ("-", "'-"),
        ("+", "'+"),
        ("-3\n=cmd", "'-3\n=cmd"),
        ("-3", "-3"),
        ("+1.5", "+1.5"),
        ("-0.25", "-0.25"),
        ("-1e5", "-1e5"),
        ("-1,234.5", "-1,234.5"),
        ("-.5", "-.5"),
        ("-12%", "-12%"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        ("客户", "客户"),
        (-3, -3),
        (1.5, 1.5),
        (None, None),
    ],
)
def test_formula_cells_are_neutralized_but_negative_numbers_are_not(value: object, expected: object) -> None:
    assert neutralize(value) == expected


# --- CSV ----------------------------------------------------------------------------------


def test_csv_round_trips_through_pandas_with_chinese_intact() -> None:
    frame = results(5)
    data = to_csv_bytes(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    back = read_csv(data)
    assert list(back.columns) == list(frame.columns)
    assert back["客户 名称"].tolist() == [f"客户{i}" for i in range(5)]
    assert back["text"].tolist() == frame["text"].tolist()
    assert back["answer"].tolist() == ["", "好的", "", "好的", ""]
    assert back["tokens"].tolist() == ["0", "1", "2", "3", "4"]


def test_plain_utf8_csv_has_no_bom_and_excel_line_ends() -> None:
    data = to_csv_bytes(results(2), bom=False)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8").startswith("客户 名称,text,")
    assert data.count(b"\r\n") == 3  # header and two rows; the newline inside a cell is quoted
    assert export_bytes(results(2), "csv-utf8") == data
    assert export_bytes(results(2), "csv") == b"\xef\xbb\xbf" + data


def test_formula_cells_are_neutralized_in_csv_but_numbers_are_not() -> None:
    frame = pd.DataFrame({"output": FORMULAS + NUMBERS_AS_TEXT, "n": range(-4, 5)})
    back = read_csv(to_csv_bytes(frame))
    assert back["output"].tolist() == ["'" + f for f in FORMULAS] + NUMBERS_AS_TEXT
    assert back["n"].tolist() == [str(n) for n in range(-4, 5)]


def test_formula_like_headers_are_neutralized_too() -> None:
    back = read_csv(to_csv_bytes(pd.DataFrame({"=cmd": ["x"]})))
    assert list(back.columns) == ["'=cmd"]


def test_a_40000_character_cell_survives_csv_in_full() -> None:
    long = "长" * 20_000 + "x" * 20_000
    back = read_csv(to_csv_bytes(pd.DataFrame({"answer": [long, "short"]})))
    assert back["answer"].tolist() == [long, "short"]


def test_duplicate_column_names_survive_export() -> None:
    frame = pd.DataFrame([["=in", "out"]], columns=["status", "status"])
    assert to_csv_bytes(frame, bom=False) == b"status,status\r\n'=in,out\r\n"
    assert read_xlsx(to_xlsx_bytes(frame)) == [["status", "status"], ["'=in", "out"]]


# --- Excel --------------------------------------------------------------------------------


def test_xlsx_round_trips_through_openpyxl_with_types_kept() -> None:
    frame = results(4)
    frame["score"] = [0.5, None, -2.25, 3.0]
    rows = read_xlsx(to_xlsx_bytes(frame))
    assert rows[0] == list(frame.columns)
    assert [r[0] for r in rows[1:]] == ["客户0", "客户1", "客户2", "客户3"]
    assert [r[2] for r in rows[1:]] == [None, "好的", None, "好的"]
    assert [r[3] for r in rows[1:]] == [0, 1, 2, 3]
    assert [r[6] for r in rows[1:]] == [0.5, None, -2.25, 3.0]
    assert rows[1][1] == frame["text"][0]


def test_xlsx_keeps_text_that_looks_like_numbers_or_links_as_text() -> None:
    rows = read_xlsx(to_xlsx_bytes(pd.DataFrame({"v": ["00123", "1e5", "http://example.com"]})))
    assert [r[0] for r in rows[1:]] == ["00123", "1e5", "http://example.com"]


def test_formula_cells_are_neutralized_in_xlsx_but_numbers_are_not() -> None:
    frame = pd.DataFrame({"output": FORMULAS + NUMBERS_AS_TEXT + [-7, 2.5]})
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(frame)))
    cells = [row[0] for row in book.active.iter_rows(min_row=2)]
    assert [as_excel_shows(c.value) for c in cells] == ["'" + f for f in FORMULAS] + NUMBERS_AS_TEXT + [-7, 2.5]
    assert all(c.data_type != "f" for c in cells)


def test_a_40000_character_cell_is_truncated_with_a_marker_in_xlsx() -> None:
    long = "长" * 20_000 + "x" * 20_000
    [[_], [cell]] = read_xlsx(to_xlsx_bytes(pd.DataFrame({"answer": [long]})))
    assert isinstance(cell, str)
    assert len(cell) <= XLSX_MAX_CELL_CHARS
    assert cell.startswith("长" * 20_000)
    assert "truncated" in cell and "40,000" in cell


def test_emoji_count_double_toward_the_excel_limit() -> None:
    long = "😀" * 20_000  # 40,000 UTF-16 code units, as Excel counts
    [[_], [cell]] = read_xlsx(to_xlsx_bytes(pd.DataFrame({"answer": [long]})))
    assert len(cell.encode("utf-16-le")) // 2 <= XLSX_MAX_CELL_CHARS
    assert "truncated" in cell


def test_xml_illegal_control_characters_do_not_break_the_xlsx() -> None:
    frame = pd.DataFrame({"answer": ["bell\x07 and null\x00 and tab\tnewline\n", "\x01=1+1"]})
    rows = read_xlsx(to_xlsx_bytes(frame))
    assert rows[1] == ["bell and null and tab\tnewline\n"]
    assert rows[2] == ["'=1+1"]  # the hidden character cannot smuggle a formula past


def test_xlsx_header_is_bold_and_frozen_with_capped_widths() -> None:
    frame = pd.DataFrame({"id": [1], "answer": ["x" * 500], "名称": ["长文本"]})
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(frame, sheet_name="My/Results?"))).active
    assert sheet.title == "My_Results_"
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    widths = {key: dim.width for key, dim in sheet.column_dimensions.items()}
    assert widths["B"] <= 61
    assert 8 <= widths["A"] < widths["B"]


def test_xlsx_is_reproducible_with_no_timestamp_of_when_it_was_made() -> None:
    # The same table must give the same bytes whenever it is exported: nothing in the file may
    # carry the clock (xlsxwriter stamps "now" as the document's creation time unless told).
    data = to_xlsx_bytes(results())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    properties = openpyxl.load_workbook(io.BytesIO(data)).properties
    assert properties.created == properties.modified == XLSX_CREATED.replace(tzinfo=None)
    assert to_xlsx_bytes(results()) == data


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_half_an_emoji_from_a_cut_off_answer_does_not_break_any_format(fmt: str) -> None:
    # object dtype: pandas' own string dtype cannot even hold a lone surrogate.
    frame = pd.DataFrame({"answer": ["cut off \ud83d", "好"]}, dtype=object)
    data = export_bytes(frame, fmt)
    assert "好".encode() in data or fmt == "xlsx"
    if fmt == "xlsx":
        assert read_xlsx(data)[1:] == [["cut off "], ["好"]]


# --- JSON Lines ---------------------------------------------------------------------------


def test_jsonl_keeps_values_raw_with_chinese_and_nulls() -> None:
    frame = results(3)
    frame["output"] = ["=1+1", "-2+3", "@cmd"]
    frame["score"] = [1.5, float("nan"), -3.0]
    data = to_jsonl_bytes(frame)
    assert "客户0".encode() in data  # not \u escapes
    rows = read_jsonl(data)
    assert [r["output"] for r in rows] == ["=1+1", "-2+3", "@cmd"]
    assert [r["score"] for r in rows] == [1.5, None, -3.0]
    assert [r["answer"] for r in rows] == [None, "好的", None]
    assert [r["tokens"] for r in rows] == [0, 1, 2]
    assert rows[0]["error"] is None


# --- All formats --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_every_format_keeps_row_order_count_and_chinese(fmt: str) -> None:
    frame = results(250).sample(frac=1, random_state=7)  # shuffled: order must follow the frame
    data = export_bytes(frame, fmt)
    if fmt == "xlsx":
        names = [r[0] for r in read_xlsx(data)[1:]]
    elif fmt == "jsonl":
        names = [r["客户 名称"] for r in read_jsonl(data)]
    else:
        names = read_csv(data)["客户 名称"].tolist()
    assert names == frame["客户 名称"].tolist()


def test_every_format_has_an_extension_and_mime_type() -> None:
    assert list(EXPORT_FORMATS)[0] == "csv"
    for ext, mime in EXPORT_FORMATS.values():
        assert ext.startswith(".") and "/" in mime


def test_unknown_format_is_an_input_error() -> None:
    with pytest.raises(InputError, match="xlsx"):
        export_bytes(results(), "pdf")


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("out.csv", "csv"),
        ("OUT.CSV", "csv"),
        ("dir/结果.xlsx", "xlsx"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
    ],
)
def test_format_follows_the_file_extension(path: str, fmt: str) -> None:
    assert format_for_path(path) == fmt


@pytest.mark.parametrize("path", ["out.txt", "out.xls", "out", "out.csv.bak"])
def test_other_extensions_say_which_ones_work(path: str) -> None:
    with pytest.raises(InputError, match=r"\.csv.*\.xlsx.*\.jsonl"):
        format_for_path(path)


# --- Saving -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["results.csv", "results.xlsx", "results.jsonl", "结果.csv"])
def test_write_export_writes_the_file_and_leaves_no_temp_files(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    write_export(results(), str(target))
    assert os.listdir(tmp_path) == [name]
    assert target.read_bytes() == export_bytes(results(), format_for_path(name))


def test_write_export_replaces_an_existing_file_and_honours_an_explicit_format(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("old")
    write_export(results(), str(target), fmt="jsonl")
    assert len(read_jsonl(target.read_bytes())) == 3
    assert os.listdir(tmp_path) == ["results.txt"]


def test_a_failed_export_leaves_the_old_file_and_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.csv"
    target.write_bytes(b"previous")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_export(results(), str(target))
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["results.csv"]


def test_write_export_into_a_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_export(results(), str(tmp_path / "nope" / "results.csv"))
