"""Reading a model's answer: its JSON object out of prose or code fences, and accuracy against a label."""

from __future__ import annotations

import json
import math
import re

__all__ = ["extract_json_object", "answers_match"]

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
