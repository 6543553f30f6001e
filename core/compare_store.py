"""Comparisons in the run store: the `comparisons` table (migration m003) holds what a comparison
is (its variants and their run ids, the rows chosen, how answers are scored, its judge if any);
the answers are the variants' ordinary runs, and the judge's verdicts the judge's runs
(`comparison_judges`, migration m006). Keys are never part of any of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .errors import InputError
from .judge import Judge
from .scoring import Scoring
from .store import RunStore, new_run_id, utc_now
from .variants import RowSelection, Variant

__all__ = [
    "ComparisonRecord", "save_comparison", "get_comparison", "list_comparisons", "delete_comparison", "set_scoring", "comparison_of_run",
    "set_comparison_shared", "judge_run_ids", "all_judge_runs", "save_judge_run",
]  # fmt: skip


@dataclass(frozen=True)
class ComparisonRecord:
    id: str
    created_at: str
    name: str
    file_name: str
    label_column: str | None
    scoring: Scoring
    selection: RowSelection
    rows: tuple[int, ...]  # the table's 0-based row numbers every variant got, ascending
    variants: tuple[Variant, ...]
    run_ids: tuple[str, ...]  # one per variant, in the same order
    owner: str = ""  # the user who made it ('' the local user): its runs are theirs too
    shared: bool = False  # shared with the team (core/ownership.py)
    judge: Judge | None = None  # who grades the answers, if a judge does

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def simulated(self) -> bool:
        return all(v.simulated for v in self.variants)

    def run_of(self, name: str) -> str | None:
        return next((r for v, r in zip(self.variants, self.run_ids) if v.name == name), None)


def save_comparison(
    store: RunStore, *, name: str, file_name: str, label_column: str | None, scoring: Scoring, selection: RowSelection,
    rows: Sequence[int], variants: Sequence[Variant], run_ids: Sequence[str], comparison_id: str | None = None, owner: str = "",
    judge: Judge | None = None,
) -> ComparisonRecord:  # fmt: skip
    """Store a comparison whose variant runs exist; one short transaction."""
    record = ComparisonRecord(
        id=comparison_id or new_run_id(), created_at=utc_now(), name=name, file_name=file_name, label_column=label_column or None,
        scoring=scoring, selection=selection, rows=tuple(int(r) for r in rows), variants=tuple(variants), run_ids=tuple(run_ids),
        owner=owner, judge=judge,
    )  # fmt: skip
    variants_json = json.dumps([{**v.to_dict(), "run_id": r} for v, r in zip(record.variants, record.run_ids)], ensure_ascii=False)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO comparisons (id, created_at, name, file_name, label_column, scoring_json, selection_json, rows_json, variants_json, owner, "
            "judge_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.id, record.created_at, name, file_name, record.label_column,
             scoring.to_json(), selection.to_json(), json.dumps(list(record.rows)), variants_json, owner, judge.to_json() if judge else None),
        )  # fmt: skip
    return record


def _record(row: object) -> ComparisonRecord:
    items = json.loads(row["variants_json"])  # type: ignore[index]
    return ComparisonRecord(
        id=row["id"], created_at=row["created_at"], name=row["name"], file_name=row["file_name"], label_column=row["label_column"],  # type: ignore[index]
        scoring=Scoring.from_json(row["scoring_json"]), selection=RowSelection.from_json(row["selection_json"]),  # type: ignore[index]
        rows=tuple(json.loads(row["rows_json"])), variants=tuple(Variant.from_dict(i) for i in items),  # type: ignore[index]
        run_ids=tuple(i["run_id"] for i in items), owner=row["owner"], shared=bool(row["shared"]),  # type: ignore[index]
        judge=Judge.from_json(row["judge_json"]),  # type: ignore[index]
    )  # fmt: skip


def get_comparison(store: RunStore, comparison_id: str) -> ComparisonRecord | None:
    row = store.connection.execute("SELECT * FROM comparisons WHERE id = ?", (comparison_id,)).fetchone()
    return _record(row) if row is not None else None


# Newest first by creation time, then insertion (an id's random suffix must not decide; see store.py).
_NEWEST_FIRST = "created_at DESC, rowid DESC"


def list_comparisons(store: RunStore, limit: int = 200, *, visible_to: str | None = None) -> list[ComparisonRecord]:
    """The newest first: all, or with `visible_to` an owner's own and those shared with the team."""
    if visible_to is None:
        rows = store.connection.execute(f"SELECT * FROM comparisons ORDER BY {_NEWEST_FIRST} LIMIT ?", (limit,))
    else:
        rows = store.connection.execute(f"SELECT * FROM comparisons WHERE owner = ? OR shared = 1 ORDER BY {_NEWEST_FIRST} LIMIT ?", (visible_to, limit))
    return [_record(r) for r in rows]


def set_comparison_shared(store: RunStore, comparison_id: str, shared: bool) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE comparisons SET shared = ? WHERE id = ?", (int(shared), comparison_id))


def comparison_of_run(store: RunStore, run_id: str) -> str | None:
    """The comparison a run is a variant of, or grades as its judge, if any (History says so
    next to the run)."""
    pattern = f'%"run_id": {json.dumps(run_id)}%'
    row = store.connection.execute(f"SELECT id FROM comparisons WHERE variants_json LIKE ? ORDER BY {_NEWEST_FIRST} LIMIT 1", (pattern,)).fetchone()
    if row is None:
        row = store.connection.execute("SELECT comparison_id FROM comparison_judges WHERE run_id = ?", (run_id,)).fetchone()
    return row[0] if row is not None else None


def judge_run_ids(store: RunStore, comparison_id: str) -> dict[int, list[str]]:
    """Variant index -> the runs in which the judge grades that variant's answers, oldest first
    (by when they were made), whether or not History has deleted them since."""
    rows = store.connection.execute("SELECT variant, run_id FROM comparison_judges WHERE comparison_id = ? ORDER BY created_at, run_id", (comparison_id,))
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(int(r[0]), []).append(r[1])
    return out


def all_judge_runs(store: RunStore, comparison_id: str) -> list[str]:
    return [r for runs in judge_run_ids(store, comparison_id).values() for r in runs]


def save_judge_run(store: RunStore, comparison_id: str, variant: int, run_id: str) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO comparison_judges (comparison_id, variant, run_id, created_at) VALUES (?, ?, ?, ?)", (comparison_id, variant, run_id, utc_now())
        )


def set_scoring(store: RunStore, comparison_id: str, scoring: Scoring) -> ComparisonRecord | None:
    """Score a comparison another way from now on: nothing is sent again, answers are re-read
    (a judge's verdicts too: judge scoring needs a comparison that was made with a judge)."""
    if scoring.mode == "judge":
        known = get_comparison(store, comparison_id)
        if known is not None and known.judge is None:
            raise InputError("This comparison has no judge: score it another way.", "no_judge")
    with store.transaction() as conn:
        conn.execute("UPDATE comparisons SET scoring_json = ? WHERE id = ?", (scoring.to_json(), comparison_id))
    record = get_comparison(store, comparison_id)
    return replace(record, scoring=scoring) if record is not None else None


def delete_comparison(store: RunStore, comparison_id: str, *, with_runs: bool = True) -> None:
    """Delete a comparison and (unless `with_runs=False`) its variants' and its judge's runs."""
    record = get_comparison(store, comparison_id)
    if record is None:
        return
    judges = all_judge_runs(store, comparison_id)
    with store.transaction() as conn:
        conn.execute("DELETE FROM comparison_judges WHERE comparison_id = ?", (comparison_id,))
        conn.execute("DELETE FROM comparisons WHERE id = ?", (comparison_id,))
    if with_runs:
        for run_id in [*record.run_ids, *judges]:
            if store.get_run(run_id, counts=False) is not None:
                store.delete_run(run_id)
