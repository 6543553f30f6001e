"""What a run's stored rows say, for a page or the command line: how it ended, why rows failed
(grouped by cause, with counts), and the numbers behind its charts (rows per second over time,
latency, accuracy and, for a few label classes, a confusion matrix).

    run_outcome("done", failed=10, pending=0)    # RunOutcome("done_with_failures", "warning", 10)
    failure_causes(store, run_id)                # [FailureCause("unreachable", {"host": "api.openai.com"}, 10, ...)]
    run_report(store, run_id)                    # RunReport(throughput=..., latencies_ms=..., ...)

Read from the store with aggregate queries, so a 100,000-row run costs a few milliseconds.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime

from .access import LOCAL_USER, User
from .columns import OutputColumn, label_matches
from .messages import Explained, explain, root_cause
from .ownership import visible_runs
from .spec import RunSpec
from .status import RowStatus, RunStatus
from .store import RunStore

__all__ = ["RunOutcome", "run_outcome", "FailureCause", "failure_causes", "RunReport", "run_report", "output_tokens_sample", "measured_output", "MAX_CLASSES"]

MAX_CLASSES = 8  # a label column with at most this many values gets a confusion matrix
MAX_THROUGHPUT_POINTS = 240  # seconds are merged into wider buckets past this
MAX_LATENCIES = 20_000  # enough for a histogram; a larger run is sampled evenly
_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class RunOutcome:
    code: str  # a run state, or "done_with_failures"
    tone: str  # "ok" | "warning" | "error" | "neutral": how a page colours it
    problems: int  # rows that failed or whose answer could not be read


def run_outcome(state: str, *, failed: int, unparsed: int = 0, pending: int = 0) -> RunOutcome:
    """How a run ended, honestly: "done" only when every row succeeded."""
    problems = failed + unparsed
    if state == RunStatus.DONE:
        return RunOutcome("done_with_failures" if problems else RunStatus.DONE, "warning" if problems else "ok", problems)
    if state == RunStatus.FAILED:
        return RunOutcome(state, "error", problems)
    if state in (RunStatus.CANCELLED, RunStatus.INTERRUPTED, RunStatus.WAITING_FOR_KEYS):
        return RunOutcome(state, "warning", problems)
    return RunOutcome(state, "neutral", problems)


# --- failures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureCause:
    code: str  # the cause's message code (core.messages); "" for a sentence core does not know
    params: dict[str, str]  # what tells causes apart: the host, the HTTP status, the fields
    count: int
    example: Explained  # one row's error, as stored
    first_row: int  # 0-based input row of the first row with this cause


def _cause_key(error: str | None) -> tuple[str, tuple[tuple[str, str], ...], Explained]:
    explained = explain(error or "")
    cause = root_cause(explained)
    if cause.code in ("unreachable", "dns", "refused"):
        keep = {"host": cause.params.get("host", "")}
    elif cause.code == "http":
        keep = {"status": cause.params.get("status", "")}
    elif cause.code == "invalid_answer" and cause.inner:
        # An answer that does not fit: grouped by its first problem's column ("sentiment" not one
        # of the list, "stars" missing), which is what a user would change.
        keep = {"name": cause.inner[0].params.get("name", "")}
    elif cause.code in ("missing_fields", "refused_setting", "too_large_tpm"):
        name = {"missing_fields": "fields", "refused_setting": "setting", "too_large_tpm": "per"}[cause.code]
        keep = {name: cause.params.get(name, "")}
    elif cause.code == "":
        keep = {"text": cause.text[:200]}
    else:
        keep = {}
    return cause.code, tuple(sorted(keep.items())), explained


def _query(store: RunStore, sql: str, params: Sequence[object]) -> list[tuple]:
    # A connection of its own, read-only: the store's connections belong to their threads, and a
    # report must never write.
    uri = store.path.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def failure_causes(store: RunStore, run_id: str) -> list[FailureCause]:
    """The run's failed and unreadable rows grouped by cause, most common first."""
    rows = _query(
        store,
        "SELECT error, COUNT(*), MIN(row) FROM results WHERE run_id = ? AND status IN (?, ?) GROUP BY error",
        (run_id, RowStatus.FAILED, RowStatus.UNPARSED),
    )
    groups: dict[tuple, list] = {}
    for error, count, first in rows:
        code, keep, explained = _cause_key(error)
        group = groups.setdefault((code, keep), [0, explained, first])
        group[0] += count
        if first < group[2]:
            group[1], group[2] = explained, first
    causes = [FailureCause(code, dict(keep), n, example, first) for (code, keep), (n, example, first) in groups.items()]
    return sorted(causes, key=lambda c: (-c.count, c.first_row))


# --- charts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    # (seconds since the first finished row, rows per second) per bucket; cache hits left out
    throughput: tuple[tuple[float, float], ...]
    bucket_s: int
    limit_per_s: float | None  # the keys' requests/min together, per second (None: unknown)
    latencies_ms: tuple[int, ...]  # answered requests (not cache hits)
    causes: tuple[FailureCause, ...]
    judged: int
    correct: int
    # label -> answer -> rows, when the label column has at most MAX_CLASSES values
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None


def _throughput(store: RunStore, run_id: str) -> tuple[tuple[tuple[float, float], ...], int]:
    seconds = _query(
        store,
        "SELECT substr(finished_at, 1, 19), COUNT(*) FROM results WHERE run_id = ? AND cached = 0 GROUP BY 1 ORDER BY 1",
        (run_id,),
    )
    if not seconds:
        return (), 1
    stamps = [(datetime.fromisoformat(s).timestamp(), n) for s, n in seconds]
    start = stamps[0][0]
    span = stamps[-1][0] - start + 1
    bucket = next((b for b in _BUCKETS_S if span / b <= MAX_THROUGHPUT_POINTS), _BUCKETS_S[-1])
    counts: Counter[int] = Counter()
    for stamp, n in stamps:
        counts[int((stamp - start) // bucket)] += n
    last = max(counts)
    return tuple((i * bucket, counts.get(i, 0) / bucket) for i in range(last + 1)), bucket


def _latencies(store: RunStore, run_id: str) -> tuple[int, ...]:
    values = [r[0] for r in _query(store, "SELECT latency_ms FROM results WHERE run_id = ? AND cached = 0 AND latency_ms IS NOT NULL", (run_id,))]
    if len(values) > MAX_LATENCIES:
        step = len(values) / MAX_LATENCIES
        values = [values[int(i * step)] for i in range(MAX_LATENCIES)]
    return tuple(values)


_JSON_VALUES = {"true": True, "false": False, "null": None}


def _confusion(store: RunStore, run_id: str, label_index: int, column: OutputColumn | None) -> dict[str, dict[str, int]]:
    path = f"$[{label_index}]"
    n_labels = _query(store, "SELECT COUNT(DISTINCT trim(json_extract(cells_json, ?))) FROM inputs WHERE run_id = ?", (path, run_id))[0][0]
    if not n_labels or n_labels > MAX_CLASSES:
        return {}
    # A column's typed value: json_type says what json_extract's SQL value was (1 from true, say).
    if column is not None and ('"' in column.name or "\\" in column.name):
        return {}  # a name SQLite's JSON path cannot quote: no matrix rather than a failed page
    field = f'$."{column.name}"' if column is not None else None
    answer = "json_type(r.fields_json, ?), json_extract(r.fields_json, ?)" if field else "'text', trim(r.output)"
    params: list[object] = [path, *([field, field] if field else []), run_id]
    pairs = _query(
        store,
        f"SELECT trim(json_extract(i.cells_json, ?)) AS label, {answer}, COUNT(*) FROM results r "
        "JOIN inputs i ON i.run_id = r.run_id AND i.row = r.row "
        "WHERE r.run_id = ? AND r.correct IS NOT NULL GROUP BY 1, 2, 3",
        params,
    )
    labels = sorted({label for label, _, _, _ in pairs if label})
    matrix: dict[str, dict[str, int]] = {}
    for label, kind, given, n in pairs:
        if not label:
            continue
        value = _JSON_VALUES[kind] if kind in _JSON_VALUES else given
        shown = next((lab for lab in labels if label_matches(value, lab, column)), "…")  # "…": any other answer
        row = matrix.setdefault(label, {})
        row[shown] = row.get(shown, 0) + n
    return matrix


def run_report(store: RunStore, run_id: str) -> RunReport | None:
    """Everything a run page draws about a run, from the store. None if there is no such run."""
    record = store.get_run(run_id)
    if record is None:
        return None
    throughput, bucket = _throughput(store, run_id)
    # The keys' set ceilings together; Auto keys (rpm None) have a pace the live run knows, not the store.
    limit = sum(k.rpm or 0 for k in record.keys) / 60.0 if record.keys and all(k.rpm for k in record.keys) else None
    confusion: dict[str, dict[str, int]] = {}
    spec = record.spec
    if spec.label_column and spec.label_column in record.columns and record.judged:
        confusion = _confusion(store, run_id, record.columns.index(spec.label_column), spec.compared_column)
    return RunReport(
        throughput=throughput, bucket_s=bucket, limit_per_s=limit, latencies_ms=_latencies(store, run_id),
        causes=tuple(failure_causes(store, run_id)), judged=record.judged, correct=record.correct, confusion=confusion,
    )  # fmt: skip


# --- what past runs measured ----------------------------------------------------------------


def output_tokens_sample(store: RunStore, run_ids: Sequence[str]) -> tuple[float, int] | None:
    """Mean output tokens per answered row over these runs, and how many rows that is: what a
    test run measured, for the estimate of the full run. None if none of them answered a row."""
    if not run_ids:
        return None
    marks = ",".join("?" * len(run_ids))
    total, n = _query(store, f"SELECT SUM(tokens_out), COUNT(*) FROM results WHERE run_id IN ({marks}) AND status != ?", [*run_ids, RowStatus.FAILED])[0]
    return (total / n, n) if n else None


def measured_output(
    store: RunStore, spec: RunSpec, model: str, columns: Sequence[str], *, recent: int = 50, user: User = LOCAL_USER
) -> tuple[float, int] | None:
    """What earlier runs of this prompt, model and table shape measured (a "Test N rows" run
    first of all): mean output tokens per answer and how many answers. None if none ran. Only
    the runs this user may see count."""
    same = [
        r.id
        for r in visible_runs(store, user, limit=recent)
        if r.keys and r.keys[0].model == model and list(r.columns) == list(columns)
        and (r.spec.template, r.spec.system, r.spec.columns, r.spec.max_tokens) == (spec.template, spec.system, spec.columns, spec.max_tokens)
    ]  # fmt: skip
    return output_tokens_sample(store, same)
