"""What a run will cost before it starts, and what a finished row cost: requests, tokens, dollars
and time at the keys' limits (`estimate_run`), and the price per token of a model (`price_for`,
which the engine uses for every row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from . import constants as C
from .columns import ColumnType, OutputColumn
from .keys import KeyEntry, expected_rpm
from .spec import RunSpec
from .structured import schema_instruction
from .template import PromptTemplate, estimate_message_tokens, estimate_tokens

__all__ = ["RunEstimate", "estimate_run", "price_for"]


def price_for(spec: RunSpec, model: str) -> tuple[float, float]:
    """USD per million tokens (in, out): the run's own price if set, else the built-in one."""
    known = C.MODEL_PRICES.get(model, (0.0, 0.0))
    return (
        spec.price_in if spec.price_in is not None else known[0],
        spec.price_out if spec.price_out is not None else known[1],
    )


@dataclass(frozen=True)
class RunEstimate:
    requests: int
    tokens_in: int
    tokens_out: int
    cost: float
    seconds: float
    limited_by: str  # "rate" (the keys' requests/min) or "concurrency"
    # Where tokens_out comes from, most sure first: "measured" (answers of a test run of the same
    # prompt and model), "label" (the expected answers' length), "fields" (the JSON asked
    # for), "guess" (a typical short answer). `sample` is how many answers were measured.
    out_basis: str = "guess"
    sample: int = 0
    out_per_row: float = C.DEFAULT_OUTPUT_TOKENS_ESTIMATE


def _value_tokens(column: OutputColumn) -> float:
    """Tokens of one column's value in an answer, by its type (text: a short phrase)."""
    if column.type is ColumnType.CHOICE:
        return sum(estimate_tokens(c) for c in column.choices) / len(column.choices)
    return C.ESTIMATE_VALUE_TOKENS.get(column.type.value, C.ESTIMATE_JSON_VALUE_TOKENS)


def _output_per_row(sample: pd.DataFrame, spec: RunSpec, measured: tuple[float, int] | None) -> tuple[float, str, int]:
    """Output tokens per answer, and what that number rests on (see RunEstimate.out_basis)."""
    if measured is not None and measured[1] > 0 and measured[0] > 0:  # 0: a provider that reports no usage
        return measured[0], "measured", measured[1]
    label = None
    if spec.label_column and spec.label_column in sample.columns and len(sample):
        label = sum(estimate_tokens(str(v)) for v in sample[spec.label_column]) / len(sample)
    if spec.columns:
        compared = spec.compared_field if label is not None else None
        per_field = [estimate_tokens(c.name) + (label if c.name == compared and label is not None else _value_tokens(c)) for c in spec.columns]
        return C.ESTIMATE_JSON_OVERHEAD_TOKENS + sum(per_field), "label" if compared else "fields", 0
    if label is not None:
        return label, "label", 0
    return float(C.DEFAULT_OUTPUT_TOKENS_ESTIMATE), "guess", 0


def estimate_run(frame: pd.DataFrame, spec: RunSpec, keys: Sequence[KeyEntry], *, measured: tuple[float, int] | None = None) -> RunEstimate:
    """Requests, tokens, cost and time at these limits, before anything is sent. `measured` is
    (output tokens per answer, answers) from a test run of the same prompt and model
    (core.measured_output); without it the label column or the JSON fields give a rougher one."""
    n = len(frame)
    template = PromptTemplate(spec.template, spec.system)
    columns = [str(c) for c in frame.columns]
    sample = frame.head(C.ESTIMATE_SAMPLE_ROWS)
    sampled = sum(estimate_message_tokens(template.messages(dict(zip(columns, r)))) for r in sample.itertuples(index=False, name=None))
    tokens_in = round(sampled * n / max(len(sample), 1))
    if spec.columns:  # the schema goes with every request, in response_format or the system message
        tokens_in += n * estimate_tokens(schema_instruction(spec))
    per_row, basis, measured_rows = _output_per_row(sample, spec, measured)
    if spec.max_tokens:
        per_row = min(per_row, spec.max_tokens)  # an answer never runs past the cap
    tokens_out = round(n * per_row)
    model = keys[0].model if keys else ""
    p_in, p_out = price_for(spec, model)
    cost = (tokens_in * p_in + tokens_out * p_out) / 1e6
    rate = expected_rpm(keys) / 60.0  # Auto keys count at their provider's typical limit
    latency = C.ESTIMATE_SIMULATED_LATENCY_S if keys and all(k.simulated for k in keys) else C.ESTIMATE_LATENCY_S
    by_concurrency = spec.concurrency / latency
    per_s = min(rate, by_concurrency) if rate else by_concurrency
    limited_by = "rate" if rate and rate <= by_concurrency else "concurrency"
    return RunEstimate(n, tokens_in, tokens_out, cost, n / per_s if per_s else float("inf"), limited_by, basis, measured_rows, per_row)
