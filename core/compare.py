"""Comparisons: several variants (prompts, models) on the same rows, one ordinary run each, all
started together on the one Runner, so they share the key pool, each key's gate and limit, and the
response cache. One call per page action, as `runs` is for a single run.

    keys = demo_pool()
    variants = [Variant("terse", "Compute {question}."), Variant("careful", "Compute {question} step by step.")]
    record = start_comparison(store, frame, variants, keys, base=RunSpec(template="-", label_column="answer"))
    comparison_progress(store, record.id).state            # "running", then "done"
    compare_table(store, record.id).summary                # one row per variant: accuracy, cost, ...

With a judge (`judge=Judge(...)`, scoring "judge"), each variant's answers are graded by the judge's
own run once that variant has answered every row (core/compare_judge.py); the comparison is done
when the judge is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .access import LOCAL_USER, User
from .compare_judge import (
    judge_keys,
    judge_problems,
    judge_work_left,
    judging,
    judging_paused,
    live_judge_runs,
    pause_judging,
    resume_judging,
    start_judging,
    stop_judging,
)  # fmt: skip
from .compare_store import ComparisonRecord, all_judge_runs, delete_comparison, get_comparison, save_comparison, set_scoring
from .errors import InputError
from .estimate import RunEstimate, estimate_run
from .judge import Judge, judge_frame
from .keys import KeyEntry
from .leases import RunningElsewhere
from .ownership import check_may_act
from .progress import ProgressSnapshot
from .runner import RunHandle, Runner, get_runner
from .runs import effective_status, resume_run, run_progress, start_run, validate_run
from .scoring import Scoring
from .spec import RunSpec
from .store import RunStore
from .variants import RowSelection, Variant, check_variants, variant_keys

__all__ = [
    "ComparisonEstimate", "VariantProgress", "ComparisonProgress", "select_rows", "estimate_comparison", "validate_comparison",
    "start_comparison", "resume_comparison", "comparison_progress", "pause_comparison", "continue_comparison", "cancel_comparison",
    "remove_comparison", "rescore_comparison", "stop_comparison", "comparison_run_ids",
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
    seconds: float  # the judge's time included
    judge: RunEstimate | None = None  # the judge's requests, tokens and cost: not in the totals above


def validate_comparison(
    frame: pd.DataFrame, variants: Sequence[Variant], keys: Sequence[KeyEntry], base: RunSpec, scoring: Scoring, judge: Judge | None = None
) -> None:
    """Raise InputError, in plain words, for a comparison that cannot run or be scored."""
    check_variants(variants, base)
    for v in variants:
        try:
            validate_run(frame, v.spec(base), variant_keys(v, keys))
        except InputError as exc:
            if exc.code in ("header_only", "no_label_column", "variant_no_keys"):  # the table's, or naming the variant already
                raise
            params = {**exc.params, "variant": v.name}  # the page says it in its language, with the name
            raise InputError(f"{v.name}: {exc}", exc.code or "", **params) from None
    if scoring.mode == "oneof" and base.label_column is None:
        raise InputError("One-of scoring compares answers with a label column: choose it.", "oneof_needs_label")
    if scoring.mode == "judge" and judge is None:
        raise InputError("Judge scoring needs a judge: choose its provider and model.", "judge_missing")
    if judge is not None:
        if base.label_column is None and not judge.rubric:
            raise InputError("The judge grades against the label column or a rubric: choose the one, or write the other.", "judge_needs_label")
        judge_keys(judge, keys)


def _judge_estimate(frame: pd.DataFrame, variants: Sequence[Variant], keys: Sequence[KeyEntry], base: RunSpec, judge: Judge) -> RunEstimate:
    """The judge's share: one grading request per variant and row (failed rows are not sent, so
    at most this), each with the variant's prompt, the label and an answer as long as the label."""
    label = base.label_column
    frames = []
    for v in variants:
        answers = list(frame[label]) if label else [" " * 40] * len(frame)
        frames.append(judge_frame(frame, v, answers, ["ok"] * len(frame), label, ("ok",)))
    graded = pd.concat(frames, ignore_index=True)
    return estimate_run(graded, judge.spec(base, bool(label)), judge_keys(judge, keys))


def estimate_comparison(
    frame: pd.DataFrame, variants: Sequence[Variant], keys: Sequence[KeyEntry], base: RunSpec, judge: Judge | None = None
) -> ComparisonEstimate:
    """Requests, tokens, cost and time of every variant together. Variants on the same keys share
    their pace, so their time adds up; variants on other providers run alongside. The judge's
    share is its own (`judge`), and its time comes after the variants'."""
    per = [estimate_run(frame, v.spec(base), variant_keys(v, keys)) for v in variants]
    by_provider: dict[str, list[tuple[Variant, RunEstimate]]] = {}
    for v, est in zip(variants, per):
        by_provider.setdefault(v.base_url.rstrip("/"), []).append((v, est))
    seconds = 0.0
    for group in by_provider.values():
        rate_limited = [e for _, e in group if e.limited_by == "rate"]
        together = sum(e.seconds for e in rate_limited)  # one pace shared, one after the other
        seconds = max(seconds, together, max(e.seconds for _, e in group))
    graded = _judge_estimate(frame, variants, keys, base, judge) if judge is not None else None
    return ComparisonEstimate(
        tuple(per), sum(e.requests for e in per), sum(e.tokens_in for e in per), sum(e.tokens_out for e in per), sum(e.cost for e in per),
        seconds + (graded.seconds if graded else 0.0), graded,
    )  # fmt: skip


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
    judge: Judge | None = None,
    runner: Runner | None = None,
    user: User = LOCAL_USER,
) -> ComparisonRecord:
    """Store one run per variant on the chosen rows, start them all at once, and store the
    comparison, all belonging to `user`. Everything is checked before the first run starts: a
    comparison starts whole. With a `judge`, each variant is graded by it (in runs of `user`'s
    too) as soon as it has answered every row."""
    runner = runner or get_runner()
    rows, chosen = select_rows(frame.reset_index(drop=True).astype(str), selection)
    validate_comparison(chosen, variants, keys, base, scoring, judge)
    pools = [variant_keys(v, keys) for v in variants]
    handles: list[RunHandle] = []
    try:
        for v, pool in zip(variants, pools):
            handles.append(start_run(store, chosen, v.spec(base), pool, file_name=file_name, runner=runner, user=user))
    except BaseException:
        for h in handles:
            h.cancel()
        raise
    record = save_comparison(
        store, name=name or file_name, file_name=file_name, label_column=base.label_column, scoring=scoring, selection=selection,
        rows=rows, variants=variants, run_ids=[h.run_id for h in handles], owner=user.id, judge=judge,
    )  # fmt: skip
    if judge is not None:
        start_judging(store, record, judge_keys(judge, keys), runner)
    return record


def _record(store: RunStore, comparison_id: str, user: User) -> ComparisonRecord:
    """The comparison, if this user may act on it (its owner or an admin): else NotAllowed."""
    record = get_comparison(store, comparison_id)
    if record is None:
        raise InputError(f"There is no comparison {comparison_id!r} in {store.data_dir}.", "no_comparison")
    check_may_act(user, record, "comparison")
    return record


def resume_comparison(
    store: RunStore,
    comparison_id: str,
    keys: Sequence[KeyEntry] | None = None,
    *,
    retry_failed: bool = False,
    runner: Runner | None = None,
    user: User = LOCAL_USER,
) -> ComparisonRecord:
    """Continue every variant that has rows left (and, with `retry_failed`, failed rows): rows
    already answered are not sent again. Keys are needed again for real providers, the judge's
    included; the judge then grades what it has not graded yet."""
    runner = runner or get_runner()
    record = _record(store, comparison_id, user)
    for run in (store.get_run(run_id, counts=False) for run_id in record.run_ids):
        # checked before anything starts: a comparison resumes whole, in one process
        if run is not None and run.running_elsewhere and run.lease is not None:
            raise RunningElsewhere(run.lease)
    judge = record.judge
    pause_judging(runner, record.id, False)
    # Checked before anything starts: a judge that cannot go on would leave the variants graded by no one.
    judge_pool = None
    if judge is not None and judge_work_left(store, record, retry_failed=retry_failed):
        if not judge.simulated and not keys:
            raise InputError("Enter the judge's API keys again to resume its grading: keys are never saved.", "judge_keys_again")
        judge_pool = judge_keys(judge, keys or [])
    todo = _resumable(store, record, runner, retry_failed)
    for index in todo:  # every variant's keys first: a comparison resumes whole, or not at all
        v = record.variants[index]
        if not v.simulated:
            if not keys:
                raise InputError("Enter the API keys again to resume this run: keys are never saved.", "keys_again")
            variant_keys(v, keys)
    for index, (v, run_id) in enumerate(zip(record.variants, record.run_ids)):
        if index not in todo:
            continue
        run = store.get_run(run_id)
        assert run is not None
        pool = None if v.simulated else (variant_keys(v, keys) if keys else None)
        resume_run(store, run_id, pool, retry_failed=retry_failed, runner=runner, user=user)
    if judge_pool is not None:
        resume_judging(store, record, judge_pool, retry_failed=retry_failed, runner=runner, user=user)
    return record


def _resumable(store: RunStore, record: ComparisonRecord, runner: Runner, retry_failed: bool) -> list[int]:
    """The variants a resume continues: not deleted, not going (a paused one is), with rows left."""
    out = []
    for index, run_id in enumerate(record.run_ids):
        run = store.get_run(run_id)
        if run is None:
            continue  # deleted from History: the comparison goes on without it
        live = runner.going(run_id)
        if live is not None and live.snapshot().state != "paused":
            continue
        if run.pending or (retry_failed and run.failed):
            out.append(index)
    return out


def _handles(store: RunStore, record: ComparisonRecord, runner: Runner | None) -> list[RunHandle]:
    """The variants' and the judge's runs still going in this process."""
    runner = runner or get_runner()
    run_ids = [*record.run_ids, *all_judge_runs(store, record.id)]
    return [h for h in (runner.going(r) for r in run_ids) if h is not None]


def comparison_run_ids(store: RunStore, record: ComparisonRecord) -> list[str]:
    """Every run of a comparison: its variants', then its judge's."""
    return [*record.run_ids, *all_judge_runs(store, record.id)]


def pause_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    """Pause every variant and the judge (which also starts no new grading meanwhile)."""
    record = _record(store, comparison_id, user)
    pause_judging(runner or get_runner(), comparison_id, True)
    for h in _handles(store, record, runner):
        h.pause()


def continue_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    """Undo a pause of the variants (and the judge) still live in this process."""
    record = _record(store, comparison_id, user)
    pause_judging(runner or get_runner(), comparison_id, False)
    for h in _handles(store, record, runner):
        h.resume()


def cancel_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    """Stop every variant and the judge; what was answered and graded is kept, to be resumed."""
    record = _record(store, comparison_id, user)
    stop_judging(runner or get_runner(), comparison_id)
    for h in _handles(store, record, runner):
        h.cancel()


def stop_comparison(store: RunStore, comparison_id: str, message: str, runner: Runner | None = None, user: User = LOCAL_USER) -> None:
    """Stop sending and leave every run paused in the store (the command line's Ctrl-C)."""
    record = _record(store, comparison_id, user)
    stop_judging(runner or get_runner(), comparison_id)
    for h in _handles(store, record, runner):
        h.stop(message)


def rescore_comparison(store: RunStore, comparison_id: str, scoring: Scoring, user: User = LOCAL_USER) -> ComparisonRecord | None:
    """Score a comparison another way from now on (its owner's choice): nothing is sent again."""
    _record(store, comparison_id, user)
    return set_scoring(store, comparison_id, scoring)


def remove_comparison(store: RunStore, comparison_id: str, runner: Runner | None = None, user: User = LOCAL_USER) -> ComparisonRecord:
    """Delete a comparison and its variants' runs (and its judge's), as History's delete does: not
    while a variant is still going in this process (cancel it first). Returns what was deleted."""
    record = _record(store, comparison_id, user)
    elsewhere = any(r is not None and r.running_elsewhere for r in (store.get_run(i, counts=False) for i in record.run_ids))
    if _handles(store, record, runner) or judging(runner or get_runner(), comparison_id) or elsewhere:
        raise InputError("This comparison is still running: cancel it first.", "comparison_live")
    delete_comparison(store, comparison_id)
    return record


@dataclass(frozen=True)
class VariantProgress:
    variant: Variant
    run_id: str
    snapshot: ProgressSnapshot | None  # None: the run was deleted
    judges: tuple[ProgressSnapshot, ...] = ()  # the judge's runs grading this variant, oldest first
    judge_waiting: int = 0  # answers not given to the judge yet (it gets them once the variant ends)

    @property
    def judge_done(self) -> int:
        return sum(j.done for j in self.judges)

    @property
    def judge_total(self) -> int:
        """Answers the judge grades: those given to it, and those it waits for."""
        return sum(j.total for j in self.judges) + self.judge_waiting

    @property
    def judge_pending(self) -> int:
        return sum(j.pending for j in self.judges) + self.judge_waiting

    @property
    def judge_failed(self) -> int:
        return sum(j.failed for j in self.judges)

    @property
    def judge_state(self) -> str | None:
        """The newest judge run's state (None before the first): 'waiting_for_keys' matters."""
        return self.judges[-1].state if self.judges else None


@dataclass(frozen=True)
class ComparisonProgress:
    record: ComparisonRecord
    state: str
    variants: tuple[VariantProgress, ...]
    live: bool  # some variant (or the judge) is still going in this process: a page keeps polling
    judge_problems: tuple[tuple[str, str], ...] = ()  # (variant, why its judge could not start)

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
    def judge_done(self) -> int:
        return sum(v.judge_done for v in self.variants)

    @property
    def judge_total(self) -> int:
        return sum(v.judge_total for v in self.variants)

    @property
    def judge_pending(self) -> int:
        return sum(v.judge_pending for v in self.variants)

    @property
    def pending(self) -> int:
        """Rows still to answer, and answers still to grade: what a resume would do."""
        return sum(v.snapshot.pending for v in self.variants if v.snapshot is not None) + self.judge_pending

    @property
    def failed(self) -> int:
        """Rows that failed, the judge's included: what 'retry failed' would send again."""
        own = sum(v.snapshot.failed + v.snapshot.unparsed for v in self.variants if v.snapshot is not None)
        return own + sum(v.judge_failed for v in self.variants)


def comparison_progress(store: RunStore, comparison_id: str, runner: Runner | None = None) -> ComparisonProgress | None:
    """Each variant's progress (live from its engine, else from the store), its judge's, and how
    the whole comparison stands. None if there is no such comparison."""
    runner = runner or get_runner()
    record = get_comparison(store, comparison_id)
    if record is None:
        return None
    judge_runs = live_judge_runs(store, record.id) if record.judge is not None else {}
    items = []
    live = judging(runner, record.id)
    states: list[str] = []
    judge_states: list[str] = []
    for index, (v, run_id) in enumerate(zip(record.variants, record.run_ids)):
        snap = run_progress(store, run_id, runner)
        if snap is not None and runner.going(run_id) is not None:
            live = True
        if snap is not None:
            states.append(_state(store, run_id, snap, runner))
        judges = []
        for judge_id in judge_runs.get(index, []):
            judged = run_progress(store, judge_id, runner)
            if judged is None:
                continue
            judges.append(judged)
            live = live or runner.going(judge_id) is not None
            judge_states.append(_state(store, judge_id, judged, runner))
        # A judge run holds answers no other was given, so what is left is what they do not hold.
        waiting = max(0, snap.ok + snap.unparsed - sum(j.total for j in judges)) if record.judge is not None and snap is not None else 0
        items.append(VariantProgress(v, run_id, snap, tuple(judges), waiting))
    state = next((s for s in _STATE_ORDER if s in states), "done")
    if state == "done" and record.judge is not None:  # every variant has answered: the judge's turn
        if live:
            state = "paused" if judging_paused(runner, record.id) else "judging"
        else:
            # answers no judge grades in this process (a restart, a cancel) are to be resumed
            left = "interrupted" if any(p.judge_waiting for p in items) else "done"
            state = next((s for s in _STATE_ORDER if s in judge_states), left)
    problems = tuple((record.variants[i].name, why) for i, why in sorted(judge_problems(runner, record.id).items()))
    return ComparisonProgress(record, state, tuple(items), live, problems)


def _state(store: RunStore, run_id: str, snap: ProgressSnapshot, runner: Runner) -> str:
    if runner.going(run_id) is not None:
        return snap.state
    run = store.get_run(run_id, counts=False)
    status = effective_status(run, runner) if run is not None else snap.state
    return "done" if status == "done" or snap.pending == 0 else status
