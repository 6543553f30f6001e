"""Uploaded spreadsheets in, tables of exact strings out: CSV/TSV/semicolon/pipe text in the
encodings spreadsheet programs save, or .xlsx, with the fix-ups a user expects and plain errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

import pandas as pd
from python_calamine import CalamineWorkbook, SheetTypeEnum

from . import constants as C
from .encodings import CONTROL, ENCODINGS, NOT_TEXT, decode
from .errors import InputError
from .xlsx_guard import check_sheet

__all__ = ["TableInfo", "LoadedTable", "load_table", "read_table", "list_sheets", "ENCODINGS", "SEPARATORS"]

SEPARATORS: dict[str, str] = {"Comma": ",", "Semicolon": ";", "Tab": "\t", "Pipe": "|"}


@dataclass(frozen=True)
class TableInfo:
    kind: str  # "csv" or "xlsx"
    encoding: str | None  # text files only
    separator: str | None  # text files only
    sheet: str | None  # xlsx only
    sheet_names: tuple[str, ...]  # xlsx only
    n_rows: int
    n_columns: int
    notes: tuple[str, ...]  # plain-English fix-ups applied


@dataclass(frozen=True)
class LoadedTable:
    frame: pd.DataFrame  # every cell a Python str
    info: TableInfo


_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls, and also what Excel wraps password-protected workbooks in
_SAMPLE = 64 * 1024  # enough text to judge encoding and separator without reading 10 MB twice
_SNIFF_RECORDS = 50
_TEXT_EXTS = (".csv", ".tsv", ".tab", ".txt")

_EMPTY = "The file is empty; choose a file with a header row and at least one row of data."
_BAD_XLSX = (
    "This file looks like an Excel workbook but could not be opened (it may be damaged, or another "
    "format such as .xlsb, .ods or .numbers); open it in your spreadsheet program and save it as .xlsx or CSV."
)
_OLD_XLS = "This is an old Excel .xls file or a password-protected workbook, which cannot be read; open it in Excel and save it as .xlsx or CSV."


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --- Text tables ------------------------------------------------------------------------------

# Excel writes `sep=;` as a first line to name the separator; it is not data.
_SEP_LINE = re.compile(r'"?sep=([^"\r\n])"?[ \t]*(?:\r\n|\n|\r|$)', re.IGNORECASE)
_MARKUP = ("<!doctype html", "<html", "<table", "<?xml")


def _sniff_separator(text: str, ext: str) -> str | None:
    """Among , ; TAB |, the one that splits the header and gives the same field count to most records;
    None when none splits the header (a one-column file)."""
    sample = text[:_SAMPLE]
    truncated = len(text) > len(sample)
    order = ["\t", ",", ";", "|"] if ext in (".tsv", ".tab") else [",", ";", "\t", "|"]
    best, best_key = None, -1
    for sep in order:
        counts: list[int] = []
        try:
            for rec in csv.reader(io.StringIO(sample, newline=""), delimiter=sep):
                if rec:
                    counts.append(len(rec))
                if len(counts) > _SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if truncated and len(counts) <= _SNIFF_RECORDS:
            counts = counts[:-1]  # the last record may be cut off by the sample's end
        if not counts or counts[0] < 2:
            continue  # a real multi-column file has the separator in its header
        mode, hits = Counter(counts).most_common(1)[0]
        key = round(10 * hits / len(counts)) if mode >= 2 else -1
        if key > best_key:  # strictly greater: near-ties go to the earlier, preferred separator
            best, best_key = sep, key
    return best


def _text_records(text: str, sep: str) -> Iterator[tuple[int, list[str]]]:
    # The csv module's default field limit (131,072) would fail before our friendlier cell check;
    # raising it is process-wide but only ever permits more.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    row_no, last = 0, None
    try:
        for row_no, rec in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=sep), 1):
            last = rec
            yield row_no, rec
    except csv.Error as exc:
        raise InputError(
            f"The file could not be read as a table near row {row_no + 1} ({exc}); save it again from your spreadsheet program.",
            "unreadable_csv",
            row=row_no + 1,
        ) from None
    if last and ("\n" in last[-1] or "\r" in last[-1]) and not text[-64:].rstrip().endswith('"'):
        # A quoted cell ends with a quote; running into the end of the file means it was never closed.
        raise InputError(
            f'A quote mark (") in row {row_no} is never closed, so the rest of the file was read as '
            "one cell; fix that quote or save the file again from your spreadsheet program.",
            "open_quote",
            row=row_no,
        )


def _load_text(data: bytes, ext: str, encoding: str | None, separator: str | None) -> LoadedTable:
    notes: list[str] = []
    if separator is not None and (len(separator) != 1 or separator in '"\r\n'):
        raise InputError("The separator must be a single character such as , ; | or a tab.")
    if ext in (".xlsx", ".xlsm", ".xls"):
        notes.append(f"The file is named {ext} but contains plain text, so it was read as CSV.")
    text, used = decode(data, encoding, notes)
    text = text.removeprefix("\ufeff")  # a BOM left by an encoding override is not part of the header
    if not text:
        raise InputError(_EMPTY, "empty")
    if not text.strip():
        raise InputError("The file contains only blank lines or spaces; choose a file with a header row and data.", "empty")
    head = text[:_SAMPLE]
    if len(CONTROL.findall(head)) > len(head) // 100 + 1:
        if encoding:  # e.g. UTF-16 forced to utf-8: the bytes decode, but into control characters
            raise InputError(f"The file does not read as text in {encoding}; choose another encoding or let it be detected.", "bad_encoding", encoding=encoding)
        raise InputError(NOT_TEXT, "not_text")
    if head.lstrip()[:20].lower().startswith(_MARKUP):
        raise InputError("This file is a web page or XML document, not a table; open it in your spreadsheet program and save it as .xlsx or CSV.", "web_page")
    hint = _SEP_LINE.match(text)
    if hint:
        text = text[hint.end() :]
    sep = separator or (hint.group(1) if hint else None) or _sniff_separator(text, ext)
    # A one-column file is read whole (quotes still respected): a comma inside one answer must not
    # split it into a new column. It is reported as comma-separated, the usual name for it.
    records = _text_records(text, sep or "\x1f")
    names, rows = _assemble(records, "The file", notes, note_short_rows=True)
    return _finish(names, rows, TableInfo("csv", used, sep or ",", None, (), 0, 0, ()), notes)


# --- XLSX ---------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # as Excel shows it: 15 significant digits, never scientific notation
        text = f"{value + 0.0:.15g}"  # + 0.0 turns -0.0 into 0
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, dt.datetime):  # before date: datetime is a date
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.timedelta):  # durations formatted [h]:mm:ss
        seconds = round(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)


def _open_workbook(data: bytes) -> CalamineWorkbook:
    # calamine (Rust) reads a 100,000-row sheet about seven times faster than openpyxl.
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # damaged zips and XML raise calamine's own errors alike
        raise InputError(_BAD_XLSX, "bad_xlsx") from exc


def _worksheet_names(wb: CalamineWorkbook) -> tuple[list[str], list[str]]:
    """(sheets with cells, every sheet): chart sheets have no cells."""
    every = [m.name for m in wb.sheets_metadata]
    cells = [m.name for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    return cells, every


def _load_xlsx(data: bytes, ext: str, sheet: str | None) -> LoadedTable:
    notes: list[str] = []
    wb = _open_workbook(data)
    try:
        names, every = _worksheet_names(wb)
        if not names:
            raise InputError("The workbook has no sheets with cells; add a sheet with a header row and data.", "no_sheets")
        if sheet is None:
            sheet = names[0]
        elif sheet not in names:
            what = "is a chart, not a table" if sheet in every else "does not exist"
            raise InputError(f"Sheet '{sheet}' {what}; choose one of: {_listing(names, 50)}.", "bad_sheet", sheet=sheet, names=_listing(names, 50))
        if ext in _TEXT_EXTS:
            notes.append(f"The file is named {ext} but is an Excel workbook, so it was read as one.")
        check_sheet(data, sheet)  # before the reader builds its grid
        # From A1, like Excel shows it: leading empty rows and columns stay where they are.
        cells = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        records = ((n, [_cell_text(v) for v in row]) for n, row in enumerate(cells, 1))
        header, rows = _assemble(records, f"Sheet '{sheet}'", notes, note_short_rows=False)
    except InputError:
        raise
    except Exception as exc:  # a damaged sheet only shows up while its rows are read
        raise InputError(_BAD_XLSX, "bad_xlsx") from exc
    finally:
        wb.close()
    return _finish(header, rows, TableInfo("xlsx", None, None, sheet, tuple(names), 0, 0, ()), notes)


# --- Shared fix-ups -------------------------------------------------------------------------------

_TRIM = re.compile(r"^[\s\ufeff]+|[\s\ufeff]+$")


def _blank(rec: list[str]) -> bool:
    return not "".join(rec).strip()


def _check_cells(rec: list[str], row_no: int, header: list[str]) -> None:
    if rec and max(map(len, rec)) > C.MAX_CELL_CHARS:
        j = next(i for i, cell in enumerate(rec) if len(cell) > C.MAX_CELL_CHARS)
        name = _TRIM.sub("", header[j]) if j < len(header) else ""
        column = name or f"Column {j + 1}"
        raise InputError(
            f"The cell in row {row_no}, column '{column}' has {len(rec[j]):,} characters, more than the "
            f"limit of {C.MAX_CELL_CHARS:,}; shorten it and upload again.",
            "cell_too_long",
            row=row_no,
            column=column,
            chars=len(rec[j]),
            limit=C.MAX_CELL_CHARS,
        )


def _assemble(records: Iterable[tuple[int, list[str]]], what: str, notes: list[str], *, note_short_rows: bool) -> tuple[list[str], list[list[str]]]:
    """Header and data rows from raw records: empty rows dropped, edges trimmed, rows made even."""
    it = iter(records)
    header: list[str] | None = None
    skipped = 0
    for row_no, rec in it:
        _check_cells(rec, row_no, rec)
        if not _blank(rec):
            header = rec
            break
        skipped += 1
    if header is None:
        raise InputError(f"{what} has no cells with content; choose one with a header row and data.", "empty")
    rows: list[list[str]] = []
    n_data = pending = middle = 0
    for row_no, rec in it:
        _check_cells(rec, row_no, header)
        if _blank(rec):
            pending += 1
            continue
        middle, pending = middle + pending, 0
        n_data += 1
        if n_data <= C.MAX_ROWS:  # keep counting past the limit so the message can say how many
            rows.append(rec)
    if n_data == 0:
        raise InputError(f"{what} has column names but no rows of data; add at least one row under the header.", "header_only")
    if n_data > C.MAX_ROWS:
        raise InputError(
            f"{what} has {n_data:,} rows of data, more than the limit of {C.MAX_ROWS:,}; split it into smaller files.",
            "too_many_rows",
            rows=n_data,
            limit=C.MAX_ROWS,
        )
    for count, where in ((skipped, "above the column names"), (middle, "in the middle of the table"), (pending, "at the end")):
        if count:
            notes.append(f"Dropped {_plural(count, 'empty row')} {where}.")

    # Columns with nothing in them at either edge are Excel leftovers (formatting, stray commas).
    width, lo, hi = 0, len(header), 0
    for rec in (header, *rows):
        n = len(rec)
        width = max(width, n)
        first, last = 0, n
        while not rec[first].strip():
            first += 1
        while not rec[last - 1].strip():
            last -= 1
        lo, hi = min(lo, first), max(hi, last)
    if lo:
        notes.append(f"Dropped {_plural(lo, 'empty column')} at the left.")
    if width > hi:
        notes.append(f"Dropped {_plural(width - hi, 'empty column')} at the right.")

    names = _column_names(header, lo, hi, notes)
    n_named = min(len(header), hi) - lo
    short = 0
    for i, rec in enumerate(rows):
        if lo or len(rec) != hi:
            rec = rec[lo:hi]
            if len(rec) < hi - lo:
                if len(rec) < n_named:
                    short += 1
                rec.extend([""] * (hi - lo - len(rec)))
            rows[i] = rec
    if short and note_short_rows:
        notes.append(f"Filled {_plural(short, 'short row')} with empty cells (they had fewer cells than the header).")
    return names, rows


def _column_names(header: list[str], lo: int, hi: int, notes: list[str]) -> list[str]:
    names: list[str] = []
    trimmed: list[str] = []
    blank: list[str] = []
    extra: list[str] = []
    for j in range(lo, hi):
        fallback = f"Column {j - lo + 1}"
        if j >= len(header):
            names.append(fallback)
            extra.append(fallback)
            continue
        name = _TRIM.sub("", header[j])
        if not name:
            blank.append(fallback)
        elif name != header[j]:
            trimmed.append(name)
        names.append(name or fallback)
    if trimmed:
        notes.append(f"Removed spaces around {_plural(len(trimmed), 'column name')}: {_listing(trimmed)}.")
    if blank:
        notes.append(f"Named {_plural(len(blank), 'column')} that had no name: {_listing(blank)}.")
    if extra:
        notes.append(f"Some rows have more cells than there are column names; their extra cells are in {_plural(len(extra), 'new column')}: {_listing(extra)}.")
    taken: set[str] = set()
    everywhere = set(names)
    renames: list[str] = []
    for j, name in enumerate(names):
        if name in taken:
            k = 2
            while f"{name} ({k})" in taken or f"{name} ({k})" in everywhere:
                k += 1
            names[j] = f"{name} ({k})"
            renames.append(f"Renamed duplicate column '{name}' to '{names[j]}'.")
        taken.add(names[j])
    notes.extend(renames[:5])
    if len(renames) > 5:
        notes.append(f"Renamed {_plural(len(renames) - 5, 'more duplicate column')} the same way.")
    return names


def _finish(names: list[str], rows: list[list[str]], info: TableInfo, notes: list[str]) -> LoadedTable:
    frame = pd.DataFrame(rows, columns=pd.Index(names, dtype=object), dtype=object)
    return LoadedTable(frame, replace(info, n_rows=len(frame), n_columns=len(names), notes=tuple(notes)))


# --- Public -----------------------------------------------------------------------------------


def _ext(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 else ""


def load_table(data: bytes, filename: str, sheet: str | None = None, *, encoding: str | None = None, separator: str | None = None) -> LoadedTable:
    """Read an upload by its content (the name only breaks ties): .xlsx, or delimited text.

    `encoding`/`separator` override detection for text files and are ignored for workbooks;
    `sheet` is ignored for text files."""
    data = bytes(data)
    if not data:
        raise InputError(_EMPTY, "empty")
    if data.startswith(_OLE_MAGIC):
        raise InputError(_OLD_XLS, "old_xls")
    if data.startswith(_XLSX_MAGIC):
        return _load_xlsx(data, _ext(filename), sheet)
    return _load_text(data, _ext(filename), encoding, separator)


def read_table(data: bytes, filename: str, sheet: str | None = None) -> pd.DataFrame:
    return load_table(data, filename, sheet).frame


def list_sheets(data: bytes) -> list[str]:
    """Names of the sheets with cells in an .xlsx workbook (chart sheets left out)."""
    data = bytes(data)
    if data.startswith(_OLE_MAGIC):
        raise InputError(_OLD_XLS, "old_xls")
    if not data.startswith(_XLSX_MAGIC):
        raise InputError("Only Excel .xlsx workbooks have sheets, and this file is not one.")
    wb = _open_workbook(data)
    try:
        return _worksheet_names(wb)[0]
    finally:
        wb.close()
