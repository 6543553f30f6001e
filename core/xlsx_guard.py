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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree import ElementTree

from . import constants as C
from .errors import InputError

__all__ = ["SheetExtent", "sheet_extent", "check_sheet", "column_name"]

_CHUNK = 1 << 20
# The tags that place and fill cells, in document order: a row or cell opening (with its
# attributes, maybe self-closing), a value / inline string / formula, a row or cell closing.
# A cell counts only with one of v, is, f in it: one with none holds a style, and readers skip it.
_TOKEN = re.compile(rb"<(?:\w+:)?(row|c)\b([^>]*?)(/?)>|<(?:\w+:)?(?:v|is|f)\b|</(?:\w+:)?(row|c)>")
_R = re.compile(rb"""\br\s*=\s*["']([^"']*)["']""")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b")
_ROW_R = re.compile(rb"""<(?:\w+:)?row\b[^>]*?\br\s*=\s*["']([0-9]{1,7})["']""")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c\b")
_CELL_REF = re.compile(rb"""<(?:\w+:)?c\b[^>]*?\br\s*=\s*["']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})["']""")


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


def _local(tag: str) -> str:
    """A tag or attribute without its namespace: transitional and strict OOXML name them apart."""
    return tag.rsplit("}", 1)[-1]


def _attr(node: ElementTree.Element, name: str) -> str | None:
    for key, value in node.attrib.items():
        if _local(key) == name:
            return value
    return None


def _sheet_path(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding `sheet`'s cells, from the workbook and its relationships."""
    try:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter() if _local(r.tag) == "Relationship"}
    for node in workbook.iter():
        if _local(node.tag) == "sheet" and node.get("name") == sheet:
            target = targets.get(_attr(node, "id"), "")
            if not target:
                return None
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return None


def _ref(ref: str) -> tuple[int, int] | None:
    """'C12' -> (12, 3)."""
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})", ref.strip())
    if m is None:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + (ord(ch) - 64)
    return int(m.group(2)), col


def _bodies(xml: IO[bytes]) -> Iterator[bytes]:
    """The XML in pieces that end at a tag's end: a tag cut by a chunk's end waits for the next."""
    tail = b""
    while True:
        chunk = xml.read(_CHUNK)
        window = tail + chunk
        cut = window.rfind(b"<") if chunk else -1
        if cut < 0 or window.find(b">", cut) != -1:
            cut = len(window)
        yield window[:cut]
        tail = window[cut:]
        if not chunk:
            return


def _open_sheet(data: bytes, sheet: str) -> tuple[zipfile.ZipFile, zipfile.ZipInfo] | None:
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None
    path = _sheet_path(book, sheet)
    try:
        return (book, book.getinfo(path)) if path is not None else None
    except KeyError:
        return None


def _bound(book: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Rows and columns the sheet spans at most, fast (a few regex counts a megabyte): every
    position written out, plus one for each row or cell that leaves its position implied, and
    style-only cells counted as if they held something."""
    max_row = max_col = implied_rows = implied_cols = 0
    with book.open(info) as xml:
        for body in _bodies(xml):
            rows = _ROW_TAG.findall(body)
            given = [int(r) for r in _ROW_R.findall(body)]
            implied_rows += len(rows) - len(given)
            max_row = max(max_row, *given) if given else max_row
            refs = _CELL_REF.findall(body)
            implied_cols += len(_CELL_TAG.findall(body)) - len(refs)
            if refs:
                letters = max((c for c, _ in refs), key=lambda c: (len(c), c))
                max_col = max(max_col, _ref(letters.decode() + "1")[1])  # type: ignore[index]
                max_row = max(max_row, max(int(r) for _, r in refs))
    return max_row + implied_rows, max_col + implied_cols


def sheet_extent(data: bytes, sheet: str) -> SheetExtent | None:
    """The sheet's real extent, or None when the workbook's layout is not the usual one (the
    reader then decides, as before). One streaming pass over the tags, at most the size the zip
    says: rows and cells may omit their `r` position (it follows from the one before), either
    quote may wrap an attribute, and a cell counts only with a value, inline string or formula."""
    opened = _open_sheet(data, sheet)
    if opened is None:
        return None
    book, info = opened
    with book:
        if info.file_size > C.MAX_SHEET_XML_MB * 1024 * 1024:
            return SheetExtent(0, 0, "", info.file_size)  # too big to read at all: not scanned
        max_row = max_col = row = col = 0
        in_cell = filled = False
        far = ""
        with book.open(info) as xml:  # reads at most file_size bytes, whatever the data inflates to
            for body in _bodies(xml):
                for m in _TOKEN.finditer(body):
                    opening, attrs, closed, closing = m.group(1), m.group(2), m.group(3), m.group(4)
                    if opening == b"row":
                        given = _R.search(attrs)
                        row = int(given.group(1)) if given and given.group(1).isdigit() else row + 1
                        col = 0
                    elif opening == b"c":
                        given = _R.search(attrs)
                        at = _ref(given.group(1).decode("ascii", "replace")) if given else None
                        if at is not None:
                            row, col = at
                        else:
                            col += 1
                        in_cell, filled = not closed, False
                    elif closing == b"c":
                        if in_cell and filled:
                            if row > max_row:
                                max_row, far = row, f"{column_name(col)}{row}"
                            max_col = max(max_col, col)
                        in_cell = False
                    elif closing is None and in_cell:  # <v>, <is> or <f> inside a cell
                        filled = True
    return SheetExtent(max_row, max_col, far, info.file_size)


def _too_far(rows: int, columns: int) -> bool:
    return rows > C.MAX_ROWS + C.MAX_SHEET_SLACK_ROWS or rows * columns > C.MAX_SHEET_CELLS


def check_sheet(data: bytes, sheet: str) -> None:
    """Refuse a sheet that would not fit in memory once read, saying what to do about it. A fast
    bound clears nearly every workbook; only one it does not clear is measured cell by cell."""
    opened = _open_sheet(data, sheet)
    if opened is None:
        return
    book, info = opened
    with book:
        if info.file_size <= C.MAX_SHEET_XML_MB * 1024 * 1024 and not _too_far(*_bound(book, info)):
            return
    extent = sheet_extent(data, sheet)
    if extent is None:
        return
    mb = C.MAX_SHEET_XML_MB
    if extent.xml_bytes > mb * 1024 * 1024:
        raise InputError(
            f"Sheet '{sheet}' unpacks to {extent.xml_bytes / 1024 / 1024:,.0f} MB, more than the limit of {mb:,} MB; "
            "save it as CSV, or split it into smaller files.", "sheet_too_big", sheet=sheet, mb=round(extent.xml_bytes / 1024 / 1024), limit=mb,
        )  # fmt: skip
    if _too_far(extent.rows, extent.columns):
        raise InputError(
            f"Sheet '{sheet}' reaches down to cell {extent.far_cell} and across to column {column_name(extent.columns)}: "
            f"{extent.rows:,} rows x {extent.columns:,} columns, more than can be opened. If your table is smaller, "
            f"a stray value far away is the cause: delete the rows below your table and the columns to its right, then save again.",
            "sheet_too_far", sheet=sheet, cell=extent.far_cell, column=column_name(extent.columns), rows=extent.rows, columns=extent.columns,
        )  # fmt: skip
