"""Prompt templates: `{column}` placeholders filled in from each row of the user's table.

Placeholders are column names, not Python format fields: `{a.b}` is the column "a.b" and
`{x:>3}` is the column "x:>3", because spreadsheet headers are full of dots, colons and
brackets. `{{` and `}}` write literal braces; a lone `}` is kept as written. Every problem is a
plain sentence that points at the fix, since the people typing these are not programmers.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas

from . import constants as C
from .errors import InputError

__all__ = ["TemplateProblem", "PromptTemplate", "estimate_tokens", "estimate_message_tokens"]


@dataclass(frozen=True)
class TemplateProblem:
    placeholder: str  # as written between the braces ("" for a syntax problem)
    suggestion: str | None  # closest column name, if any
    message: str  # one plain sentence
    # What kind of problem, so a UI can say it in its own language: "unknown" (a column that is
    # not there), "literal" (braces meant as text), "ambiguous", "syntax", "empty".
    kind: str = "syntax"


# One step of the scan: an escaped brace, a whole placeholder, or a stray brace.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# A placeholder that reads like data (a pasted JSON example, a sentence) rather than a column.
_LOOKS_LIKE_TEXT = re.compile(r"[\"“”\n]|:\s")  # not "'": headers have apostrophes
# Written as plain strings (not f-strings) so the doubled braces stay readable.
_BRACES_TIP = "to write literal braces, type {{ and }}"
_SNIPPET_CHARS = 30
_LISTED_COLUMNS = 8
_MAX_ISSUES = 10


@dataclass(frozen=True)
class _Parsed:
    """A template split once at init, so rendering a row is only a join."""

    head: str  # literal text before the first placeholder
    steps: tuple[tuple[str, str], ...]  # (placeholder, literal text after it)
    issues: tuple[str, ...]  # syntax problems, as sentences


def _snippet(text: str) -> str:
    """The start of `text` on one line, short enough for a message."""
    flat = " ".join(text[: _SNIPPET_CHARS * 4].split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[:_SNIPPET_CHARS] + "…"


def _brace_groups(text: str) -> dict[int, int]:
    """For each "{", the end (exclusive) of the group it opens; unclosed ones are absent.
    One pass with a stack, so a paste full of stray braces cannot make parsing quadratic."""
    ends: dict[int, int] = {}
    stack: list[int] = []
    for m in re.finditer(r"[{}]", text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            ends[stack.pop()] = m.end()
    return ends


def _parse(text: str) -> _Parsed:
    # Lenient: every problem is recorded and its text kept as written, so the rest still parses
    # and the user sees all problems at once instead of one per attempt.
    head: str | None = None
    steps: list[tuple[str, str]] = []
    issues: list[str] = []
    buf: list[str] = []
    pending: str | None = None  # placeholder waiting for the literal text that follows it
    groups: dict[int, int] | None = None  # computed only if a stray "{" turns up
    pos = 0

    def flush(next_field: str | None) -> None:
        nonlocal head, pending
        literal = "".join(buf)
        buf.clear()
        if head is None:
            head = literal
        else:
            assert pending is not None
            steps.append((pending, literal))
        pending = next_field

    while (m := _TOKEN.search(text, pos)) is not None:
        buf.append(text[pos : m.start()])
        token, pos = m.group(0), m.end()
        if token == "{{":
            buf.append("{")
        elif token in ("}}", "}"):
            buf.append("}")
        elif token == "{":
            groups = _brace_groups(text) if groups is None else groups
            end = groups.get(m.start())
            if end is None:
                issues.append(f"A '{{' is never closed (at \"{_snippet(text[m.start() : m.start() + 200])}\"): to write a literal brace, type {{{{.")
                buf.append("{")
            else:
                group = text[m.start() : end]
                issues.append(f'"{_snippet(group)}" has braces inside braces, so it is not a column: ' + _BRACES_TIP + ".")
                buf.append(group)
                pos = end
        elif not m.group(1).strip():
            issues.append("Empty braces {} name no column: put a column name inside, or type {{}} for literal braces.")
            buf.append(token)
        else:
            flush(m.group(1))
    buf.append(text[pos:])
    flush(None)
    if len(issues) > _MAX_ISSUES:  # a paste full of braces should not bury the screen
        more = len(issues) - _MAX_ISSUES
        issues[_MAX_ISSUES:] = [f"There are {more:,} more brace problems like these."]
    return _Parsed(head or "", tuple(steps), tuple(issues))


def _squash(name: str) -> str:
    """Case- and whitespace-insensitive form of a name, for suggestions."""
    return "".join(name.split()).casefold()


def _matches_after_strip(name: str, keys: Sequence[str]) -> list[str]:
    stripped = name.strip()
    return [k for k in keys if k.strip() == stripped]


def _cell_text(value: object) -> str:
    if type(value) is str:  # the common case first: rendering must stay fast
        return value
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    # pandas' other "missing" markers (pd.NA, NaT, numpy NaN) would otherwise print as words.
    if pandas.api.types.is_scalar(value) and pandas.isna(value):
        return ""
    return str(value)


def _suggest(name: str, columns: Sequence[str]) -> tuple[str | None, bool]:
    """Closest column and whether the match is strong (same name up to case and spaces)."""
    key = _squash(name)
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_squash(column), column)
    if key in by_key:
        return by_key[key], True
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.6)
    return (by_key[close[0]], False) if close else (None, False)


def _unknown(name: str, columns: Sequence[str]) -> TemplateProblem:
    shown = "{" + _snippet(name) + "}"
    suggestion, strong = _suggest(name, columns)
    if suggestion is not None and (strong or not _LOOKS_LIKE_TEXT.search(name)):
        return TemplateProblem(name, suggestion, f"Unknown column {shown}: did you mean {{{suggestion}}}?", "unknown")
    if _LOOKS_LIKE_TEXT.search(name):
        return TemplateProblem(name, None, f"{shown} is not a column: to write literal braces (as in a JSON example), type {{{{ and }}}}.", "literal")
    listed = ", ".join(f'"{c}"' for c in columns[:_LISTED_COLUMNS])
    if len(columns) > _LISTED_COLUMNS:
        listed += ", …"
    where = f"the columns are {listed}" if columns else "the table has no columns"
    return TemplateProblem(name, None, f"Unknown column {shown}: {where} ({_BRACES_TIP}).", "unknown")


class PromptTemplate:
    """A user prompt and an optional system prompt, both of which may use `{column}`."""

    def __init__(self, text: str, system: str | None = None) -> None:
        self.text = text
        self.system = system
        self._user = _parse(text)
        self._system = _parse(system) if system and system.strip() else None
        # Placeholder -> row key, for placeholders that only match after stripping spaces.
        self._keys: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"PromptTemplate({self.text!r}, system={self.system!r})"

    @property
    def placeholders(self) -> tuple[str, ...]:
        # System first: it is the first message the model reads.
        parts = ([self._system] if self._system else []) + [self._user]
        names = (name for part in parts for name, _ in part.steps)
        return tuple(dict.fromkeys(names))

    def problems(self, columns: Sequence[str]) -> list[TemplateProblem]:
        cols = [str(c) for c in columns]
        exact = set(cols)
        found: list[TemplateProblem] = []
        if not self.text.strip():
            found.append(TemplateProblem("", None, "The prompt is empty: write what to ask the model for each row.", "empty"))
        found += [TemplateProblem("", None, issue) for issue in self._user.issues]
        if self._system is not None:
            found += [TemplateProblem("", None, "System prompt: " + issue) for issue in self._system.issues]
        for name in self.placeholders:
            if name in exact:
                continue
            matches = _matches_after_strip(name, cols)
            if len(matches) == 1:
                continue
            if len(matches) > 1:
                found.append(
                    TemplateProblem(
                        name,
                        None,
                        f"{{{_snippet(name)}}} could mean {len(matches)} columns that differ only in spaces: type the column name exactly as in the file.",
                        "ambiguous",
                    )
                )
            else:
                found.append(_unknown(name, cols))
        return found

    def check(self, columns: Sequence[str]) -> None:
        found = self.problems(columns)
        if found:
            raise InputError(" ".join(p.message for p in found), "template", problems=tuple(found))

    def render(self, row: Mapping[str, object]) -> str:
        """The user message for one row. Raises InputError for a placeholder the row lacks."""
        return self._fill(self._user, row, lenient=False)

    def render_system(self, row: Mapping[str, object]) -> str | None:
        return None if self._system is None else self._fill(self._system, row, lenient=False)

    def messages(self, row: Mapping[str, object]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        system = self.render_system(row)
        if system:
            out.append({"role": "system", "content": system})
        out.append({"role": "user", "content": self.render(row)})
        return out

    def preview(self, frame: pandas.DataFrame, n: int = C.PREVIEW_ROWS) -> list[str]:
        """The first n user prompts. Unknown placeholders stay as typed, so a preview can be
        shown while the user is still fixing them."""
        columns = list(frame.columns)
        rows = frame.head(max(n, 0)).itertuples(index=False, name=None)
        return [self._fill(self._user, dict(zip(columns, values)), lenient=True) for values in rows]

    def _fill(self, part: _Parsed, row: Mapping[str, object], *, lenient: bool) -> str:
        if not part.steps:
            return part.head
        out = [part.head]
        for name, literal in part.steps:
            try:
                text = _cell_text(row[name])
            except KeyError:
                text = self._lookup(name, row, lenient)
            out.append(text)
            out.append(literal)
        return "".join(out)

    def _lookup(self, name: str, row: Mapping[str, object], lenient: bool) -> str:
        """Slow path: a placeholder written with extra spaces, or a non-text column name."""
        key = self._keys.get(name)
        if key is None or key not in row:
            by_text = {str(k): k for k in row}
            matches = [name] if name in by_text else _matches_after_strip(name, list(by_text))
            if len(matches) != 1:
                if lenient:
                    return "{" + name + "}"
                raise InputError(f"Unknown column {{{_snippet(name)}}}: the row has no such column.")
            key = self._keys[name] = by_text[matches[0]]
        return _cell_text(row[key])  # type: ignore[index]


# Characters that cost about one token each: CJK ideographs, kana, hangul, fullwidth forms.
_WIDE = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\U00020000-\U0003ffff]"
)


def estimate_tokens(text: str) -> int:
    """Rough token count with no tokenizer download: ~4 characters a token for Latin text,
    one token per CJK or fullwidth character."""
    if not text:
        return 0
    narrow = len(_WIDE.sub("", text))
    wide = len(text) - narrow
    return max(1, wide + math.ceil(narrow / C.CHARS_PER_TOKEN))


def estimate_message_tokens(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m.get("content") or "") + C.MESSAGE_OVERHEAD_TOKENS for m in messages)
