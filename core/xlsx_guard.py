"""How big an .xlsx sheet really is, found before any cell is read into memory.

A workbook is a zip of XML. A reader builds the sheet as a dense grid from A1 to its farthest
cell, so a 5 KB file with one stray value in XFD1048576 asks for 17 billion cells, and a zip
whose sheet inflates to gigabytes takes them all. Both are refused here, from the zip's own
directory and one streaming pass over the sheet's cell references, with a message that names the
cell to delete.

    sheet_extent(data, "Sheet1")   # SheetExtent(rows=120, columns=6, far_cell="F120", xml_bytes=...)
    check_sheet(data, "Sheet1")    # raises InputError when the sheet is too big to open
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from . import constants as C
from .errors import InputError

__all__ = ["SheetExtent", "sheet_extent", "check_sheet", "column_name"]

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# A cell with a reference and content (a self-closing <c .../> holds only a style, and readers
# skip it). The optional prefix covers writers that spell the namespace out (<x:c>).
_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"[^>]*?(/?)>')
_CHUNK = 1 << 20
_OVERLAP = 256  # a tag cut by a chunk boundary is seen whole in the next chunk


@dataclass(frozen=True)
class SheetExtent:
    rows: int  # the farthest row holding a cell, 1-based (0 for an empty sheet)
    columns: int  # the farthest column, 1-based
    far_cell: str  # the cell farthest down, e.g. "XFD1048576" ("" for an empty sheet)
    xml_bytes: int  # the sheet's XML once unzipped, as the zip says


def column_name(index: int) -> str:
    """1 -> A, 27 -> AA."""
    name = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _column_index(letters: bytes) -> int:
    n = 0
    for b in letters:
        n = n * 26 + (b - 64)
    return n


def _sheet_path(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding `sheet`'s cells, from the workbook and its relationships."""
    try:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_NS_PKG_REL}Relationship")}
    for node in workbook.iter(f"{_NS_MAIN}sheet"):
        if node.get("name") == sheet:
            target = targets.get(node.get(f"{_NS_REL}id"), "")
            if not target:
                return None
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return None


def sheet_extent(data: bytes, sheet: str) -> SheetExtent | None:
    """The sheet's real extent, or None when the workbook's layout is not the usual one (the
    reader then decides, as before)."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None
    with book:
        path = _sheet_path(book, sheet)
        if path is None:
            return None
        try:
            info = book.getinfo(path)
        except KeyError:
            return None
        if info.file_size > C.MAX_SHEET_XML_MB * 1024 * 1024:
            return SheetExtent(0, 0, "", info.file_size)  # too big to read at all: not scanned
        max_row = max_col = 0
        far = ""
        tail = b""
        with book.open(info) as xml:  # reads at most file_size bytes, whatever the data inflates to
            while chunk := xml.read(_CHUNK):
                window = tail + chunk
                for m in _CELL.finditer(window):
                    if m.group(3):  # <c r="..." s="1"/>: a style, no value
                        continue
                    row, col = int(m.group(2)), _column_index(m.group(1))
                    if row > max_row:
                        max_row, far = row, (m.group(1) + m.group(2)).decode()
                    max_col = max(max_col, col)
                tail = window[-_OVERLAP:]
    return SheetExtent(max_row, max_col, far, info.file_size)


def check_sheet(data: bytes, sheet: str) -> None:
    """Refuse a sheet that would not fit in memory once read, saying what to do about it."""
    extent = sheet_extent(data, sheet)
    if extent is None:
        return
    mb = C.MAX_SHEET_XML_MB
    if extent.xml_bytes > mb * 1024 * 1024:
        raise InputError(
            f"Sheet '{sheet}' unpacks to {extent.xml_bytes / 1024 / 1024:,.0f} MB, more than the limit of {mb:,} MB; "
            "save it as CSV, or split it into smaller files.", "sheet_too_big", sheet=sheet, mb=round(extent.xml_bytes / 1024 / 1024), limit=mb,
        )  # fmt: skip
    cells = extent.rows * extent.columns
    if extent.rows > C.MAX_ROWS + C.MAX_SHEET_SLACK_ROWS or cells > C.MAX_SHEET_CELLS:
        raise InputError(
            f"Sheet '{sheet}' reaches down to cell {extent.far_cell} and across to column {column_name(extent.columns)}: "
            f"{extent.rows:,} rows x {extent.columns:,} columns, more than can be opened. If your table is smaller, "
            f"a stray value far away is the cause: delete the rows below your table and the columns to its right, then save again.",
            "sheet_too_far", sheet=sheet, cell=extent.far_cell, column=column_name(extent.columns), rows=extent.rows, columns=extent.columns,
        )  # fmt: skip
