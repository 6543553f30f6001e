"""Batches that nobody in this process follows, followed again: after a restart of the app, the
batch runs the store says are running (the process that polled them died) are polled again
without anyone pressing Resume. Never submitted again: `resume_run` polls the stored batches and
sends only parts that never became one.

    follow_batches(get_store(), get_runner(), server_keys)            # once per process, at start
    follow_batches(store, runner, page_keys, run_id=run_id)           # a page opening that run

A run made with real keys is followed only with its own keys (those the server presets, or those
a page has again), never with others: keys are never saved, so without them the run stays
interrupted and its page asks for them. A run on the simulator needs none.
"""

from __future__ import annotations

from collections.abc import Sequence

from .batch_store import BatchJobs
from .errors import InputError
from .keys import KeyEntry
from .runner import RunHandle, Runner, get_runner
from .runs import resume_run
from .status import RunStatus
from .store import RunStore

__all__ = ["follow_batches"]

# What the store says of a run whose process polled its batches until it died.
_FOLLOWED = (RunStatus.RUNNING, RunStatus.WAITING_FOR_KEYS)


def follow_batches(store: RunStore, runner: Runner | None = None, keys: Sequence[KeyEntry] = (), *, run_id: str | None = None) -> list[RunHandle]:
    """Poll again every stored batch run (or only `run_id`) that was being followed when its
    process stopped: a batch-mode run the store says is running, with a part not yet applied, and
    no engine of this process on it. A run of this process waiting for a key it lacks gets that
    key, if `keys` has it. Paused, cancelled and finished runs are left alone (a pause is a
    choice). Returns the handles of the runs it started following; safe to call again."""
    runner = runner or get_runner()
    open_runs = BatchJobs(store).open_runs()
    handles: list[RunHandle] = []
    for rid in open_runs if run_id is None else [r for r in open_runs if r == run_id]:
        record = store.get_run(rid, counts=False)
        if record is None or not record.spec.batch or record.status not in _FOLLOWED:
            continue
        if record.running_elsewhere:
            continue  # another process follows it (core/leases.py)
        known = {k.fingerprint for k in record.keys}
        own = [k for k in keys if k.fingerprint in known]
        live = runner.get(rid)
        if live is not None:
            if own and record.status == RunStatus.WAITING_FOR_KEYS:
                live.add_keys(own)
            continue
        if not own and not record.simulated:
            continue  # its keys are not here: the run shows as interrupted, and its page asks for them
        try:
            handles.append(resume_run(store, rid, own or None, runner=runner))
        except InputError:
            continue  # said when someone opens it and presses Resume
    return handles
