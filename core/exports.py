"""Results downloads: the results table as CSV, Excel or JSON Lines bytes, and atomic saving.

Spreadsheet formats are made safe to open (OWASP CSV injection: a cell that starts like a
formula gets a leading apostrophe) and safe for Excel's limits. JSON Lines is data for
programs, so it keeps every value exactly as it is.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas

if TYPE_CHECKING:
    from xlsxwriter.worksheet import Worksheet

from .errors import InputError

__all__ = [
    "EXPORT_FORMATS",
    "neutralize",
    "to_csv_bytes",
    "to_xlsx_bytes",
    "to_xlsx_book_bytes",
    "to_jsonl_bytes",
    "export_bytes",
    "export_file_name",
    "format_for_path",
    "write_export",
    "write_bytes",
]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Format id -> (file extension, MIME type). The first one is the default: UTF-8 with a BOM is
# the only CSV that Excel opens with Chinese text intact on a double click.
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": (".csv", "text/csv"),
    "csv-utf8": (".csv", "text/csv"),
    "xlsx": (".xlsx", XLSX_MIME),
    "jsonl": (".jsonl", "application/jsonl"),
}

_EXTENSIONS = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# --- Formula neutralizing -----------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number, as a spreadsheet reads it: sign, digits (maybe with thousands separators),
# decimals, exponent, percent. These are safe and must stay numbers ("-3" is not an attack).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?%?")


def neutralize(value: object) -> object:
    """Prefix "'" to a text cell that a spreadsheet would run as a formula; others unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if _PLAIN_NUMBER.fullmatch(value) and any(ch.isdigit() for ch in value):
            return value
        return "'" + value
    return value


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return pandas.api.types.is_scalar(value) and bool(pandas.isna(value))


def _rows(frame: pandas.DataFrame) -> Iterator[tuple[object, ...]]:
    # Plain tuples of Python scalars, and positional, so duplicate column names are harmless.
    return frame.itertuples(index=False, name=None)


def _csv_cell(value: object) -> object:
    if isinstance(value, str):
        return neutralize(value)
    return "" if _is_missing(value) else value


def to_csv_bytes(frame: pandas.DataFrame, *, bom: bool = True) -> bytes:
    """CSV with CRLF line ends (what Excel writes), "" for missing cells, quotes as needed."""
    # The csv module rather than DataFrame.to_csv: it writes cells as they are, where pandas
    # would re-infer a string dtype for the neutralized column (and choke on odd text).
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralize(str(c)) for c in frame.columns])
    writer.writerows([_csv_cell(v) for v in values] for values in _rows(frame))
    # "replace": a lone surrogate (half an emoji from a cut-off answer) cannot be UTF-8.
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8", errors="replace")


# --- Excel --------------------------------------------------------------------------------

XLSX_MAX_CELL_CHARS = 32_767  # Excel's limit, counted in UTF-16 code units
XLSX_MAX_ROWS = 1_048_576
_TRUNCATED = "… [truncated by Excel's cell limit: {n:,} characters in total; the CSV and JSONL downloads have it all]"
# XML 1.0 forbids control characters other than tab, newline and carriage return, lone
# surrogates (half an emoji from a cut-off answer) and two non-characters; they are dropped
# rather than escaped, since Excel has nothing sensible to show for them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_MIN_WIDTH, _MAX_WIDTH, _WIDTH_SAMPLE_ROWS = 8, 60, 500
# Excel shows integers up to 15 digits exactly; longer ones (ID numbers) would be rounded.
_MAX_EXACT_INT = 10**15
# The workbook's "created" and "modified" properties. xlsxwriter stamps the current time
# otherwise, so the same table gave different bytes a second later (a download's checksum
# changed, a test comparing two exports flaked). A fixed stamp makes exports reproducible;
# it is the date xlsxwriter already gives every file inside the zip.
XLSX_CREATED = datetime(1980, 1, 1, tzinfo=UTC)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_utf16(text: str, units: int) -> str:
    """The longest prefix of text that fits in `units` UTF-16 code units."""
    # errors="ignore" drops half of a surrogate pair cut at the boundary.
    return text.encode("utf-16-le")[: units * 2].decode("utf-16-le", errors="ignore")


def _xlsx_text(value: str) -> str:
    text = neutralize(_XML_ILLEGAL.sub("", value))
    assert isinstance(text, str)
    # Fast path: a string this short cannot exceed the limit even in UTF-16.
    if len(text) * 2 <= XLSX_MAX_CELL_CHARS or _utf16_len(text) <= XLSX_MAX_CELL_CHARS:
        return text
    marker = _TRUNCATED.format(n=len(text))
    return _cut_utf16(text, XLSX_MAX_CELL_CHARS - _utf16_len(marker)) + marker


def _display_width(value: object) -> int:
    """Width in Excel character columns of a cell's longest line (CJK counts double)."""
    text = value if isinstance(value, str) else str(value)
    line = max(text[:200].splitlines() or [""], key=len)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _sheet_title(name: str) -> str:
    title = _BAD_SHEET_CHARS.sub("_", name).strip("'")[:31]
    return title or "Results"


def _write_cell(sheet: Worksheet, row: int, col: int, value: object) -> object:
    """Write one cell as what it is (text stays text); returns what was written, or None."""
    if isinstance(value, str):  # most cells, so checked first: this is the export's hot loop
        text = _xlsx_text(value)
        sheet.write_string(row, col, text)
        return text
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, numbers.Integral) and abs(int(value)) < _MAX_EXACT_INT:
        sheet.write_number(row, col, int(value))
    elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and math.isfinite(value):
        sheet.write_number(row, col, float(value))
    else:  # long integers, infinities and anything else: as text, exactly as Python prints it
        text = _xlsx_text(str(value))
        sheet.write_string(row, col, text)
        return text
    return value


def to_xlsx_bytes(frame: pandas.DataFrame, sheet_name: str = "Results") -> bytes:
    """One sheet; text stays text, numbers stay numbers, header bold and frozen. The same table
    always gives the same bytes."""
    return to_xlsx_book_bytes([(sheet_name, frame)])


def to_xlsx_book_bytes(sheets: Sequence[tuple[str, pandas.DataFrame]]) -> bytes:
    """One workbook with a sheet per (name, table), in order, each written as `to_xlsx_bytes`
    writes its one."""
    for _, frame in sheets:
        if len(frame) + 1 > XLSX_MAX_ROWS:
            raise InputError(f"Excel holds at most {XLSX_MAX_ROWS - 1:,} rows; download CSV or JSONL instead.", "xlsx_too_many", limit=XLSX_MAX_ROWS - 1)
    buffer = io.BytesIO()
    options = {
        "in_memory": True,
        # Never reinterpret text: "00123" stays "00123", "=1+1" stays text, "http://…" no link.
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    import xlsxwriter  # only XLSX needs it: 25 ms of every command line's start-up otherwise

    with xlsxwriter.Workbook(buffer, options) as book:
        book.set_properties({"created": XLSX_CREATED})
        bold = book.add_format({"bold": True})
        for sheet_name, frame in sheets:
            _write_sheet(book.add_worksheet(_sheet_title(sheet_name)), frame, bold)
    return buffer.getvalue()


def _write_sheet(sheet: Worksheet, frame: pandas.DataFrame, bold: object) -> None:
    headers = [_xlsx_text(str(c)) for c in frame.columns]
    widths = [_display_width(h) for h in headers]
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, bold)
    for r, values in enumerate(_rows(frame), start=1):
        for col, value in enumerate(values):
            written = _write_cell(sheet, r, col, value)
            if r <= _WIDTH_SAMPLE_ROWS and written is not None:
                widths[col] = max(widths[col], _display_width(written))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))
    sheet.freeze_panes(1, 0)


# --- JSON Lines ---------------------------------------------------------------------------


def _json_value(value: object) -> object:
    if isinstance(value, str):
        return value
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None  # JSON has no NaN or Infinity
    return str(value)


def to_jsonl_bytes(frame: pandas.DataFrame) -> bytes:
    """One JSON object per row, UTF-8, values as they are (not neutralized), null for missing."""
    columns = [str(c) for c in frame.columns]
    lines = (json.dumps(dict(zip(columns, map(_json_value, values))), ensure_ascii=False, allow_nan=False) + "\n" for values in _rows(frame))
    return "".join(lines).encode("utf-8", errors="replace")  # lone surrogates, as in CSV


# --- Dispatch and saving ------------------------------------------------------------------

_WRITERS: dict[str, Callable[[pandas.DataFrame], bytes]] = {
    "csv": lambda frame: to_csv_bytes(frame, bom=True),
    "csv-utf8": lambda frame: to_csv_bytes(frame, bom=False),
    "xlsx": to_xlsx_bytes,
    "jsonl": to_jsonl_bytes,
}


def export_bytes(frame: pandas.DataFrame, fmt: str) -> bytes:
    writer = _WRITERS.get(fmt)
    if writer is None:
        known = ", ".join(EXPORT_FORMATS)
        raise InputError(f"Unknown download format {fmt!r}: choose one of {known}.")
    return writer(frame)


def export_file_name(run_id: str, fmt: str) -> str:
    """A download's file name: one per format, so the two CSVs do not overwrite each other."""
    ext, _ = EXPORT_FORMATS[fmt]
    suffix = "-utf8" if fmt == "csv-utf8" else ""
    return f"results-{run_id}{suffix}{ext}"


def format_for_path(path: str) -> str:
    """The export format a file name asks for, from its extension."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in _EXTENSIONS:
        known = ", ".join(_EXTENSIONS)
        raise InputError(f"Cannot save results as {os.path.basename(path)!r}: use a file name ending in {known}.")
    return _EXTENSIONS[ext]


def write_export(frame: pandas.DataFrame, path: str, fmt: str | None = None) -> None:
    """Save the results to `path`, atomically: a temporary file in the same folder replaces the
    target only once it is complete, so a crash never leaves half a file."""
    write_bytes(export_bytes(frame, fmt or format_for_path(path)), path)  # made before touching the disk


def write_bytes(data: bytes, path: str) -> None:
    """Save a download's bytes to `path`, atomically (see `write_export`)."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise InputError(f"Cannot save results: the folder {folder!r} does not exist.")
    try:
        mode = os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0600 would hide the results from other users of the machine
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
