"""Output columns: what a user asks the model to fill in for each row (a sentiment, a score, a
date, a yes/no), and the check of every answer against them.

    columns = columns_from_json('[{"name": "sentiment", "type": "choice", "choices": ["positive", "negative"]},'
                                ' {"name": "stars", "type": "integer"}]')
    json_schema(columns)        # {"type": "object", "properties": {...}, "required": [...], "additionalProperties": false}
    validate({"sentiment": "Positive ", "stars": "4"}, columns)
    # ({"sentiment": "positive", "stars": 4}, [])

The editor on the Prompt page and the command line's `--columns columns.json` hold the same
thing: a JSON list of objects with `name`, `type` (text, number, integer, boolean, date,
choice), `description`, `required` and `choices`. A definition that cannot be used raises
InputError with a code. `validate` coerces what is safe (see core/coerce.py) and words every
problem as a short sentence, which goes both to the row's error and back to the model when the
row is asked again.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import constants as C
from .coerce import Unreadable, normalize, read_boolean, read_date, read_integer, read_number
from .errors import InputError
from .output import answers_match

__all__ = [
    "ColumnType", "OutputColumn", "check_columns", "columns_from_file", "columns_from_json", "columns_from_rows", "columns_to_json",
    "columns_to_rows", "text_columns", "json_schema", "validate", "label_matches", "cell_text", "SCHEMA_NAME",
]  # fmt: skip

SCHEMA_NAME = "row_answer"  # response_format.json_schema.name: [a-zA-Z0-9_-]{1,64}


class ColumnType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"  # yes/no
    DATE = "date"  # ISO yyyy-mm-dd
    CHOICE = "choice"  # one of a list of values


# What people type in a hand-written columns.json, as the type it means.
_TYPE_ALIASES = {
    "string": ColumnType.TEXT, "str": ColumnType.TEXT,
    "float": ColumnType.NUMBER, "decimal": ColumnType.NUMBER,
    "int": ColumnType.INTEGER, "whole number": ColumnType.INTEGER,
    "bool": ColumnType.BOOLEAN, "yes/no": ColumnType.BOOLEAN, "yesno": ColumnType.BOOLEAN,
    "enum": ColumnType.CHOICE, "one of": ColumnType.CHOICE, "oneof": ColumnType.CHOICE, "category": ColumnType.CHOICE,
}  # fmt: skip
_KEYS = ("name", "type", "description", "required", "choices")
_EXAMPLE = '[{"name": "sentiment", "type": "choice", "choices": ["positive", "negative"]}]'  # for a file that is not JSON


def _type_of(value: object, name: str) -> ColumnType:
    if isinstance(value, ColumnType):
        return value
    text = str(value or "text").strip().lower()
    try:
        return ColumnType(text)
    except ValueError:
        pass
    if text in _TYPE_ALIASES:
        return _TYPE_ALIASES[text]
    known = ", ".join(t.value for t in ColumnType)
    raise InputError(f"Column {name!r} has the type {value!r}: choose one of {known}.", "column_bad_type", name=name, type=str(value), known=known)


def _choices_of(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items: Iterable[object] = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    out: dict[str, str] = {}
    for item in items:
        text = " ".join(str(item).split()) if item is not None else ""
        if text and text.casefold() not in out:  # "Positive" and "positive" are one value
            out[text.casefold()] = text
    return tuple(out.values())


@dataclass(frozen=True)
class OutputColumn:
    """One column the model fills in. `choices` matter only for the choice type."""

    name: str
    type: ColumnType = ColumnType.TEXT
    description: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        name = " ".join(str(self.name or "").split())
        if not name:
            raise InputError("Every output column needs a name.", "column_no_name")
        if len(name) > C.MAX_COLUMN_NAME_CHARS:
            raise InputError(f"The column name {name[:20]!r}… is too long: at most {C.MAX_COLUMN_NAME_CHARS} characters.", "column_long_name",
                             name=name[:20], n=C.MAX_COLUMN_NAME_CHARS)  # fmt: skip
        kind = _type_of(self.type, name)
        choices = _choices_of(self.choices) if kind is ColumnType.CHOICE else ()
        if kind is ColumnType.CHOICE and len(choices) < 2:
            raise InputError(f"Column {name!r} is one of a list: give at least two allowed values, separated by commas.", "column_few_choices", name=name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "description", " ".join(str(self.description or "").split()))
        object.__setattr__(self, "required", bool(self.required))
        object.__setattr__(self, "choices", choices)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type.value}
        if self.description:
            data["description"] = self.description
        data["required"] = self.required
        if self.choices:
            data["choices"] = list(self.choices)
        return data


def text_columns(names: Iterable[str]) -> tuple[OutputColumn, ...]:
    """The old comma-separated JSON fields: each one a required text column."""
    return check_columns([OutputColumn(n) for n in names if n and str(n).strip()])


def check_columns(columns: Sequence[OutputColumn]) -> tuple[OutputColumn, ...]:
    """The columns as a tuple; InputError for two of one name (up to case) or too many."""
    seen: set[str] = set()
    for column in columns:
        folded = column.name.casefold()
        if folded in seen:
            raise InputError(f"There are two output columns called {column.name!r}: give each its own name.", "column_duplicate", name=column.name)
        seen.add(folded)
    if len(columns) > C.MAX_OUTPUT_COLUMNS:
        raise InputError(f"At most {C.MAX_OUTPUT_COLUMNS} output columns can be asked for at once.", "column_too_many", n=C.MAX_OUTPUT_COLUMNS)
    return tuple(columns)


def _blank(row: Mapping[str, object]) -> bool:
    """A row with nothing typed in: its type and required box may hold the editor's defaults."""
    return all(v is None or (isinstance(v, str) and not v.strip()) or v == [] for k, v in row.items() if k not in ("type", "required"))


def columns_from_rows(rows: Iterable[Mapping[str, object]]) -> tuple[OutputColumn, ...]:
    """The editor's rows (dicts with name, type, description, required, choices: a list or
    "a, b, c") as columns. Rows left entirely empty are skipped, as the editor's spare row is."""
    out = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise InputError(f"Output column {i} is not an object with a name and a type.", "column_not_object", n=i)
        unknown = [str(k) for k in row if k not in _KEYS]
        if unknown:
            raise InputError(f"Output column {i} has an unknown setting {unknown[0]!r}: use {', '.join(_KEYS)}.", "column_unknown_key",
                             n=i, key=unknown[0], known=", ".join(_KEYS))  # fmt: skip
        if _blank(row):
            continue
        required = row.get("required", True)
        out.append(OutputColumn(
            name=str(row.get("name") or ""), type=row.get("type") or ColumnType.TEXT, description=str(row.get("description") or ""),  # type: ignore[arg-type]
            required=True if required is None else bool(required), choices=_choices_of(row.get("choices")),
        ))  # fmt: skip
    return check_columns(out)


def columns_from_json(text: str | bytes) -> tuple[OutputColumn, ...]:
    """`--columns columns.json`: a JSON list of column objects (see `columns_from_rows`)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(f"The output columns are not valid JSON{where}: write a list like {_EXAMPLE}.", "columns_not_json", where=where) from None
    if isinstance(data, Mapping) and isinstance(data.get("columns"), list):
        data = data["columns"]  # {"columns": [...]} is the same list
    if not isinstance(data, list):
        raise InputError("The output columns must be a JSON list of objects, one per column.", "columns_not_list")
    return columns_from_rows(data)


def columns_from_file(path: str) -> tuple[OutputColumn, ...]:
    """The command line's `--columns FILE`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InputError(f"Cannot read the columns file {path}: {exc.strerror}.", "columns_unreadable", path=path) from None
    return columns_from_json(data.decode("utf-8-sig", errors="replace"))


def columns_to_rows(columns: Iterable[OutputColumn]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in columns]


def columns_to_json(columns: Iterable[OutputColumn]) -> str:
    return json.dumps(columns_to_rows(columns), ensure_ascii=False, indent=2)


# --- the schema sent to the provider --------------------------------------------------------

_JSON_TYPES = {
    ColumnType.TEXT: "string", ColumnType.NUMBER: "number", ColumnType.INTEGER: "integer", ColumnType.BOOLEAN: "boolean",
    ColumnType.DATE: "string", ColumnType.CHOICE: "string",
}  # fmt: skip


def _property(column: OutputColumn) -> dict[str, Any]:
    kind = _JSON_TYPES[column.type]
    # OpenAI's strict mode wants every property in `required`: one that may be left out is
    # required but may be null.
    prop: dict[str, Any] = {"type": kind if column.required else [kind, "null"]}
    if column.type is ColumnType.CHOICE:
        prop["enum"] = [*column.choices, *([] if column.required else [None])]
    if column.type is ColumnType.DATE:
        prop["format"] = "date"
    description = column.description
    if column.type is ColumnType.DATE:
        description = f"{description} (yyyy-mm-dd)".strip()
    if description:
        prop["description"] = description
    return prop


def json_schema(columns: Sequence[OutputColumn]) -> dict[str, Any]:
    """The JSON schema of one row's answer, valid for OpenAI's structured outputs in strict mode."""
    return {
        "type": "object",
        "properties": {c.name: _property(c) for c in columns},
        "required": [c.name for c in columns],
        "additionalProperties": False,
    }


# --- checking an answer ---------------------------------------------------------------------


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else json.dumps(value.strip(), ensure_ascii=False)
    return text if len(text) <= C.PROBLEM_VALUE_CHARS else text[: C.PROBLEM_VALUE_CHARS - 2] + '…"'


def cell_text(value: object) -> str:
    """A value as a text cell: text as it is, 12.0 as "12", lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def _choice(value: object, column: OutputColumn) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Unreadable("choice")
    word = normalize(cell_text(value)).casefold()
    for choice in column.choices:
        if normalize(choice).casefold() == word:
            return choice
    raise Unreadable("choice")


def _coerce(value: object, column: OutputColumn) -> object:
    kind = column.type
    if kind is ColumnType.TEXT:
        return cell_text(value).strip()
    if kind is ColumnType.NUMBER:
        return read_number(value)
    if kind is ColumnType.INTEGER:
        return read_integer(value)
    if kind is ColumnType.BOOLEAN:
        return read_boolean(value)
    if kind is ColumnType.DATE:
        return read_date(value)
    return _choice(value, column)


def _problem(column: OutputColumn, value: object, exc: Unreadable) -> str:
    name, shown = f'"{column.name}"', _shown(value)
    if exc.kind == "number":
        return f"{name} should be a number, not {shown}"
    if exc.kind == "integer":
        return f"{name} should be a whole number, not {shown}"
    if exc.kind == "boolean":
        return f"{name} should be true or false (yes or no), not {shown}"
    if exc.kind == "ambiguous_date":
        return f"{name} could be {' or '.join(exc.options)}: write the date as yyyy-mm-dd"
    if exc.kind in ("date", "not_a_date"):
        return f"{name} should be a date as yyyy-mm-dd, not {shown}"
    return f"{name} should be one of {', '.join(column.choices)}, not {shown}"


def _key_for(obj: Mapping[str, object], name: str) -> str | None:
    """The answer's key for a column: the name itself, else one equal up to case and spaces."""
    if name in obj:
        return name
    folded = "".join(name.split()).casefold()
    return next((k for k in obj if isinstance(k, str) and "".join(k.split()).casefold() == folded), None)


def validate(obj: object, columns: Sequence[OutputColumn]) -> tuple[dict[str, object], list[str]]:
    """The typed value of every column from an answer's JSON object (None where there is none),
    and the problems, each a short sentence naming the column. No problems: the answer fits."""
    values: dict[str, object] = {c.name: None for c in columns}
    if not isinstance(obj, Mapping):
        return values, ["the answer is not a JSON object"]
    problems: list[str] = []
    for column in columns:
        key = _key_for(obj, column.name)
        value = obj.get(key) if key is not None else None
        if value is None or (isinstance(value, str) and not value.strip()):
            if column.required:
                problems.append(f'"{column.name}" is missing' if key is None else f'"{column.name}" is empty')
            continue
        try:
            values[column.name] = _coerce(value, column)
        except Unreadable as exc:
            problems.append(_problem(column, value, exc))
    return values, problems


def label_matches(value: object, label: str | None, column: OutputColumn | None) -> bool | None:
    """Whether a typed answer equals the row's label, as the column's type reads both: numbers
    as numbers ("12" is 12.0), yes/no as yes/no ("是" is true), dates as dates, one of a list
    regardless of case. None when there is no label."""
    if label is None or str(label).strip() == "":
        return None
    if value is None:
        return False
    if column is None or column.type is ColumnType.TEXT:
        return answers_match(cell_text(value), label)
    try:
        expected = _coerce(label, column)
    except Unreadable:
        return answers_match(cell_text(value), label)  # a label that is not of the type: as text
    if column.type in (ColumnType.NUMBER, ColumnType.INTEGER) and isinstance(value, (int, float)) and not isinstance(value, bool):
        assert isinstance(expected, (int, float))
        return abs(float(value) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
    return bool(value == expected)
