"""A comparison's judge at work: ordinary runs on the judge's provider and keys (so the same key
pool, the same gate per key and the same response cache as the variants), one for a variant as
soon as it has answered every row, holding the answers no earlier one was given (after a retry of
failed rows, the new answers), and resumed with the comparison.

    start_judging(store, record, keys, runner)   # right after start_comparison: waits, then grades
    judging(runner, record.id)                   # a variant is still awaited in this process
    resume_judging(store, record, keys, runner=runner)

A variant's answers are graded once all of them are in, because a run's rows are fixed when it
starts. Its failed rows are not sent: a failed row is a wrong answer already. The keys are held
in memory by the threads that wait, and dropped with them."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from . import constants as C
from .access import LOCAL_USER, User
from .compare_report import ANSWERED, variant_answers
from .compare_store import ComparisonRecord, judge_run_ids, save_judge_run
from .errors import InputError
from .judge import Judge, judge_frame
from .keys import KeyEntry
from .runner import RunHandle, Runner
from .runs import resume_run, start_run
from .store import RunStore
from .variants import variant_keys

__all__ = [
    "judge_keys", "start_judge_run", "start_judging", "resume_judging", "judging", "stop_judging", "pause_judging", "judging_paused", "judge_problems",
    "judge_work_left", "live_judge_runs",
]  # fmt: skip

log = logging.getLogger(__name__)


def judge_keys(judge: Judge, keys: Sequence[KeyEntry]) -> list[KeyEntry]:
    """The keys the judge is sent with: those of its provider (the simulated one needs none)."""
    try:
        return variant_keys(judge.variant(True), keys)
    except InputError:
        raise InputError(
            f"The judge uses {judge.provider} ({judge.base_url.rstrip('/')}) but no key for it was given.", "judge_no_keys", provider=judge.provider
        ) from None


@dataclass
class _Waiter:
    thread: threading.Thread
    stop: threading.Event


@dataclass
class _Judging:
    waiters: dict[int, _Waiter]
    problems: dict[int, str]
    paused: threading.Event  # set: a variant that ends meanwhile is not graded until it is cleared


# Per runner (a test's runner is not the app's), per comparison: the threads waiting for a variant.
_lock = threading.Lock()
_by_runner: weakref.WeakKeyDictionary[Runner, dict[str, _Judging]] = weakref.WeakKeyDictionary()


def _judging(runner: Runner, comparison_id: str) -> _Judging:
    return _by_runner.setdefault(runner, {}).setdefault(comparison_id, _Judging({}, {}, threading.Event()))


def live_judge_runs(store: RunStore, comparison_id: str) -> dict[int, list[str]]:
    """Variant index -> its judge's runs that still exist (one deleted from History is as if it
    had never been: the answers it held are graded again)."""
    out: dict[int, list[str]] = {}
    for index, runs in judge_run_ids(store, comparison_id).items():
        kept = [r for r in runs if store.get_run(r, counts=False) is not None]
        if kept:
            out[index] = kept
    return out


def _sent(store: RunStore, run_ids: Sequence[str]) -> set[int]:
    """The comparison rows these judge runs were given."""
    rows: set[int] = set()
    for run_id in run_ids:
        inputs = store.load_inputs(run_id)
        rows |= {int(r) for r in inputs["row"]} if "row" in inputs.columns else set()
    return rows


def _ungraded(store: RunStore, record: ComparisonRecord, index: int) -> int | None:
    """Answers of a finished variant no judge run was given; None while the variant has rows to
    do (or is deleted)."""
    run = store.get_run(record.run_ids[index])
    if run is None or run.pending:
        return None
    answered = {i for i, st in enumerate(variant_answers(store, run, run.n_rows).statuses) if st in ANSWERED}
    return len(answered - _sent(store, live_judge_runs(store, record.id).get(index, [])))


def start_judge_run(store: RunStore, record: ComparisonRecord, index: int, keys: Sequence[KeyEntry], runner: Runner) -> RunHandle | None:
    """Start a judge run for one variant whose every row has its result, with its answers no
    judge run was given yet. None when there is nothing to start: no judge, a deleted or
    unfinished variant, or no answer left to grade (every one given already, or every row failed)."""
    judge = record.judge
    if judge is None:
        return None
    run = store.get_run(record.run_ids[index])
    if run is None or run.pending:
        return None
    answers = variant_answers(store, run, run.n_rows)
    frame = judge_frame(store.load_inputs(run.id), record.variants[index], answers.answers, answers.statuses, record.label_column, ANSWERED)
    sent = _sent(store, live_judge_runs(store, record.id).get(index, []))
    frame = frame[[int(r) not in sent for r in frame["row"]]].reset_index(drop=True)
    if frame.empty:
        return None
    spec = judge.spec(run.spec, has_label=bool(record.label_column))
    # The comparison's owner's, as its variants are (and so is what it caches); shared with it.
    owner = User(record.owner, record.owner or LOCAL_USER.name)
    # A crash between these two leaves a judge run no comparison names: History lists it, and a
    # resume gives its answers to a new one.
    handle = start_run(store, frame, spec, keys, file_name=record.file_name, runner=runner, user=owner)
    save_judge_run(store, record.id, index, handle.run_id)
    if record.shared:
        store.set_shared(handle.run_id, True)
    return handle


def _wait_then_judge(store: RunStore, record: ComparisonRecord, index: int, keys: Sequence[KeyEntry], runner: Runner, stop: threading.Event) -> None:
    run_id = record.run_ids[index]
    with _lock:
        paused = _judging(runner, record.id).paused
    while not stop.is_set():
        handle = runner.get(run_id)
        if handle is None and not paused.is_set():
            break
        if handle is not None:
            handle.wait(C.JUDGE_WAIT_S)
        else:
            stop.wait(C.JUDGE_WAIT_S)  # the comparison is paused: its judge starts nothing new
    if stop.is_set():
        return
    try:
        start_judge_run(store, record, index, keys, runner)
    except Exception as exc:  # a thread has no caller to raise to: the page and the CLI say it
        log.warning("The judge of comparison %s could not start for variant %s: %s", record.id, record.variants[index].name, exc)
        with _lock:
            _judging(runner, record.id).problems[index] = str(exc)


def start_judging(store: RunStore, record: ComparisonRecord, keys: Sequence[KeyEntry], runner: Runner) -> None:
    """For every variant: a thread that waits until the variant's run ends, then gives the judge
    the answers it has not had yet (at once for a variant that is not running)."""
    if record.judge is None:
        return
    with _lock:
        state = _judging(runner, record.id)
        for index in range(len(record.variants)):
            waiter = state.waiters.get(index)
            if waiter is not None and waiter.thread.is_alive() and not waiter.stop.is_set():
                continue
            state.problems.pop(index, None)
            stop = threading.Event()
            thread = threading.Thread(
                target=_wait_then_judge, args=(store, record, index, list(keys), runner, stop), name=f"judge-{record.id}-{index}", daemon=True
            )
            state.waiters[index] = _Waiter(thread, stop)
            thread.start()


def judging(runner: Runner, comparison_id: str) -> bool:
    """A variant of this comparison is still awaited by its judge in this process."""
    with _lock:
        state = _by_runner.get(runner, {}).get(comparison_id)
        return state is not None and any(w.thread.is_alive() and not w.stop.is_set() for w in state.waiters.values())


def pause_judging(runner: Runner, comparison_id: str, paused: bool) -> None:
    """While paused, a variant that ends is not graded yet (its judge's run waits to start)."""
    with _lock:
        event = _judging(runner, comparison_id).paused
    event.set() if paused else event.clear()


def judging_paused(runner: Runner, comparison_id: str) -> bool:
    with _lock:
        state = _by_runner.get(runner, {}).get(comparison_id)
        return state is not None and state.paused.is_set()


def judge_problems(runner: Runner, comparison_id: str) -> dict[int, str]:
    """Variant index -> why its judge's run could not start, in this process."""
    with _lock:
        state = _by_runner.get(runner, {}).get(comparison_id)
        return dict(state.problems) if state is not None else {}


def stop_judging(runner: Runner, comparison_id: str) -> None:
    """Start no new judge run for this comparison (a cancel, a Ctrl-C); resume starts them again."""
    with _lock:
        state = _by_runner.get(runner, {}).get(comparison_id)
        for waiter in state.waiters.values() if state is not None else ():
            waiter.stop.set()


def judge_work_left(store: RunStore, record: ComparisonRecord, *, retry_failed: bool = False) -> bool:
    """Whether a resume has anything for the judge to do (and so needs its keys)."""
    if record.judge is None:
        return False
    runs = live_judge_runs(store, record.id)
    for index, run_id in enumerate(record.run_ids):
        variant = store.get_run(run_id)
        if variant is None:
            continue
        if variant.pending or (retry_failed and variant.failed) or _ungraded(store, record, index):
            return True  # answers to come, or answers not given to the judge yet
        for judge_run in (store.get_run(r) for r in runs.get(index, [])):
            if judge_run is not None and (judge_run.pending or (retry_failed and judge_run.failed)):
                return True
    return False


def resume_judging(
    store: RunStore, record: ComparisonRecord, keys: Sequence[KeyEntry] | None, *, retry_failed: bool = False, runner: Runner, user: User = LOCAL_USER
) -> None:
    """Continue the judge's runs that have rows left (and, with `retry_failed`, failed rows), and
    wait again for every variant, to give the judge the answers it has not had (those of failed
    rows retried among them). Keys are needed again for a judge on a real provider."""
    judge = record.judge
    if judge is None:
        return
    if keys is None and not judge.simulated:
        raise InputError("Enter the judge's API keys again to resume its grading: keys are never saved.", "judge_keys_again")
    pool = judge_keys(judge, keys or [])
    for run_id in [r for runs in live_judge_runs(store, record.id).values() for r in runs]:
        run = store.get_run(run_id)
        if run is None:
            continue
        live = runner.going(run_id)
        if live is not None and live.snapshot().state != "paused":
            continue
        if run.pending == 0 and not (retry_failed and run.failed):
            continue
        resume_run(store, run_id, None if judge.simulated else pool, retry_failed=retry_failed, runner=runner, user=user)
    start_judging(store, record, pool, runner)
