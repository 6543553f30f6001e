"""Reading a model's loosely written value as what a column asks for: a number, a whole number,
yes/no or a date. Only readings that cannot be wrong are made ("1,234.5" is 1234.5, "Yes." and
"是" are yes, "5 March 2024" is 2024-03-05); anything that could mean two things ("03/05/2024",
"1,5") is refused with the reason, and the row is asked again rather than guessed.

    read_number(" 1,234.5 ")      # 1234.5
    read_integer("12.0")           # 12
    read_boolean("是的")            # True
    read_date("2024年3月5日")        # "2024-03-05"
    read_date("03/05/2024")        # raises Unreadable("ambiguous", ...)
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

__all__ = ["Unreadable", "normalize", "read_number", "read_integer", "read_boolean", "read_date", "BOOLEAN_WORDS"]


class Unreadable(ValueError):
    """The value cannot be read as asked. `kind` says why ("number", "integer", "boolean",
    "date", "ambiguous_date", "not_a_date"); `options` are the readings of an ambiguous date."""

    def __init__(self, kind: str, options: tuple[str, ...] = ()) -> None:
        super().__init__(kind)
        self.kind = kind
        self.options = options


# Quotes, stars (Markdown bold) and sentence punctuation around a value are not part of it.
EDGE = " \t\r\n.,;:!?\"'`*()[]{}<>。，；：！？“”‘’（）【】「」"


def normalize(text: str) -> str:
    """Full-width forms as plain ones (１２ is 12, ＹＥＳ is YES), edges trimmed."""
    return unicodedata.normalize("NFKC", text).strip().strip(EDGE).strip()


# A plain number: thousands grouped by commas (or spaces) in threes, or no grouping at all.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:[, \u00a0\u202f]\d{3})+(?:\.\d+)?")
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def read_number(value: object) -> int | float:
    """A JSON number as it is; text that is one number ("12", "-3.5", "1,234.5", "1e3")."""
    if isinstance(value, bool):
        raise Unreadable("number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unreadable("number")
        return value
    if not isinstance(value, str):
        raise Unreadable("number")
    # Only the edges' quotes and spaces: a trailing "." or "%" changes what the text says.
    text = unicodedata.normalize("NFKC", value).strip().strip("\"'`*").strip().replace("\u2212", "-")
    if _GROUPED.fullmatch(text):
        text = re.sub(r"[, \u00a0\u202f]", "", text)
    elif not _PLAIN.fullmatch(text):
        raise Unreadable("number")
    number = float(text)
    if not math.isfinite(number):
        raise Unreadable("number")
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return number


def read_integer(value: object) -> int:
    """A whole number: 12, 12.0, "12", "1,200"; 12.5 is not one."""
    try:
        number = read_number(value)
    except Unreadable:
        raise Unreadable("integer") from None
    if isinstance(number, float):
        if not number.is_integer():
            raise Unreadable("integer")
        return int(number)
    return number


BOOLEAN_WORDS: dict[bool, tuple[str, ...]] = {
    True: ("yes", "y", "true", "t", "1", "是", "是的", "对", "对的", "真", "有", "正确", "确定", "✓", "✔"),
    False: ("no", "n", "false", "f", "0", "否", "不是", "不", "不对", "假", "没有", "无", "错误", "不正确", "✗", "✘"),
}
_BOOLEANS = {word: flag for flag, words in BOOLEAN_WORDS.items() for word in words}


def read_boolean(value: object) -> bool:
    """true/false, 1/0, or a yes/no word in English or Chinese ("Yes.", "TRUE", "是", "否")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = normalize(value).casefold()
        if word in _BOOLEANS:
            return _BOOLEANS[word]
    raise Unreadable("boolean")


_MONTHS = {
    name: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"), ("july", "jul"),
         ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}  # fmt: skip
# Matched against casefolded text: "T" and "Z" of an ISO time are "t" and "z" here.
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?")
_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_CJK = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")  # 05.03.2024: day first, wherever dots are used
_SLASHED = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})")  # 03/05/2024: day or month first
_WORDS_DMY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})")
_WORDS_MDY = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def _iso(year: int, month: int, day: int) -> str:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise Unreadable("not_a_date") from None


def read_date(value: object) -> str:
    """A date as ISO yyyy-mm-dd, from 2024-03-05 (a time after it is dropped), 2024/3/5,
    2024年3月5日, 5.3.2024, 5 March 2024, March 5, 2024, or 31/12/2024 (day or month first
    when only one reading is a date; 03/05/2024 is refused as ambiguous)."""
    if not isinstance(value, str):
        raise Unreadable("date")
    text = normalize(value).casefold()
    for pattern in (_ISO, _YMD, _CJK):
        if m := pattern.fullmatch(text):
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DOTTED.fullmatch(text):
        return _iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if m := _SLASHED.fullmatch(text):
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        readings = []
        for month, day in ((a, b), (b, a)):
            try:
                readings.append(_iso(year, month, day))
            except Unreadable:
                continue
        readings = list(dict.fromkeys(readings))
        if len(readings) == 1:
            return readings[0]
        if readings:
            raise Unreadable("ambiguous_date", tuple(readings))
        raise Unreadable("not_a_date")
    if (m := _WORDS_DMY.fullmatch(text)) and m.group(2) in _MONTHS:
        return _iso(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
    if (m := _WORDS_MDY.fullmatch(text)) and m.group(1) in _MONTHS:
        return _iso(int(m.group(3)), _MONTHS[m.group(1)], int(m.group(2)))
    raise Unreadable("date")
