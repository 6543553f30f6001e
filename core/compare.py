"""Comparisons: several variants (prompts, models) on the same rows, one ordinary run each, all
started together on the one Runner, so they share the key pool, each key's gate and limit, and the
response cache. One call per page action, as `runs` is for a single run.

    keys = demo_pool()
    variants = [Variant("terse", "Compute {question}."), Variant("careful", "Compute {question} step by step.")]
    record = start_comparison(store, frame, variants, keys, base=RunSpec(template="-", label_column="answer"))
    comparison_progress(store, record.id).state            # "running", then "done"
    compare_table(store, record.id).summary                # one row per variant: accuracy, cost, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .access import LOCAL_USER, User
from .compare_store import ComparisonRecord, delete_comparison, get_comparison, save_comparison, set_scoring
from .errors import InputError
from .keys import KeyEntry
from .leases import RunningElsewhere
from .ownership import check_may_act
from .progress import ProgressSnapshot
from .runner import Runner, RunHandle, get_runner
from .estimate import RunEstimate, estimate_run
from .runs import effective_status, resume_run, run_progress, start_run, validate_run
from .scoring import Scoring
from .spec import RunSpec
from .store import RunStore
from .variants import RowSelection, Variant, check_variants, variant_keys

__all__ = [
    "ComparisonEstimate", "VariantProgress", "ComparisonProgress", "select_rows", "estimate_comparison", "validate_comparison",
    "start_comparison", "resume_comparison", "comparison_progress", "pause_comparison", "continue_comparison", "cancel_comparison",
    "remove_comparison", "rescore_comparison",
]  # fmt: skip

# How a comparison stands when its variants stand differently: the first that applies.
_STATE_ORDER = ("running", "finishing", "waiting_for_keys", "paused", "failed", "cancelled", "interrupted")


def select_rows(frame: pd.DataFrame, selection: RowSelection) -> tuple[list[int], pd.DataFrame]:
    """The chosen rows' numbers and the table of just those rows, in input order."""
    rows = selection.rows(len(frame))
    return rows, frame.iloc[rows].reset_index(drop=True)


@dataclass(frozen=True)
class ComparisonEstimate:
    variants: tuple[RunEstimate, ...]
    requests: int
    tokens_in: int
    tokens_out: int
    cost: float
    seconds: float


def validate_comparison(frame: pd.DataFrame, variants: Sequence[Variant], keys: Sequence[KeyEntry], base: RunSpec, scoring: Scoring) -> None:
    """Raise InputError, in plain words, for a comparison that cannot run or be scored."""
    check_variants(variants, base)
    for v in variants:
        try:
            validate_run(frame, v.spec(base), variant_keys(v, keys))
        except InputError as exc:
            if exc.code in ("header_only", "no_label_column"):
                raise
            params = {**exc.params, "variant": v.name}  # the page says it in its language, with the name
            raise InputError(f"{v.name}: {exc}", exc.code or "", **params) from None
    if scoring.mode == "oneof" and base.label_column is None:
        raise InputError("One-of scoring compares answers with a label column: choose it.", "oneof_needs_label")


def estimate_comparison(frame: pd.DataFrame, variants: Sequence[Variant], keys: Sequence[KeyEntry], base: RunSpec) -> ComparisonEstimate:
    """Requests, tokens, cost and time of every variant together. Variants on the same keys share
    their pace, so their time adds up; variants on other providers run alongside."""
    per = [estimate_run(frame, v.spec(base), variant_keys(v, keys)) for v in variants]
    by_provider: dict[str, list[tuple[Variant, RunEstimate]]] = {}
    for v, est in zip(variants, per):
        by_provider.setdefault(v.base_url.rstrip("/"), []).append((v, est))
    seconds = 0.0
    for group in by_provider.values():
        rate_limited = [e for _, e in group if e.limited_by == "rate"]
        together = sum(e.seconds for e in rate_limited)  # one pace shared, one after the other
        seconds = max(seconds, together, max(e.seconds for _, e in group))
    return ComparisonEstimate(
        tuple(per), sum(e.requests for e in per), sum(e.tokens_in for e in per), sum(e.tokens_out for e in per), sum(e.cost for e in per), seconds
    )


def start_comparison(
    store: RunStore,
    frame: pd.DataFrame,
    variants: Sequence[Variant],
    keys: Sequence[KeyEntry],
    *,
    base: RunSpec,
    selection: RowSelection = RowSelection(),  # noqa: B008 - frozen: one shared default is safe
    scoring: Scoring = Scoring(),  # noqa: B008 - frozen too
    name: str = "",
    file_name: str = "",
    runner: Runner | None = None,
    user: User = LOCAL_USER,
) -> ComparisonRecord:
    """Store one run per variant on the chosen rows, start them all at once, and store the
    comparison, all belonging to `user`. Everything is checked before the first run starts: a
    comparison starts whole."""
    runner = runner or get_runner()
    rows, chosen = select_rows(frame.reset_index(drop=True).astype(str), selection)
    validate_comparison(chosen, variants, keys, base, scoring)
    pools = [variant_keys(v, keys) for v in variants]
    handles: list[RunHandle] = []
    try:
        for v, pool in zip(variants, pools):
            handles.append(start_run(store, chosen, v.spec(base), pool, file_name=file_name, runner=runner, user=user))
    except BaseException:
        for h in handles:
            h.cancel()
        raise
    return save_comparison(
        store, name=name or file_name, file_name=file_name, label_column=base.label_column, scoring=scoring, selection=selection,
        rows=rows, variants=variants, run_ids=[h.run_id for h in handles], owner=user.id,
    )  # fmt: skip


def _record(store: RunStore, comparison_id: str, user: User) -> ComparisonRecord:
    """The comparison, if this user may act on it (its owner or an admin): else NotAllowed."""
    record = get_comparison(store, comparison_id)
    if record is None:
        raise InputError(f"There is no comparison {comparison_id!r} in {store.data_dir}.", "no_comparison")
    check_may_act(user, record, "comparison")
    return record


def resume_comparison(
    store: RunStore, comparison_id: str, keys: Sequence[KeyEntry] | None = None, *, retry_failed: bool = False, runner: Runner | None = None,
    user: User = LOCAL_USER,
) -> ComparisonRecord:
    """Continue every variant that has rows left (and, with `retry_failed`, failed rows): rows
    already answered are not sent again. Keys are needed again for real providers."""
    runner = runner or get_runner()
    record = _record(store, comparison_id, user)
    runs = [store.get_run(run_id) for run_id in record.run_ids]
    for run in runs:  # checked before any variant starts: a comparison resumes whole, in one process
        if run is not None and run.running_elsewhere and run.lease is not None:
            raise RunningElsewhere(run.lease)
    for v, run_id, run in zip(record.variants, record.run_ids, runs):
        if run is None:
            continue  # deleted from History: the comparison goes on without it
        live = runner.going(run_id)
        if live is not None and live.snapshot().state != "paused":
            continue
        if run.pending == 0 and not (retry_failed and run.failed):
            continue
        pool = None if v.simulated else (variant_keys(v, keys) if keys else None)
        resume_run(store, run_id, pool, retry_failed=retry_failed, runner=runner, user=user)
    return record


def _handles(record: ComparisonRecord, runner: Runner | None) -> list[RunHandle]:
    runner = runner or get_runner()
    return [h for h in (runner.going(r) for r in record.run_ids) if h is not None]


def pause_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    for h in _handles(_record(store, comparison_id, user), runner):
        h.pause()


def continue_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    """Undo a pause of the variants still live in this process."""
    for h in _handles(_record(store, comparison_id, user), runner):
        h.resume()


def cancel_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    for h in _handles(_record(store, comparison_id, user), runner):
        h.cancel()


def rescore_comparison(store: RunStore, comparison_id: str, scoring: Scoring, user: User = LOCAL_USER) -> ComparisonRecord | None:
    """Score a comparison another way from now on (its owner's choice): nothing is sent again."""
    _record(store, comparison_id, user)
    return set_scoring(store, comparison_id, scoring)


def remove_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> ComparisonRecord:
    """Delete a comparison and its variants' runs, as History's delete does: not while a variant
    is still going in this process (cancel it first). Returns what was deleted."""
    record = _record(store, comparison_id, user)
    if _handles(record, runner) or any(r is not None and r.running_elsewhere for r in (store.get_run(i, counts=False) for i in record.run_ids)):
        raise InputError("This comparison is still running: cancel it first.", "comparison_live")
    delete_comparison(store, comparison_id)
    return record


@dataclass(frozen=True)
class VariantProgress:
    variant: Variant
    run_id: str
    snapshot: ProgressSnapshot | None  # None: the run was deleted


@dataclass(frozen=True)
class ComparisonProgress:
    record: ComparisonRecord
    state: str
    variants: tuple[VariantProgress, ...]
    live: bool  # some variant is still going in this process: a page keeps polling

    @property
    def elsewhere(self) -> str:
        """Where another process runs it ('' if none does): a page polls the store then."""
        return next((v.snapshot.elsewhere for v in self.variants if v.snapshot is not None and v.snapshot.elsewhere), "")

    @property
    def done(self) -> int:
        return sum(v.snapshot.done for v in self.variants if v.snapshot is not None)

    @property
    def total(self) -> int:
        return sum(v.snapshot.total for v in self.variants if v.snapshot is not None)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def pending(self) -> int:
        return sum(v.snapshot.pending for v in self.variants if v.snapshot is not None)

    @property
    def failed(self) -> int:
        return sum(v.snapshot.failed + v.snapshot.unparsed for v in self.variants if v.snapshot is not None)


def comparison_progress(store: RunStore, comparison_id: str, runner: Runner | None = None) -> ComparisonProgress | None:
    """Each variant's progress (live from its engine, else from the store) and how the whole
    comparison stands. None if there is no such comparison."""
    runner = runner or get_runner()
    record = get_comparison(store, comparison_id)
    if record is None:
        return None
    items = []
    live = False
    for v, run_id in zip(record.variants, record.run_ids):
        snap = run_progress(store, run_id, runner)
        if snap is not None and runner.going(run_id) is not None:
            live = True
        items.append(VariantProgress(v, run_id, snap))
    states = [_state(store, p, runner) for p in items if p.snapshot is not None]
    state = next((s for s in _STATE_ORDER if s in states), "done")
    return ComparisonProgress(record, state, tuple(items), live)


def _state(store: RunStore, progress: VariantProgress, runner: Runner) -> str:
    snap = progress.snapshot
    assert snap is not None
    if runner.going(progress.run_id) is not None:
        return snap.state
    run = store.get_run(progress.run_id, counts=False)
    status = effective_status(run, runner) if run is not None else snap.state
    return "done" if status == "done" or snap.pending == 0 else status
