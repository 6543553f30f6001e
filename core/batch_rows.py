"""A batch's lines as row results, read as the engine reads an answer sent now (fields, label,
finish reason), and priced at the batch price."""

from __future__ import annotations

from collections.abc import Sequence

from . import constants as C
from .answers import judge, read_completion
from .batch_files import LineOutcome
from .errors import scrub
from .estimate import price_for
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
                row=row, status=RowStatus.FAILED, error=scrub(f"The provider's answer could not be read ({type(exc).__name__}: {exc})", limit=500),
                attempts=1, model=self.model, key_fp=self.key_fp,
            )  # fmt: skip

    def _answer(self, row: int, body: dict) -> RowResult:
        answer = read_completion(body)
        tokens_in, tokens_out = answer.tokens_in, answer.tokens_out
        if tokens_in is None:  # the provider did not say: estimated, as the engine does
            tokens_in = estimate_message_tokens(self.template.messages(dict(zip(self.columns, self.cells[row]))))
        if tokens_out is None:
            tokens_out = max(1, len(answer.text) // 4)
        v = judge(answer.text, answer.finish, self.spec, self.cells[row][self.label_index] if self.label_index is not None else None)
        cost = (tokens_in * self.price[0] + tokens_out * self.price[1]) / 1e6
        return RowResult(
            row=row, status=v.status, output=v.text, fields=v.fields, error=v.error, attempts=1, tokens_in=tokens_in, tokens_out=tokens_out,
            cost=cost, model=answer.model or self.model, key_fp=self.key_fp, finish_reason=answer.finish, correct=v.correct,
        )  # fmt: skip
