"""The actions on a run, one call per button of a page or command of the command line: validate,
start, resume (or retry the failed rows), and read a run's progress and real status.

Not to be confused with `runner.py`, the machinery underneath: the one background event loop that
hosts every engine, and the thread-safe `RunHandle`. This module decides *what* to run (the store's
record, the keys, the rows still to do); the runner only runs it. The estimate is in `estimate.py`."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pandas as pd

from . import constants as C
from .access import LOCAL_USER, User
from .batch import batch_jobs, check_no_open_batch, launch_batch
from .engine import BatchEngine
from .errors import InputError
from .keys import KeyEntry, demo_pool
from .leases import RunLease, take_lease
from .outbound import check_base_urls
from .ownership import check_may_act
from .progress import KeyStatus, ProgressSnapshot, ProgressTracker
from .runner import RunHandle, Runner, get_runner
from .spec import RunSpec
from .status import RowStatus, RunStatus
from .store import RunRecord, RunStore
from .template import PromptTemplate

__all__ = [
    "validate_run", "start_run", "resume_run", "resume_keys", "check_same_model", "run_progress", "effective_status",
    "pause_run", "continue_run", "cancel_run", "remove_run",
]  # fmt: skip


def validate_run(frame: pd.DataFrame, spec: RunSpec, keys: Sequence[KeyEntry]) -> None:
    """Raise InputError, in plain words, for anything that would make the run pointless."""
    if frame is None or len(frame) == 0:
        raise InputError("The table has no rows: upload a file with at least one data row.", "header_only")
    PromptTemplate(spec.template, spec.system).check([str(c) for c in frame.columns])
    if spec.label_column and spec.label_column not in frame.columns:
        raise InputError(f"The label column {spec.label_column!r} is not in the table.", "no_label_column", column=spec.label_column)
    if not keys:
        raise InputError("Add at least one API key, or use the simulated provider for a demo.", "no_keys")
    check_outbound(keys)


def check_outbound(keys: Sequence[KeyEntry]) -> None:
    """On a hosted server, refuse base URLs it must not call before anything is stored or sent
    (InputError with code outbound_<reason>). The clients check again at every connection."""
    check_base_urls(k.base_url for k in keys if not k.simulated)


def _launch(
    store: RunStore, record: RunRecord, keys: Sequence[KeyEntry], runner: Runner, rng: random.Random | None, lease: RunLease, cells: list[tuple] | None = None
) -> RunHandle:
    # A fresh run already holds its rows; only a resumed one reads them back from the store
    # (decoding 100,000 rows again would be the run's largest memory peak).
    if cells is None:
        cells = list(store.load_inputs(record.id).itertuples(index=False, name=None))
    rows = store.pending_rows(record.id)
    tracker = ProgressTracker(record.id, record.n_rows, [k.info() for k in keys], simulated=all(k.simulated for k in keys))
    tracker.preload(
        ok=record.ok, unparsed=record.unparsed, failed=record.failed, tokens_in=record.tokens_in, tokens_out=record.tokens_out,
        cost=record.cost, correct=record.correct, judged=record.judged, reasked=record.reasked,
    )  # fmt: skip
    engine = BatchEngine(
        run_id=record.id, store=store, spec=record.spec, columns=record.columns, cells=cells,
        rows=rows, keys=keys, gates=runner.gates, tracker=tracker, client_factory=runner.client_factory, rng=rng, owner=record.owner,
    )  # fmt: skip
    return runner.launch(engine, lease)


def _go(
    store: RunStore, record: RunRecord, keys: Sequence[KeyEntry], runner: Runner, rng: random.Random | None, lease: RunLease, *,
    batch: bool, cells: list[tuple] | None = None,
) -> RunHandle:  # fmt: skip
    """Launch with the run's lease, or give the lease back if the launch fails."""
    try:
        if batch:
            return launch_batch(store, record, keys, runner, lease=lease)
        return _launch(store, record, keys, runner, rng, lease, cells=cells)
    except BaseException:
        _give_back(lease, runner)
        raise


def _give_back(lease: RunLease, runner: Runner) -> None:
    # The lease is the process's: while an engine of this process still runs the run (a resume that
    # lost a race with another tab's), it is that engine's to keep.
    if runner.get(lease.run_id) is None:
        lease.release()


def start_run(
    store: RunStore,
    frame: pd.DataFrame,
    spec: RunSpec,
    keys: Sequence[KeyEntry],
    *,
    file_name: str = "",
    first_rows: int | None = None,
    runner: Runner | None = None,
    rng: random.Random | None = None,
    user: User = LOCAL_USER,
) -> RunHandle:
    """Store the run (settings and input rows, never keys) and start it in the background; it
    belongs to `user`."""
    if first_rows is not None and first_rows < len(frame):
        spec = spec.replace(test_of=len(frame))  # History tells a test from the real thing
        frame = frame.head(max(1, first_rows))
    validate_run(frame, spec, keys)
    frame = frame.reset_index(drop=True).astype(str)
    run_id = store.create_run(spec, frame, [k.info() for k in keys], file_name=file_name, owner=user.id)
    lease = take_lease(store, run_id)  # before it is visible as startable: no other process starts it
    record = store.get_run(run_id)
    assert record is not None
    return _go(store, record, keys, runner or get_runner(), rng, lease, batch=spec.batch, cells=list(frame.itertuples(index=False, name=None)))


def resume_run(
    store: RunStore,
    run_id: str,
    keys: Sequence[KeyEntry] | None = None,
    *,
    retry_failed: bool = False,
    switch_model: bool = False,
    runner: Runner | None = None,
    rng: random.Random | None = None,
    now: bool = False,
    user: User = LOCAL_USER,
) -> RunHandle:
    """Continue a stored run: rows that already have a result are not sent again. A run still
    live in this process gets the new keys instead (even while a cancel is finishing its last
    requests). A simulated run needs no keys. Keys for another provider or model continue the
    run only with `switch_model=True`, which the run records. A batch-mode run polls its stored
    batches (never submitting them again) and retries failed rows as a new batch, or sends them
    now with `now=True`. Only the run's owner (or an admin) may: NotAllowed for anyone else."""
    runner = runner or get_runner()
    record = store.get_run(run_id, counts=False)  # the counts are read below, once up to date
    if record is None:
        raise InputError(f"There is no run {run_id!r} in {store.data_dir}.")
    check_may_act(user, record)
    if keys and not record.simulated and all(k.simulated for k in keys):
        keys = None  # simulated answers must not be mixed into a run made with a real model
    if keys:
        check_same_model(record, keys, switch_model)
        check_outbound(keys)
    if now and record.spec.batch:
        check_no_open_batch(store, run_id)
    live = runner.get(run_id)
    if live is not None:
        if keys:
            live.add_keys(keys)
        if not retry_failed and live.try_resume():
            return live
        # The engine is closing (or must re-read failed rows): let it end, then start afresh. A
        # batch run only stops polling: cancelling would cancel its batches at the provider and
        # lose the work they have done; the new run polls them again.
        if record.spec.batch:
            live.stop("Polling stopped, to go on with the failed rows.")
        else:
            live.cancel()
        live.wait(C.STOP_GRACE_S + 30)
    # Owned before anything is changed: another process may be running it, and then nothing here may touch it.
    lease = take_lease(store, run_id)
    try:
        if not keys:
            if not record.simulated:
                raise InputError("Enter the API keys again to resume this run: keys are never saved.", "keys_again")
            rpm = record.keys[0].rpm if record.keys else C.SIMULATED_RESUME_RPM
            keys = demo_pool(len(record.keys) or C.DEMO_KEYS, rpm=rpm)
        if retry_failed:
            store.reset_rows(run_id, RowStatus.FAILED)
        infos = [k.info() for k in keys]
        if switch_model:  # the run keeps the record of every provider and model it was sent to
            infos = [k for k in record.keys if (k.fingerprint, k.model) not in {(i.fingerprint, i.model) for i in infos}] + infos
        elif record.spec.batch:  # a key that owns a part still at the provider stays on record, to be named while it is missing
            owners = {j.key_fp for j in batch_jobs(store, run_id) if not j.applied}
            infos = [k for k in record.keys if k.fingerprint in owners and k.fingerprint not in {i.fingerprint for i in infos}] + infos
        store.update_keys(run_id, infos)
        record = store.get_run(run_id)
        assert record is not None
    except BaseException:
        _give_back(lease, runner)
        raise
    return _go(store, record, keys, runner, rng, lease, batch=record.spec.batch and not now)


def resume_keys(record: RunRecord, offered: Sequence[KeyEntry] | None) -> Sequence[KeyEntry] | None:
    """Which of the keys a page has now go to `resume_run` for this run. A run made on the
    simulator resumes on simulated keys like its own (None), whatever keys the page holds: real
    answers must not be mixed into a demo run. A run made with real keys gets the page's keys;
    resume_run itself refuses simulated ones for it, and asks for keys when there are none."""
    return None if record.simulated else offered


def check_same_model(record: RunRecord, keys: Sequence[KeyEntry], switch_model: bool = False) -> None:
    """Resume and retry continue a run on the provider and model it was made with; answers from
    another model in one table would compare apples with pears. Switching is an explicit choice."""
    before = {(k.base_url.rstrip("/"), k.model) for k in record.keys if not k.simulated}
    after = {(k.base_url.rstrip("/"), k.model) for k in keys}
    if not before or after <= before or switch_model:
        return
    was = ", ".join(sorted(f"{m} at {u}" for u, m in before))
    now = ", ".join(sorted(f"{m} at {u}" for u, m in after - before))
    raise InputError(
        f"This run was made with {was}; these keys are for {now}. Use keys for the same model, or choose to continue with the other model.",
        "other_model",
        was=was,
        now=now,
    )


def run_progress(store: RunStore, run_id: str, runner: Runner | None = None) -> ProgressSnapshot | None:
    """A run's progress: live from its engine if it runs in this process, else from the store
    (a reloaded page, another tab, a restarted server, another process that runs it: `elsewhere`
    then says which). None if there is no such run."""
    runner = runner or get_runner()
    handle = runner.get(run_id)
    if handle is not None:
        return handle.snapshot()
    last = runner.last(run_id)  # ended here: its final snapshot says most, unless another process runs it now
    if last is not None and not ((stored := store.get_run(run_id, counts=False)) is not None and stored.running_elsewhere):
        return last.snapshot()
    record = store.get_run(run_id)
    if record is None:
        return None
    status = effective_status(record, runner)
    elsewhere = record.lease.where if record.lease is not None and record.running_elsewhere else ""
    keys = tuple(KeyStatus(k.fingerprint, k.masked, k.provider, k.model, k.rpm, state="active" if elsewhere else "idle") for k in record.keys)
    return ProgressSnapshot(
        run_id=record.id, state=status, message=record.message, total=record.n_rows, ok=record.ok, unparsed=record.unparsed,
        failed=record.failed, in_flight=0, cached=0, timeouts=0, retries=0, rows_per_s=0.0, eta_s=None, elapsed_s=0.0,
        tokens_in=record.tokens_in, tokens_out=record.tokens_out, cost=record.cost,
        projected_cost=record.cost / record.done * record.n_rows if record.done else None,
        correct=record.correct, judged=record.judged, keys=keys, recent_errors=(), simulated=record.simulated, elsewhere=elsewhere,
        reasked=record.reasked,
    )  # fmt: skip


def effective_status(record: RunRecord, runner: Runner | None = None) -> RunStatus:
    """A run the store says is running but that no engine runs, in this process or in another
    that holds its lease, was cut off (server restart, crash): it is 'interrupted' and can be
    resumed. One another process runs is as that process says."""
    if record.status in (RunStatus.RUNNING, RunStatus.WAITING_FOR_KEYS):
        live = (runner or get_runner()).get(record.id)
        if live is None and not record.running_elsewhere:
            return RunStatus.INTERRUPTED if record.pending else RunStatus.DONE
    return record.status


# --- steering a live run: its owner's (or an admin's) -----------------------------------------------


def _owned(store: RunStore, run_id: str, user: User) -> RunRecord:
    record = store.get_run(run_id, counts=False)
    if record is None:
        raise InputError(f"There is no run {run_id!r} in {store.data_dir}.")
    check_may_act(user, record)
    return record


def pause_run(store: RunStore, run_id: str, user: User = LOCAL_USER, runner: Runner | None = None) -> None:
    """Pause a run going in this process: requests already sent finish."""
    _owned(store, run_id, user)
    handle = (runner or get_runner()).going(run_id)
    if handle is not None:
        handle.pause()


def continue_run(store: RunStore, run_id: str, user: User = LOCAL_USER, runner: Runner | None = None) -> None:
    """Undo a pause (or a cancel still finishing) of a run going in this process."""
    _owned(store, run_id, user)
    handle = (runner or get_runner()).going(run_id)
    if handle is not None:
        handle.resume()


def cancel_run(store: RunStore, run_id: str, user: User = LOCAL_USER, runner: Runner | None = None) -> None:
    """Cancel a run going in this process: finished rows are kept."""
    _owned(store, run_id, user)
    handle = (runner or get_runner()).get(run_id)
    if handle is not None:
        handle.cancel()


def remove_run(store: RunStore, run_id: str, user: User = LOCAL_USER, runner: Runner | None = None) -> RunRecord:
    """Delete a run with its rows and the answers it put in the response cache (History's
    delete): not while it is still going, in this process or in another (cancel it first)."""
    record = _owned(store, run_id, user)
    if (runner or get_runner()).get(run_id) is not None:
        raise InputError("This run is still going: cancel it first.", "run_live")
    if record.running_elsewhere and record.lease is not None:
        lease = record.lease
        where, pid, host = lease.where, lease.pid, lease.host
        raise InputError(f"This run is running in another process ({where}): cancel it there first.", "run_elsewhere", where=where, pid=pid, host=host)
    store.delete_run(run_id)
    return record
