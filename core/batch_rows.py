"""A batch's lines as row results, read as the engine reads an answer sent now (fields, label,
finish reason), and priced at the batch price."""

from __future__ import annotations

from collections.abc import Sequence

from . import constants as C
from .batch_files import LineOutcome
from .engine import clean_text, price_for
from .output import answers_match, parse_output
from .spec import RunSpec
from .status import RowStatus
from .store import RowResult
from .template import PromptTemplate, estimate_message_tokens

__all__ = ["BatchRowReader"]


class BatchRowReader:
    """Turns each `LineOutcome` of a run into its `RowResult`. A body of the wrong shape fails its
    row with the reason, never the run."""

    def __init__(self, spec: RunSpec, columns: Sequence[str], cells: Sequence[Sequence[str]], model: str, key_fp: str | None) -> None:
        self.spec = spec
        self.columns = list(columns)
        self.cells = cells
        self.model = model
        self.key_fp = key_fp
        self.template = PromptTemplate(spec.template, spec.system)
        self.label_index = self.columns.index(spec.label_column) if spec.label_column in self.columns else None
        p_in, p_out = price_for(spec, model)
        self.price = (p_in * C.BATCH_PRICE_FACTOR, p_out * C.BATCH_PRICE_FACTOR)

    def result(self, outcome: LineOutcome) -> RowResult:
        row = outcome.row
        if outcome.body is None:
            return RowResult(row=row, status=RowStatus.FAILED, error=outcome.error, attempts=1, model=self.model, key_fp=self.key_fp)
        try:
            return self._answer(row, outcome.body)
        except (ValueError, TypeError, AttributeError) as exc:
            return RowResult(
                row=row, status=RowStatus.FAILED, error=f"The provider's answer could not be read ({type(exc).__name__}: {exc})"[:500],
                attempts=1, model=self.model, key_fp=self.key_fp,
            )  # fmt: skip

    def _answer(self, row: int, body: dict) -> RowResult:
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ValueError("the answer has no choices")
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if content is not None and not isinstance(content, str):
            raise ValueError(f"the answer's content is a {type(content).__name__}, not text")
        text = clean_text(content or "")
        finish = choices[0].get("finish_reason")
        finish = finish if isinstance(finish, str) else None
        usage = body.get("usage") or {}
        if not isinstance(usage, dict):
            raise ValueError("the answer's usage is not an object")
        tokens_in = usage.get("prompt_tokens")
        tokens_out = usage.get("completion_tokens")
        if not isinstance(tokens_in, int) or isinstance(tokens_in, bool):  # the provider did not say: estimated, as the engine does
            tokens_in = estimate_message_tokens(self.template.messages(dict(zip(self.columns, self.cells[row]))))
        if not isinstance(tokens_out, int) or isinstance(tokens_out, bool):
            tokens_out = max(1, len(text) // 4)
        parsed = parse_output(text, self.spec.json_fields)
        fields = {k: clean_text(v) if isinstance(v, str) else v for k, v in parsed.fields.items()} if parsed.fields is not None else None
        status, error = RowStatus.OK, parsed.error
        if parsed.error is not None and parsed.fields is None:
            status = RowStatus.UNPARSED
        if finish == "content_filter":
            status, error = RowStatus.FAILED, "The provider's content filter blocked this answer."
        elif finish == "length":
            error = "The answer was cut off at the max tokens limit." + (f" {error}" if error else "")
        correct = None
        if self.label_index is not None and status != "failed":
            name = self.spec.compared_field
            answer = (fields or {}).get(name) if name else text
            correct = answers_match(answer, self.cells[row][self.label_index])
        cost = (tokens_in * self.price[0] + tokens_out * self.price[1]) / 1e6
        return RowResult(
            row=row, status=status, output=text, fields=fields, error=error, attempts=1, tokens_in=tokens_in, tokens_out=tokens_out,
            cost=cost, model=str(body.get("model") or self.model), key_fp=self.key_fp, finish_reason=finish, correct=correct,
        )  # fmt: skip
