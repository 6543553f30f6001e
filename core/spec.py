"""The settings of a run: what to ask, how to read the answers, how hard to push. Never its keys."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import constants as C
from .columns import OutputColumn, check_columns, columns_from_rows, columns_to_rows, text_columns
from .errors import InputError

__all__ = ["RunSpec"]


@dataclass(frozen=True)
class RunSpec:
    template: str
    system: str | None = None
    temperature: float | None = C.DEFAULT_TEMPERATURE
    max_tokens: int | None = C.DEFAULT_MAX_TOKENS
    # Output: plain text into one column (no columns), or these output columns, asked for as a
    # JSON object in the strongest way the provider supports (core/structured.py), each answer
    # checked and typed (core/columns.py).
    columns: tuple[OutputColumn, ...] = ()
    # The comma-separated JSON fields of before: given (an old stored run, `--json-fields`), they
    # become text columns and this is () again, so `columns` is the one place to look.
    json_fields: tuple[str, ...] = ()
    label_column: str | None = None
    # Which answer is compared with the label: a column (default: the one named like the label
    # column, else the last one) or the text.
    label_field: str | None = None
    # An answer that does not fit the columns is asked again up to this many times.
    max_reasks: int = C.DEFAULT_MAX_REASKS
    concurrency: int = C.DEFAULT_CONCURRENCY
    # Concurrency "Auto": as many requests in flight as the keys' pace needs at the latency
    # seen, up to `concurrency`.
    auto_concurrency: bool = False
    max_attempts: int = C.DEFAULT_MAX_ATTEMPTS
    timeout_s: float = C.DEFAULT_TIMEOUT_S
    use_cache: bool = True
    # USD per million tokens; None: the built-in price of each key's model, if known.
    price_in: float | None = None
    price_out: float | None = None
    # A test run: its rows are the first of a table this many rows long (None: the whole table).
    test_of: int | None = None
    # Batch mode: sent through the provider's Batch API (half price, done within its window).
    batch: bool = False

    def __post_init__(self) -> None:
        if not self.template.strip():
            raise InputError("The prompt is empty: write what the model should do with each row.", "empty_prompt")
        if not 1 <= self.concurrency <= C.MAX_CONCURRENCY:
            raise InputError(f"Concurrency must be between 1 and {C.MAX_CONCURRENCY}.")
        if self.max_attempts < 1:
            raise InputError("Max attempts must be at least 1.")
        if self.timeout_s <= 0:
            raise InputError("The timeout must be more than 0 seconds.")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InputError("Max tokens must be at least 1, or left empty.")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise InputError("Temperature must be between 0 and 2.")
        if not 0 <= self.max_reasks <= C.MAX_REASKS:
            raise InputError(f"Re-asks must be between 0 and {C.MAX_REASKS}.", "bad_reasks", n=C.MAX_REASKS)
        fields = tuple(f.strip() for f in self.json_fields if f and f.strip())
        if len(set(fields)) != len(fields):
            raise InputError("Each JSON field may be listed once.", "duplicate_field")
        columns = tuple(self.columns)
        if not all(isinstance(c, OutputColumn) for c in columns):  # the editor's rows, as dicts
            columns = columns_from_rows(c.to_dict() if isinstance(c, OutputColumn) else c for c in columns)
        if fields and columns:
            raise InputError("Give the output columns or JSON fields, not both.", "columns_and_fields")
        object.__setattr__(self, "columns", text_columns(fields) if fields else check_columns(columns))
        object.__setattr__(self, "json_fields", ())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def compared_column(self) -> OutputColumn | None:
        """The output column compared with the label column (None: the whole text answer): the
        one `label_field` names, else the one named like the label column, else the last."""
        if not self.columns:
            return None
        for name in (self.label_field, self.label_column):
            found = next((c for c in self.columns if name and c.name == name), None)
            if found is not None:
                return found
        return self.columns[-1]

    @property
    def compared_field(self) -> str | None:
        column = self.compared_column
        return column.name if column is not None else None

    def request_params(self) -> dict[str, Any]:
        """Model parameters sent with every request (and part of the response cache key). How the
        columns are asked for is added per provider (core/structured.py: `request_body`)."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        return params

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, free: bool = False) -> RunSpec:
        """A run's settings from the form's (the app's session, or the command line's options):

            template, system ("" is none), output_mode ("text" | "columns"), output_columns (the
            editor's rows: dicts of name, type, description, required, choices), max_reasks,
            label_column ("" is none), label_field, set_temperature, temperature, max_tokens (0 is
            none), concurrency, auto_concurrency, max_attempts, timeout_s, use_cache, price_in, price_out

        Missing ones take RunSpec's defaults. The columns count only in columns mode (a hidden
        widget keeps its value), and the temperature only with `set_temperature` (else the provider's own).
        Settings of before still read: output_mode "json" is columns mode, and its json_fields
        (comma-separated text) are text columns when there are no output_columns.
        `free` (the simulated provider) drops any price: nothing is paid. InputError if unusable."""
        s = settings
        columns: tuple[OutputColumn, ...] = ()
        if s.get("output_mode", "text") in ("columns", "json"):
            rows = s.get("output_columns") or []
            fields = s.get("json_fields") or ""
            if isinstance(fields, str):
                fields = fields.split(",")
            columns = columns_from_rows(rows) if rows else text_columns(str(f) for f in fields)
        return cls(
            template=s.get("template") or "",
            system=s.get("system") or None,
            temperature=s.get("temperature") if s.get("set_temperature") else None,
            max_tokens=s.get("max_tokens") or None,
            columns=columns,
            max_reasks=int(s["max_reasks"]) if s.get("max_reasks") is not None else C.DEFAULT_MAX_REASKS,
            label_column=s.get("label_column") or None,
            label_field=s.get("label_field") or None,
            concurrency=int(s.get("concurrency", C.DEFAULT_CONCURRENCY)),
            auto_concurrency=bool(s.get("auto_concurrency", False)),
            max_attempts=int(s.get("max_attempts", C.DEFAULT_MAX_ATTEMPTS)),
            timeout_s=float(s["timeout_s"]) if s.get("timeout_s") is not None else C.DEFAULT_TIMEOUT_S,
            use_cache=bool(s.get("use_cache", True)),
            price_in=None if free else s.get("price_in"),
            price_out=None if free else s.get("price_out"),
        )

    def to_settings(self) -> dict[str, Any]:
        """The form's settings for this run (see `from_settings`, of which this is the inverse):
        what a page shows after a reload, so that what it shows and what it would run agree."""
        return {
            "template": self.template,
            "system": self.system or "",
            "output_mode": "columns" if self.columns else "text",
            "output_columns": columns_to_rows(self.columns),
            "max_reasks": self.max_reasks,
            "label_column": self.label_column or "",
            "label_field": self.label_field or "",
            "set_temperature": self.temperature is not None,
            "temperature": self.temperature or 0.0,
            "max_tokens": self.max_tokens or 0,
            "concurrency": self.concurrency,
            "auto_concurrency": self.auto_concurrency,
            "max_attempts": self.max_attempts,
            "timeout_s": self.timeout_s,
            "use_cache": self.use_cache,
            "price_in": self.price_in,
            "price_out": self.price_out,
        }

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["columns"] = columns_to_rows(self.columns)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """A stored spec, of this version or an older one: its JSON fields become text columns,
        and settings this version does not know (a newer one's) are ignored."""
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["json_fields"] = tuple(data.get("json_fields") or ())
        data["columns"] = columns_from_rows(data.get("columns") or ())
        return cls(**data)

    def replace(self, **changes: Any) -> RunSpec:
        return dataclasses.replace(self, **changes)
