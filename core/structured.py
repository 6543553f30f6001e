"""How output columns are asked for: in the strongest way the provider takes, falling back when it
refuses one, and remembered per provider and model so the next run starts with what worked.

    body = request_body(spec, messages, AskMode.JSON_SCHEMA, spec.request_params())
    # {"messages": [...], "response_format": {"type": "json_schema", "json_schema": {"name": ..., "strict": true, "schema": {...}}}}
    if rejects(failure, AskMode.JSON_SCHEMA):            # a 400 that names response_format / json_schema
        mode = next_mode(AskMode.JSON_SCHEMA)            # json_object, with the schema in the system message
    remember_mode(store, base_url, model, mode)          # a resume or the next run starts there

The modes, strongest first:
    json_schema   response_format json_schema, strict: the provider holds the model to the schema
    json_object   response_format json_object, and the schema in the system message
    instructions  no response_format: the schema in the system message only
In the last two the system message ends with a sentence asking for one JSON object matching the
schema, then the schema as a ```json fenced block (the simulator reads it from there).

A re-ask (`reask_messages`) adds the model's answer and what is wrong with it to the
conversation; a cut-off answer is asked once more with a larger token limit (`larger_limit`).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import constants as C
from .columns import SCHEMA_NAME, json_schema
from .errors import Failure
from .spec import RunSpec

if TYPE_CHECKING:
    from .store import RunStore

__all__ = [
    "AskMode", "ASK_MODES", "next_mode", "schema_instruction", "ask_messages", "ask_params", "request_body", "rejects", "fallback_note",
    "reask_messages", "larger_limit", "remembered_mode", "remember_mode",
]  # fmt: skip


class AskMode(enum.StrEnum):
    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    INSTRUCTIONS = "instructions"


ASK_MODES = (AskMode.JSON_SCHEMA, AskMode.JSON_OBJECT, AskMode.INSTRUCTIONS)  # strongest first


def next_mode(mode: AskMode) -> AskMode | None:
    """The next weaker way to ask, None after instructions (nothing is left to drop)."""
    i = ASK_MODES.index(mode)
    return ASK_MODES[i + 1] if i + 1 < len(ASK_MODES) else None


def schema_instruction(spec: RunSpec) -> str:
    """The system message's part that asks for the columns: one sentence, then the schema."""
    schema = json.dumps(json_schema(spec.columns), ensure_ascii=False, indent=2)
    return f"Answer with one JSON object that matches this JSON schema, and nothing else:\n```json\n{schema}\n```"


def ask_messages(spec: RunSpec, messages: Sequence[dict[str, str]], mode: AskMode) -> list[dict[str, str]]:
    """The row's messages as sent in this mode: the schema appended to the system message (one
    is made if the prompt has none), except with json_schema, where it travels in response_format."""
    out = [dict(m) for m in messages]
    if not spec.columns or mode is AskMode.JSON_SCHEMA:
        return out
    instruction = schema_instruction(spec)
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0].get('content') or ''}\n\n{instruction}".lstrip()
    else:
        out.insert(0, {"role": "system", "content": instruction})
    return out


def ask_params(spec: RunSpec, mode: AskMode, params: dict[str, Any]) -> dict[str, Any]:
    """The request parameters in this mode: `params` and, for columns, the response_format."""
    if not spec.columns or mode is AskMode.INSTRUCTIONS:
        return dict(params)
    if mode is AskMode.JSON_OBJECT:
        return {**params, "response_format": {"type": "json_object"}}
    schema = {"name": SCHEMA_NAME, "strict": True, "schema": json_schema(spec.columns)}
    return {**params, "response_format": {"type": "json_schema", "json_schema": schema}}


def request_body(spec: RunSpec, messages: Sequence[dict[str, str]], mode: AskMode, params: dict[str, Any]) -> dict[str, Any]:
    """What is posted for one row, but the model: its messages and parameters in this mode."""
    return {"messages": ask_messages(spec, messages, mode), **ask_params(spec, mode, params)}


# How providers word a refused response_format: OpenAI "Invalid parameter: 'response_format' of
# type 'json_schema' is not supported with this model", DeepSeek "This response_format type is
# unavailable now" and "response_format.type `json_schema` is unavailable now" (a 422),
# "deepseek-reasoner does not support Json Output", Ollama 'invalid format: expected "json" or a
# JSON schema', vLLM and llama.cpp naming json_schema, OpenAI "'messages' must contain the word
# 'json' in some form, to use 'response_format' of type 'json_object'".
_REFUSAL = re.compile(r"response_format|response format|json_schema|json_object|json output|json mode|structured output|invalid format", re.IGNORECASE)


def rejects(failure: Failure, mode: AskMode) -> bool:
    """Whether a failed request was the provider refusing this way of asking (so the next way is
    worth a try, and the row is not at fault): a 400 or 422 naming response_format or the schema."""
    if mode is AskMode.INSTRUCTIONS or failure.status not in (400, 422):
        return False
    if failure.param == "response_format" or failure.unsupported_param == "response_format":
        return True
    return bool(_REFUSAL.search(failure.message))


def fallback_note(old: AskMode, new: AskMode) -> str:
    """The run's note when it steps down (core/messages.py translates it)."""
    how = "json_object and the schema in the system message" if new is AskMode.JSON_OBJECT else "the schema in the system message only"
    return f"The provider refused response_format {old.value}; the run asks with {how} instead."


def reask_messages(answer: str, problems: Sequence[str]) -> list[dict[str, str]]:
    """What a re-ask adds to the conversation: the answer as given, then what is wrong with it."""
    said = "; ".join(problems)
    return [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"Your answer does not fit: {said}. Answer again with only one JSON object that matches the schema."},
    ]


def larger_limit(params: dict[str, Any], tokens_out: int) -> dict[str, Any]:
    """The parameters for asking again after an answer was cut off at the token limit: twice the
    limit (or the cut answer's length, when no limit was set), at least LENGTH_REASK_MIN_TOKENS."""
    name = "max_completion_tokens" if "max_completion_tokens" in params else "max_tokens"
    current = params.get(name) or tokens_out
    return {**params, name: min(max(2 * int(current), C.LENGTH_REASK_MIN_TOKENS), C.FORM_MAX_TOKENS)}


# --- what worked, per provider and model (the ask_modes table, migration m005) ------------------


def _url(base_url: str) -> str:
    return base_url.rstrip("/")


def remembered_mode(store: RunStore, base_url: str, model: str) -> AskMode | None:
    """The way of asking that last worked for this provider and model, if any run found one."""
    row = store.connection.execute("SELECT mode FROM ask_modes WHERE base_url = ? AND model = ?", (_url(base_url), model)).fetchone()
    try:
        return AskMode(row[0]) if row is not None else None
    except ValueError:
        return None  # a mode of a newer version: start from the strongest


def remember_mode(store: RunStore, base_url: str, model: str, mode: AskMode) -> None:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO ask_modes (base_url, model, mode, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (base_url, model) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at",
            (_url(base_url), model, mode.value, now),
        )
