"""A provider's answer into a row's verdict, the same way for every path that gets one (a request
sent now, a batch's output line, the response cache).

    answer = read_completion(json.loads(body))    # ChatAnswer(text, finish, tokens_in, tokens_out, model)
    verdict = judge(answer.text, answer.finish, spec, label="42")  # Verdict(status, text, fields, error, correct, problems)

With output columns, the answer's JSON object (also inside prose or a code fence) is checked and
typed against them (core/columns.py); an answer that does not fit is 'unparsed' ("invalid" on
screen), with its problems, which the engine sends back to the model when it asks again.

Nothing validated the JSON (the SDK does not either), so every field read is checked: a wrong
shape raises ValueError with the reason, which fails that row, never the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .columns import label_matches, validate
from .output import answers_match, extract_json_object
from .spec import RunSpec
from .status import RowStatus

__all__ = ["ChatAnswer", "Verdict", "clean_text", "read_completion", "judge", "invalid_message"]

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Lone surrogates (half an emoji, from an answer cut mid-character) become U+FFFD: SQLite,
    CSV and XLSX all refuse them."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    finish: str | None
    tokens_in: int | None  # None: the provider did not say
    tokens_out: int | None
    model: str | None


@dataclass(frozen=True)
class Verdict:
    status: RowStatus
    text: str  # cleaned
    fields: dict | None  # the columns' typed values; None in text mode or when the answer has no JSON object
    error: str | None
    correct: bool | None  # None: no label to judge by, or the row failed
    problems: tuple[str, ...] = ()  # why the answer does not fit the columns (none: it fits)


def _count(usage: dict, name: str) -> int | None:
    value = usage.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)  # 12.0 from a proxy: a count all the same, and the answer is paid for
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"usage.{name} is {value!r}, not a number")
    return value


def read_completion(data: object) -> ChatAnswer:
    """A chat.completion object's text, finish reason, token counts and model."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the answer has no choices")
    assert isinstance(data, dict)
    choice = choices[0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise ValueError(f"the answer's content is a {type(content).__name__}, not text")
    finish = choice.get("finish_reason")
    usage = data.get("usage") or {}
    if not isinstance(usage, dict):
        raise ValueError("the answer's usage is not an object")
    model = data.get("model")
    return ChatAnswer(
        content or "", finish if isinstance(finish, str) else None, _count(usage, "prompt_tokens"), _count(usage, "completion_tokens"),
        str(model) if model else None,
    )  # fmt: skip


def invalid_message(problems: tuple[str, ...] | list[str], reasks: int = 0) -> str:
    """A row's error when its answer does not fit the columns (core/messages.py reads it back)."""
    after = f" after {reasks} re-ask{'s' if reasks != 1 else ''}" if reasks else ""
    return f"The answer does not fit the output columns{after}: {'; '.join(problems)}."


def judge(text: str, finish: str | None, spec: RunSpec, label: str | None, *, reasks: int = 0) -> Verdict:
    """The row's status, its columns' typed values, a plain note, whether it matches the label,
    and what does not fit (`reasks`: how often it was asked again, for the note)."""
    text = clean_text(text)
    fields: dict | None = None
    problems: tuple[str, ...] = ()
    status, error = RowStatus.OK, None
    if spec.columns:
        obj = extract_json_object(text)
        values, found = validate(obj, spec.columns)
        if obj is not None:
            fields = {k: clean_text(v) if isinstance(v, str) else v for k, v in values.items()}
        problems = tuple(found)
        if problems:
            status, error = RowStatus.UNPARSED, invalid_message(problems, reasks)
    if finish == "content_filter":
        status, error = RowStatus.FAILED, "The provider's content filter blocked this answer."
    elif finish == "length":
        error = "The answer was cut off at the max tokens limit." + (f" {error}" if error else "")
    correct = None
    if label is not None and status != RowStatus.FAILED:
        column = spec.compared_column
        correct = label_matches((fields or {}).get(column.name), label, column) if column is not None else answers_match(text, label)
    return Verdict(status, text, fields, error, correct, problems)
