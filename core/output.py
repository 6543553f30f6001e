"""Reading a model's answer: JSON fields out of prose or code fences, and accuracy against a label."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

__all__ = ["ParsedOutput", "extract_json_object", "parse_output", "answers_match"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> dict | None:
    """The JSON object in an answer: the whole text, a ```json fence, or the first {...} in prose."""
    text = text.strip()
    candidates = [text] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class ParsedOutput:
    fields: dict[str, str] | None  # None in text mode, or when the answer did not parse
    error: str | None  # why the answer could not be read as asked


def parse_output(text: str, fields: tuple[str, ...]) -> ParsedOutput:
    """Extract the asked-for JSON fields. An answer that does not parse keeps its raw text
    (the caller stores it) and says why."""
    if not fields:
        return ParsedOutput(None, None)
    obj = extract_json_object(text or "")
    if obj is None:
        return ParsedOutput(None, "The answer is not JSON; its raw text is kept in the output column.")
    missing = [f for f in fields if f not in obj]
    values = {f: _cell(obj.get(f)) for f in fields}
    if missing:
        names = ", ".join(missing)
        return ParsedOutput(values, f"The answer's JSON has no field {names}.")
    return ParsedOutput(values, None)


_NUMBER = re.compile(r"^[+-]?(\d[\d,]*)?(\.\d+)?([eE][+-]?\d+)?$")


def _as_number(text: str) -> float | None:
    text = text.strip().rstrip("%")
    if not text or not _NUMBER.match(text) or not any(ch.isdigit() for ch in text):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def answers_match(answer: str | None, label: str | None) -> bool | None:
    """Trimmed text equality; numbers compared as numbers ("42" == "42.0" == " 42 ").
    None when there is no label to judge against."""
    if label is None or str(label).strip() == "":
        return None
    if answer is None:
        return False
    a, b = str(answer).strip(), str(label).strip()
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        return math.isclose(na, nb, rel_tol=1e-9, abs_tol=1e-9)
    return a.casefold() == b.casefold()
