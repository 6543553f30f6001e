"""What a comparison's stored answers say: the wide table (inputs, then each variant's answer,
status and verdict), one summary per variant (accuracy with its 95% interval, tokens, cost, cost
per right answer, latency), the winner and whether its lead is bigger than the noise, and the row
filters that show why ("variants disagree", "all wrong", "only X right").

Everything is computed from the same scored rows, so the summary always agrees with the table.
The winner's lead is tested on the rows both leaders answered (an exact McNemar test: rows only the
winner got right against rows only the runner-up got right), which is what "the same rows" buys
over two independent samples; each variant's accuracy also gets a Wilson interval."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .columns import cell_text
from .compare_store import ComparisonRecord, get_comparison, judge_run_ids
from .errors import InputError
from .judge import JudgeResults, read_judge
from .runner import Runner
from .runs import effective_status
from .scoring import OTHER_CLASS, Scoring, answer_number, confusion_matrix
from .store import RunRecord, RunStore

__all__ = [
    "VariantSummary",
    "VariantAnswers",
    "variant_answers",
    "Verdict",
    "CompareTable",
    "compare_table",
    "wilson_interval",
    "mcnemar_p",
    "percentile",
    "FILTERS",
    "SIGNIFICANCE",
    "compare_file_name",
    "compare_workbook",
    "WORKBOOK_SHEETS",
]

Z_95 = 1.959964
SIGNIFICANCE = 0.05  # a lead is "bigger than the noise" when chance would give it less often
FILTERS = ("all", "disagree", "all_wrong", "only_right")
ANSWERED = ("ok", "unparsed")


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion: sound at 0% and 100% and for small n."""
    if n <= 0:
        return None
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar test: how likely a split at least this uneven of the rows where
    two variants disagree on rightness is if both were equally good (a fair coin per row)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1): a value that was actually seen."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class VariantSummary:
    name: str
    provider: str
    model: str
    run_id: str
    state: str  # the run's state, or "deleted"
    rows: int
    ok: int
    unparsed: int
    failed: int
    pending: int
    cached: int
    judged: int
    correct: int
    tokens_in: int
    tokens_out: int
    cost: float
    p50_ms: float | None
    p95_ms: float | None
    # The judge's grading of this variant, counted apart from the variant's own requests and cost.
    judge: JudgeResults | None = None

    @property
    def done(self) -> int:
        return self.ok + self.unparsed + self.failed

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.correct, self.judged)

    @property
    def cost_per_correct(self) -> float | None:
        return self.cost / self.correct if self.correct else None

    @property
    def judge_pending(self) -> int:
        """Answers the judge has not graded yet (asked or not)."""
        if self.judge is None:
            return 0
        return max(0, self.ok + self.unparsed - self.judge.graded - self.judge.failed)


@dataclass(frozen=True)
class Verdict:
    winner: str | None
    runner_up: str | None
    margin: float | None  # accuracy ahead of the runner-up, 0..1
    only_winner_right: int  # rows the winner got right and the runner-up wrong
    only_runner_up_right: int
    p_value: float | None
    reason: str  # "clear" | "noise" | "tie" | "alone" | "unjudged"

    @property
    def significant(self) -> bool:
        return self.reason == "clear"


@dataclass(frozen=True)
class CompareTable:
    record: ComparisonRecord
    wide: pd.DataFrame
    summaries: tuple[VariantSummary, ...]
    verdict: Verdict
    answer_columns: dict[str, str]  # variant name -> its columns in `wide`
    status_columns: dict[str, str]
    correct_columns: dict[str, str]
    confusion: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # one-of scoring only

    def summary(self) -> pd.DataFrame:
        """One row per variant, as downloaded."""
        rows = []
        for v, s in zip(self.record.variants, self.summaries):
            low, high = s.interval or (None, None)
            rows.append({
                "variant": s.name, "provider": s.provider, "model": s.model, "status": s.state, "rows": s.rows, "done": s.done, "ok": s.ok,
                "unparsed": s.unparsed, "failed": s.failed, "pending": s.pending, "cached": s.cached, "judged": s.judged, "correct": s.correct,
                "accuracy": s.accuracy, "accuracy_low_95": low, "accuracy_high_95": high, "tokens_in": s.tokens_in, "tokens_out": s.tokens_out,
                "cost_usd": s.cost, "cost_per_correct_usd": s.cost_per_correct, "p50_latency_ms": s.p50_ms, "p95_latency_ms": s.p95_ms,
                "winner": s.name == self.verdict.winner, "template": v.template, "system": v.system or "", "temperature": v.temperature,
                "max_tokens": v.max_tokens, "run_id": s.run_id,
            })  # fmt: skip
            judge = self.record.judge
            if judge is not None:  # the judge's own work, apart from the variant's
                j = s.judge or JudgeResults.none(0)
                rows[-1].update({
                    "judge_model": judge.model, "judge_graded": j.graded, "judge_pending": s.judge_pending,
                    "judge_failed": j.failed, "judge_requests": j.requests, "judge_cached": j.cached, "judge_tokens_in": j.tokens_in,
                    "judge_tokens_out": j.tokens_out, "judge_cost_usd": j.cost, "judge_run_ids": " ".join(j.run_ids),
                })  # fmt: skip
        return pd.DataFrame(rows)

    def rows(self, kind: str = "all", variant: str | None = None) -> pd.DataFrame:
        """The wide table's rows of one filter: all, disagree (variants that answered said
        different things), all_wrong (every variant judged and wrong), only_right (`variant`
        right, every other one wrong)."""
        if kind not in FILTERS:
            raise InputError(f"Unknown filter {kind!r}: choose one of {', '.join(FILTERS)}.")
        wide = self.wide
        if kind == "all" or wide.empty:
            return wide
        names = [s.name for s in self.summaries if s.name in self.answer_columns]
        if kind == "disagree":
            keys = [_agreement_key(self.record.scoring, a, st) for a, st in _answers(wide, names, self.answer_columns, self.status_columns)]
            return wide[[len({k for k in row if k is not None}) > 1 for row in zip(*keys)]] if keys else wide.iloc[0:0]
        if not self.correct_columns:
            return wide.iloc[0:0]
        verdicts = wide[[self.correct_columns[n] for n in names]]
        if kind == "all_wrong":
            return wide[verdicts.apply(lambda r: all(v is False for v in r), axis=1)]
        if variant not in self.correct_columns:
            raise InputError(f"There is no variant {variant!r} in this comparison.")
        others = [self.correct_columns[n] for n in names if n != variant]
        mine = wide[self.correct_columns[variant]]
        return wide[[m is True and all(wide[c].iloc[i] is False for c in others) for i, m in enumerate(mine)]]


def _answers(wide: pd.DataFrame, names: list[str], answers: dict[str, str], statuses: dict[str, str]) -> list[tuple[list, list]]:
    return [(list(wide[answers[n]]), list(wide[statuses[n]])) for n in names]


def _agreement_key(scoring: Scoring, answers: list, statuses: list) -> list:
    """What two answers must share to agree, as the scoring reads them."""
    out: list[object] = []
    for a, st in zip(answers, statuses):
        if st not in ANSWERED or a is None:
            out.append(None)
        elif isinstance(a, bool):
            out.append(a)
        elif scoring.mode == "numeric":
            number = float(a) if isinstance(a, (int, float)) else answer_number(str(a))
            out.append(number if number is not None else str(a).strip().casefold())
        elif scoring.mode == "oneof":
            out.append(scoring.classify(a) or OTHER_CLASS)
        else:
            text = cell_text(a).strip()
            out.append(text if scoring.case_sensitive else text.casefold())
    return out


def _fresh(name: str, taken: set[str]) -> str:
    candidate = name
    while candidate in taken:
        candidate = f"{candidate}_"
    taken.add(candidate)
    return candidate


@dataclass(frozen=True)
class VariantAnswers:
    """One variant's stored answers, one per comparison row (None and "pending" where none yet)."""

    answers: list[object]  # typed when they are an output column's values
    statuses: list[str]
    errors: list[str | None]
    extra: dict[str, list[object]]  # its other output columns' values
    results: list[dict]


def variant_answers(store: RunStore, run: RunRecord, n: int) -> VariantAnswers:
    """What a variant's run answered: its compared column's typed value (or its text), status and
    error per row."""
    by_row = {r["row"]: r for r in store.results(run.id)}
    field_name = run.spec.compared_field
    answers: list[object] = [None] * n  # typed when they are an output column's values
    statuses: list[str] = ["pending"] * n
    errors: list[str | None] = [None] * n
    extra: dict[str, list[object]] = {f: [None] * n for f in run.spec.column_names if f != field_name}
    for i in range(n):
        r = by_row.get(i)
        if r is None:
            continue
        statuses[i], errors[i] = r["status"], r["error"]
        fields = json.loads(r["fields_json"]) if r["fields_json"] else {}
        answers[i] = fields.get(field_name) if field_name else r["output"]
        for f in extra:
            extra[f][i] = fields.get(f)
    return VariantAnswers(answers, statuses, errors, extra, list(by_row.values()))


def compare_table(store: RunStore, comparison_id: str, *, scoring: Scoring | None = None, runner: Runner | None = None) -> CompareTable:
    """The comparison as one table and one summary per variant, scored with its own scoring
    (or `scoring`, to see another way without storing it). Pending rows are in the table too.
    With a judge, its verdict and reason are columns of their own whatever the scoring; with
    judge scoring they are what is right and wrong."""
    record = get_comparison(store, comparison_id)
    if record is None:
        raise InputError(f"There is no comparison {comparison_id!r}.", "no_comparison")
    scoring = scoring or record.scoring
    if scoring.mode == "judge" and record.judge is None:
        raise InputError("This comparison has no judge: score it another way.", "no_judge")
    runs = {r: store.get_run(r) for r in record.run_ids}
    first = next((r for r in record.run_ids if runs[r] is not None), None)
    inputs = store.load_inputs(first) if first else pd.DataFrame()
    n = len(inputs) if first else record.n_rows
    labels = list(inputs[record.label_column]) if record.label_column and record.label_column in inputs.columns else [None] * n
    judging = bool(record.label_column) or not scoring.needs_label
    judge_runs = judge_run_ids(store, record.id) if record.judge is not None else {}

    wide = inputs.copy()
    wide.insert(0, _fresh("row", set(wide.columns)) if "row" in wide.columns else "row", [r + 1 for r in record.rows[:n]])
    taken = set(wide.columns)
    answer_cols: dict[str, str] = {}
    status_cols: dict[str, str] = {}
    correct_cols: dict[str, str] = {}
    summaries = []
    confusion: dict[str, dict[str, dict[str, int]]] = {}
    scored: dict[str, list[bool | None]] = {}
    for index, (v, run_id) in enumerate(zip(record.variants, record.run_ids)):
        run = runs[run_id]
        if run is None:
            summaries.append(VariantSummary(v.name, v.provider, v.model, run_id, "deleted", n, 0, 0, 0, n, 0, 0, 0, 0, 0, 0.0, None, None))
            continue
        got = variant_answers(store, run, n)
        answers, statuses = got.answers, got.statuses
        judged_by = read_judge(store, judge_runs.get(index, []), n) if record.judge is not None else None
        # A failed row is a wrong answer (judged, when there is a label to judge by): otherwise a
        # variant that fails most rows is ranked on the few it answered and may "win". Pending
        # rows are not judged yet.
        if scoring.mode == "judge":
            assert judged_by is not None
            verdicts = [False if statuses[i] == "failed" else judged_by.verdicts[i] if statuses[i] in ANSWERED else None for i in range(n)]
        else:
            verdicts = [
                scoring.score(answers[i], labels[i]) if statuses[i] in ANSWERED else scoring.score(None, labels[i]) if statuses[i] == "failed" else None
                for i in range(n)
            ]
        scored[v.name] = verdicts
        answer_cols[v.name] = _fresh(v.name, taken)
        # As objects: a column of whole numbers with a gap must not turn into floats and NaN.
        wide[answer_cols[v.name]] = pd.Series(answers, dtype=object, index=wide.index)
        for f, values in got.extra.items():
            wide[_fresh(f"{v.name} {f}", taken)] = pd.Series(values, dtype=object, index=wide.index)
        status_cols[v.name] = _fresh(f"{v.name} status", taken)
        wide[status_cols[v.name]] = statuses
        if judging:
            correct_cols[v.name] = _fresh(f"{v.name} correct", taken)
            wide[correct_cols[v.name]] = pd.Series(verdicts, dtype=object)
        if judged_by is not None:
            judge_says = [None if x is None else "correct" if x else "incorrect" for x in judged_by.verdicts]
            wide[_fresh(f"{v.name} judge", taken)] = pd.Series(judge_says, dtype=object)
            wide[_fresh(f"{v.name} judge reason", taken)] = pd.Series(judged_by.reasons, dtype=object)
        wide[_fresh(f"{v.name} error", taken)] = got.errors
        if scoring.mode == "oneof":
            confusion[v.name] = confusion_matrix(scoring, [(answers[i], labels[i]) for i in range(n) if statuses[i] in ANSWERED])
        results = got.results
        latencies = [float(r["latency_ms"]) for r in results if not r["cached"] and r["latency_ms"] is not None and r["status"] != "failed"]
        summaries.append(VariantSummary(
            name=v.name, provider=v.provider, model=v.model, run_id=run_id, state=effective_status(run, runner), rows=n,
            ok=statuses.count("ok"), unparsed=statuses.count("unparsed"), failed=statuses.count("failed"), pending=statuses.count("pending"),
            cached=sum(1 for r in results if r["cached"]), judged=sum(1 for x in verdicts if x is not None), correct=sum(1 for x in verdicts if x is True),
            tokens_in=sum(r["tokens_in"] for r in results), tokens_out=sum(r["tokens_out"] for r in results), cost=sum(r["cost"] for r in results),
            p50_ms=percentile(latencies, 0.5), p95_ms=percentile(latencies, 0.95), judge=judged_by,
        ))  # fmt: skip
    verdict = _verdict(summaries, scored)
    return CompareTable(record, wide, tuple(summaries), verdict, answer_cols, status_cols, correct_cols, confusion)


def _verdict(summaries: Sequence[VariantSummary], scored: dict[str, list[bool | None]]) -> Verdict:
    # Equal accuracy: the cheaper first, then the one listed first.
    order = {s.name: i for i, s in enumerate(summaries)}
    ranked = sorted((s for s in summaries if s.judged), key=lambda s: (-(s.accuracy or 0.0), s.cost, order[s.name]))
    if not ranked:
        return Verdict(None, None, None, 0, 0, None, "unjudged")
    if len(ranked) == 1:
        return Verdict(ranked[0].name, None, None, 0, 0, None, "alone")
    best, second = ranked[0], ranked[1]
    a, b = scored[best.name], scored[second.name]
    only_a = sum(1 for x, y in zip(a, b) if x is True and y is False)
    only_b = sum(1 for x, y in zip(a, b) if x is False and y is True)
    margin = (best.accuracy or 0.0) - (second.accuracy or 0.0)
    if margin <= 0:
        return Verdict(None, None, 0.0, only_a, only_b, 1.0, "tie")
    p = mcnemar_p(only_a, only_b)
    return Verdict(best.name, second.name, margin, only_a, only_b, p, "clear" if p < SIGNIFICANCE else "noise")


WORKBOOK_SHEETS = ("wide", "summary")  # the sheets of the workbook that holds both tables


def compare_workbook(data: CompareTable) -> bytes:
    """Both tables in one XLSX workbook, a sheet each (the wide table, then the summary), typed:
    numbers as numbers, right and wrong as booleans, text as text."""
    from .exports import to_xlsx_book_bytes

    return to_xlsx_book_bytes(list(zip(WORKBOOK_SHEETS, (data.wide, data.summary()))))


def compare_file_name(comparison_id: str, table: str, fmt: str) -> str:
    """A download's name: compare-<id>-wide.csv, compare-<id>-summary.xlsx, ...; both tables in
    one workbook (`table="both"`): compare-<id>.xlsx."""
    from .exports import EXPORT_FORMATS

    ext, _ = EXPORT_FORMATS[fmt]
    if table == "both":
        return f"compare-{comparison_id}{ext}"
    return f"compare-{comparison_id}-{table}{'-utf8' if fmt == 'csv-utf8' else ''}{ext}"
