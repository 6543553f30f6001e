"""The settings of a run: what to ask, how to read the answers, how hard to push. Never its keys."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from . import constants as C
from .errors import InputError

__all__ = ["RunSpec"]


@dataclass(frozen=True)
class RunSpec:
    template: str
    system: str | None = None
    temperature: float | None = C.DEFAULT_TEMPERATURE
    max_tokens: int | None = C.DEFAULT_MAX_TOKENS
    # Output: plain text into one column, or JSON with these fields as columns of their own.
    json_fields: tuple[str, ...] = ()
    # Ask the provider for a JSON object (`response_format`). Not every provider supports it,
    # so it is a choice of its own; fields are extracted from prose or code fences either way.
    json_response_format: bool = False
    label_column: str | None = None
    # Which answer is compared with the label: a JSON field (default: the last one) or the text.
    label_field: str | None = None
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
        fields = tuple(f.strip() for f in self.json_fields if f and f.strip())
        if len(set(fields)) != len(fields):
            raise InputError("Each JSON field may be listed once.", "duplicate_field")
        object.__setattr__(self, "json_fields", fields)

    @property
    def compared_field(self) -> str | None:
        """The JSON field compared with the label column (None: the whole text answer)."""
        if not self.json_fields:
            return None
        return self.label_field if self.label_field in self.json_fields else self.json_fields[-1]

    def request_params(self) -> dict[str, Any]:
        """Model parameters sent with every request (and part of the response cache key)."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.json_response_format:
            params["response_format"] = {"type": "json_object"}
        return params

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}  # settings of a newer version are ignored
        data["json_fields"] = tuple(data.get("json_fields") or ())
        return cls(**data)

    def replace(self, **changes: Any) -> RunSpec:
        return dataclasses.replace(self, **changes)
