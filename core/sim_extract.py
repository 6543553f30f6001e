"""What the simulated model reads out of a row's text: numbers (a rating or a price where the field
asks for one), dates in the usual English, ISO and Chinese spellings, and a short extract. Plain
regular expressions, deterministic; `core/sim_fields.py` says which field gets which."""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["find_number", "find_rating", "find_price", "find_date", "short_extract", "first_sentence", "mask_ranges", "mask_dates"]

_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[-\u2212]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|(?<![A-Za-z0-9_.])[-\u2212]?\d+(?:\.\d+)?(?![\d])")
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_EN_DIGITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_N = r"(\d+(?:\.\d+)?)"
# A rating as people write it, strongest first: "4/5", "4 out of 5", "4 stars", "4星", "打4分", "rated 4".
_RATING = [
    re.compile(rf"(?<![\d.]){_N}\s*/\s*(?:5|10|100)(?![\d])"),
    re.compile(rf"(?<![\d.]){_N}\s+out\s+of\s+(?:5|10|100)\b", re.I),
    re.compile(rf"(?<![\d.]){_N}\s*-?\s*stars?\b", re.I),
    re.compile(rf"(?<![\d.]){_N}\s*(?:颗星|星|分)"),
    re.compile(rf"(?:rated|rating|score|gave it|give it)\s*(?:of|is|:|=)?\s*{_N}(?![\d])", re.I),
    re.compile(rf"(?:评分|打分|给)\s*[:：]?\s*{_N}"),
]
_WORD_RATING = [
    re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten)[ -]stars?\b", re.I),
    re.compile(r"([一二两三四五六七八九十])\s*(?:颗星|星|分)"),
]
_PRICE = [
    re.compile(r"[$€£¥￥]\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"),
    re.compile(r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?:元|块|dollars?|usd|eur|euros?|rmb|yuan)\b", re.I),
    re.compile(r"(\d+(?:\.\d+)?)\s*(?:元|块)"),
]
# "1 to 5", "1-5", "1~5", "1到5": the scale an instruction names, never a value from the row.
_RANGE = re.compile(r"(?<![\d.\-/])\d{1,3}\s*(?:to|-|~|–|到|至)\s*\d{1,3}(?![\d\-/]|\.\d)(?!\s*[+\-x*/×÷]\s*\d)", re.I)

_MONTHS = {
    m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"), 1)
}
_MONTHS |= {m[:3]: i for m, i in list(_MONTHS.items())} | {"sept": 9}
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_DATES: list[tuple[re.Pattern[str], tuple[str, str, str]]] = [
    (re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"), ("y", "m", "d")),
    (re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), ("y", "m", "d")),
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), ("m", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I), ("d", "m", "y")),
    (re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])"), ("m", "d", "y")),  # US order; day first if it must be
]


def _to_number(text: str) -> float:
    return float(text.replace(",", "").replace("\u2212", "-"))


def mask_ranges(text: str) -> str:
    return _RANGE.sub(" ", text)


def mask_dates(text: str) -> str:
    for pattern, _ in _DATES:
        text = pattern.sub(" ", text)
    return text


def find_number(text: str) -> float | None:
    """The first number in text ("1,299.50" is one number), dates and scales such as "1 to 5" left out."""
    match = _NUMBER.search(mask_ranges(mask_dates(text)))
    return _to_number(match.group(0)) if match else None


def find_rating(text: str) -> float | None:
    """A rating as written in a review: "4/5", "4 out of 5", "4 stars", "four stars", "4星", "五星", "打4分"."""
    text = mask_ranges(mask_dates(text))
    found = [(m.start(), _to_number(m.group(1))) for p in _RATING for m in [p.search(text)] if m]
    for p in _WORD_RATING:
        m = p.search(text)
        if m:
            word = m.group(1).lower()
            found.append((m.start(), float(_EN_DIGITS.get(word) or _ZH_DIGITS[word])))
    return min(found)[1] if found else None


def find_price(text: str) -> float | None:
    """An amount of money: "$12.99", "¥199", "199元", "45 dollars"."""
    text = mask_dates(text)
    found = [(m.start(), _to_number(m.group(1))) for p in _PRICE for m in [p.search(text)] if m]
    return min(found)[1] if found else None


def find_date(text: str) -> str | None:
    """The first real date in text as yyyy-mm-dd: "2024-03-03", "2024/3/3", "March 3, 2024",
    "3 March 2024", "2024年3月3日", "3/14/2024" (month first unless the first number cannot be one)."""
    found: list[tuple[int, str]] = []
    for pattern, order in _DATES:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            month = parts["m"]
            number = int(month) if month.isdigit() else _MONTHS[month.lower().rstrip(".")]
            day, year = int(parts["d"]), int(parts["y"])
            if order == ("m", "d", "y") and month.isdigit() and number > 12:
                number, day = day, number
            try:
                found.append((m.start(), dt.date(year, number, day).isoformat()))
            except ValueError:
                continue
            break
    return min(found)[1] if found else None


_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    parts = [p for p in _SENTENCE_END.split(text) if p.strip()]
    return parts[0].strip() if parts else ""


def short_extract(text: str, limit: int = 80) -> str:
    """The first sentence of text, cut at a word (or a character, in Chinese) to `limit` characters."""
    sentence = first_sentence(text)
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,，、") + "…"
