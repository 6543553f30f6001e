"""Batch mode: a run sent through the provider's own Batch API (`/v1/files` + `/v1/batches`), at
half price, done within the provider's window (24 h), with nothing lost or submitted twice across
restarts.

    handle = start_run(store, frame, spec.replace(batch=True), keys)   # core.runs calls start_batch_run
    handle.wait(); store.results_table(handle.run_id)

How a batch run travels: the pending rows become request files (`batch_files`), recorded as
intents (`batch_store`) before anything is uploaded. The parts are spread over the keys; each
part's key is stored (its fingerprint) before it uploads the file, then the file id, then the
batch (created with metadata naming the run and part) and its id. Two crash windows are where
the provider knows what the store does not: an upload whose id was not stored (a resume lists
that key's files by name, adopts a whole one and deletes the rest) and a create whose id was not
stored (a resume lists the batches for that metadata and adopts the one it finds). Polling backs
off from seconds to minutes, each part with its own key. A finished batch's output and error
files are read back by custom_id: every row of the file gets one result, in one transaction with
the mark that the part is applied. Cancel cancels at the provider and keeps what it finished.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import openai

from . import constants as C
from .batch_files import BatchLimits, LineOutcome, read_outcomes, request_file, request_lines, split_requests
from .batch_keys import MissingKey, PartKeys
from .batch_rows import BatchRowReader
from .batch_store import TERMINAL_STATES, BatchJob, BatchJobs
from .clients import ClientFactory
from .errors import ErrorKind, Failure, InputError, classify, scrub
from .keys import PROVIDER_PRESETS, KeyEntry
from .leases import RunLease
from .progress import ProgressTracker
from .runner import RunHandle, Runner
from .status import RunStatus
from .store import RunRecord, RunStore
from .structured import AskMode, ask_messages, ask_params, remembered_mode
from .template import PromptTemplate

T = TypeVar("T")

__all__ = ["BatchRun", "BatchCost", "batch_cost", "batch_supported", "launch_batch", "check_no_open_batch", "batch_jobs", "METADATA_RUN", "METADATA_PART"]

METADATA_RUN = "llm_batch_run"
METADATA_PART = "llm_batch_part"


def batch_supported(provider: str) -> bool:
    """Batch mode is offered for presets that serve the Batch API; a custom base URL may try."""
    preset = PROVIDER_PRESETS.get(provider)
    return preset.batch if preset is not None else True


@dataclass(frozen=True)
class BatchCost:
    now: float
    batch: float
    window: str


def batch_cost(now_cost: float) -> BatchCost:
    """The estimate's two prices side by side: sent now, and as a batch within the window."""
    return BatchCost(now_cost, now_cost * C.BATCH_PRICE_FACTOR, C.BATCH_WINDOW)


def poll_delays(first: float | None = None, most: float | None = None, growth: float | None = None):  # type: ignore[no-untyped-def]
    """Seconds between polls: from seconds at first, growing to minutes."""
    delay = C.BATCH_POLL_FIRST_S if first is None else first
    most = C.BATCH_POLL_MAX_S if most is None else most
    growth = C.BATCH_POLL_GROWTH if growth is None else growth
    while True:
        yield delay
        delay = min(most, delay * growth)


class BatchRun:
    """One batch-mode run on the engine loop, steered like a `BatchEngine` through a `RunHandle`
    (pause, resume, stop, abort, add_keys). Pause and stop only stop polling: the batch goes on
    at the provider, and a resume polls it again. Synchronous work that grows with the run
    (building request files, reading output files, committing their rows) runs in a worker
    thread, so the loop and every other run on it go on meanwhile."""

    def __init__(
        self, *, store: RunStore, record: RunRecord, keys: Sequence[KeyEntry], tracker: ProgressTracker, client_factory: ClientFactory,
        limits: BatchLimits | None = None, retry_failed: bool = False,
    ) -> None:  # fmt: skip
        self.run_id = record.id
        self.store = store
        self.record = record
        self.jobs = BatchJobs(store)
        self.tracker = tracker
        self.owners = PartKeys(keys, record.keys, client_factory, record.spec.timeout_s)
        self.limits = limits or BatchLimits(C.BATCH_MAX_REQUESTS, C.BATCH_MAX_BYTES)  # read now: tests shrink them
        self._secrets = [k.api_key for k in keys]
        self._wake = asyncio.Event()
        self._paused = False
        self._waiting = False  # every open part waits for its key
        self._stop: tuple[str, str] | None = None
        self._cancel = False
        self._cancelled: set[int] = set()
        self._cells: list[tuple] | None = None

    @property
    def keys(self) -> list[KeyEntry]:
        return self.owners.entries

    # --- control (on the loop) ----------------------------------------------------------------

    def pause(self) -> None:
        self._paused = True
        self.tracker.set_state("paused", "Paused: the batch goes on at the provider; resume to follow it.")
        self.store.set_status(self.run_id, "paused", "Paused: the batch goes on at the provider; resume to follow it.")

    def resume(self) -> bool:
        if self._stop is not None:
            return False
        self._paused = False
        self._waiting = False  # said again at the next poll if it still is
        self.tracker.set_state("running")
        self.store.set_status(self.run_id, "running")
        self._wake.set()
        return True

    def stop(self, state: str = "cancelled", message: str = "") -> None:
        if state == "cancelled":  # cancel at the provider, then keep polling until it says cancelled
            self._cancel = True
            self._paused = False
        else:
            self._stop = (state, message)
        self._wake.set()

    def abort(self) -> None:
        self._stop = self._stop or ("paused", "Stopped: the batch goes on at the provider; resume to follow it.")
        self._wake.set()

    def add_keys(self, keys: Sequence[KeyEntry]) -> None:
        new = [k for k in keys if k.fingerprint not in {e.fingerprint for e in self.keys}]
        if not new:
            return
        self.owners.add(new)
        self._secrets += [k.api_key for k in new]
        known = {k.fingerprint for k in self.record.keys}
        self.record = replace(self.record, keys=(*self.record.keys, *(k.info() for k in new if k.fingerprint not in known)))
        self.store.update_keys(self.run_id, list(self.record.keys))
        self.tracker.add_keys([k.info() for k in new])
        self._wake.set()  # a part that waited for one of them goes on now

    # --- the run --------------------------------------------------------------------------------

    async def run(self) -> str:
        state, message = "failed", ""
        try:
            self._set("running")
            await self._plan()
            for job in self.jobs.list(self.run_id):
                if not job.applied and job.batch_id is None and self._stop is None and not self._cancel:
                    try:
                        await self._submit(job)
                    except _Retry as retry:  # the provider could not be reached: polling tries again
                        self.tracker.note_error(retry.message)
                    except MissingKey:
                        pass  # said by the polling below
            state, message = await self._follow()
        except _Halt as halt:
            state, message = halt.state, halt.message
        except Exception as exc:  # the provider refused, or a bug: the run stops with the reason, rows stay pending
            state, message = "failed", scrub(f"Batch mode stopped: {type(exc).__name__}: {exc}", self._secrets, limit=500)
        finally:
            await self.owners.close()
        self._set(state, message)
        return state

    def _set(self, state: str, message: str = "") -> None:
        self.store.set_status(self.run_id, state, message)
        self.tracker.set_state(state, message)

    async def _off_loop(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker thread; the store connection that thread opened is closed after."""

        def run() -> T:
            try:
                return work(*args)
            finally:
                self.store.close()

        return await asyncio.to_thread(run)

    def _cells_of(self) -> list[tuple]:
        if self._cells is None:
            self._cells = list(self.store.load_inputs(self.run_id).itertuples(index=False, name=None))
        return self._cells

    def _lines(self, rows: Sequence[int], model: str):  # type: ignore[no-untyped-def]
        spec = self.record.spec
        template = PromptTemplate(spec.template, spec.system)
        cells = self._cells_of()
        columns = list(self.record.columns)

        # Output columns are asked for as a run sent now would first ask (what worked for this
        # provider and model before, else json_schema); a batch cannot step down line by line,
        # nor ask a row again, but every answer is checked and typed all the same.
        base_url = self.keys[0].base_url if self.keys else ""
        mode = (remembered_mode(self.store, base_url, model) or AskMode.JSON_SCHEMA) if spec.columns else AskMode.INSTRUCTIONS

        def messages_of(row: int) -> list[dict[str, str]]:
            return ask_messages(spec, template.messages(dict(zip(columns, cells[row]))), mode)

        return request_lines(self.run_id, rows, messages_of, model, ask_params(spec, mode, spec.request_params()))

    async def _plan(self) -> None:
        """Intents for the pending rows no unfinished part holds yet (all of them on a first start,
        the failed ones after a retry), in one transaction, before anything is uploaded."""
        held = {row for job in self.jobs.list(self.run_id) if not job.applied for row in job.rows}
        rows = [r for r in self.store.pending_rows(self.run_id) if r not in held]
        if rows:
            await self._off_loop(self._plan_rows, rows)

    def _plan_rows(self, rows: list[int]) -> None:  # in a worker thread
        # Split with the longest model name of the keys, so a part fits whichever key sends it.
        model = max((k.model for k in self.keys), key=len)
        files, too_large = split_requests(self._lines(rows, model), self.limits, contents=False)
        if too_large:
            reader = self._reader(self.keys[0])
            limit = f"{self.limits.max_bytes:,} bytes"
            error = f"This row's request is larger than a batch file may be ({limit}): send it now instead."
            self.store.record_results(self.run_id, [(reader.result(LineOutcome(r, error=error)), None) for r in too_large])
            for _ in too_large:
                self.tracker.row_finished("failed", tokens_in=0, tokens_out=0, cost=0.0, cached=False, correct=None)
        self.jobs.add_intents(self.run_id, [f.rows for f in files])

    def _content(self, job: BatchJob, key: KeyEntry) -> bytes:  # in a worker thread
        """Exactly this part's lines, as planned: never split again (limits may have changed since)."""
        return request_file(self._lines(job.rows, key.model))

    def _filename(self, job: BatchJob) -> str:
        return f"{self.run_id}-part{job.part}.jsonl"

    async def _submit(self, job: BatchJob) -> None:
        key = self.owners.owner(job) or self.owners.pick(job.part)
        client = self.owners.client(key)
        file_id = job.input_file_id
        if file_id is None:
            content = await self._off_loop(self._content, job, key)
            if job.key_fp == key.fingerprint:
                # This key was about to upload it before: a crash (or a lost answer) may have left
                # the file at the provider without its id stored here.
                file_id = await self._adopt_upload(client, job, len(content))
            else:
                self.jobs.set_key(self.run_id, job.part, key.fingerprint)
            if file_id is None:
                uploaded = await self._call(client.files.create(file=(self._filename(job), content, "application/jsonl"), purpose="batch"))
                file_id = uploaded.id
            del content
            self.jobs.set_file(self.run_id, job.part, file_id)
        else:
            found = await self._find(client, job)  # the crash window: created, but its id never stored
            if found is not None:
                self.jobs.set_batch(self.run_id, job.part, found.id, found.status)
                return
        metadata = {METADATA_RUN: self.run_id, METADATA_PART: str(job.part)}
        batch = await self._call(
            client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window=C.BATCH_WINDOW, metadata=metadata)
        )
        self.jobs.set_batch(self.run_id, job.part, batch.id, batch.status)

    async def _adopt_upload(self, client: openai.AsyncOpenAI, job: BatchJob, size: int) -> str | None:
        """This part's files already at the provider (`files.list`, by purpose and file name): the
        first whole one is adopted, any other deleted, so no orphan is left behind. None: none."""
        name, adopted = self._filename(job), None
        try:
            async for f in client.files.list(purpose="batch"):
                if f.filename != name:
                    continue
                if adopted is None and f.bytes == size and getattr(f, "status", None) != "error":
                    adopted = f.id
                else:
                    await client.files.delete(f.id)
        except Exception as exc:
            raise _stop_or_retry(classify(exc, self._secrets)) from None
        return adopted

    async def _drop_unsent(self, job: BatchJob) -> None:
        """A part not yet made into a batch when the run was cancelled: if a crash left it created
        after all, it is adopted (and cancelled at the next poll); otherwise its rows fail with the
        reason, and "retry failed rows" sends them."""
        key = self.owners.owner(job) or self.keys[0]
        if job.input_file_id is not None:
            found = await self._find(self.owners.client(key), job)
            if found is not None:
                self.jobs.set_batch(self.run_id, job.part, found.id, found.status)
                return
        error = "Cancelled before this part of the batch was sent; retry the failed rows to send it."
        await self._off_loop(self._apply, job, key, [LineOutcome(r, error=error) for r in job.rows])

    def _apply(self, job: BatchJob, key: KeyEntry, outcomes: Sequence[LineOutcome]) -> None:  # in a worker thread
        reader = self._reader(key)
        results = [reader.result(o) for o in outcomes]
        self.jobs.apply(self.run_id, job.part, results)
        for r in results:
            self.tracker.row_finished(r.status, tokens_in=r.tokens_in, tokens_out=r.tokens_out, cost=r.cost, cached=False, correct=r.correct)

    def _apply_files(self, job: BatchJob, key: KeyEntry, output: bytes, errors: bytes, state: str, message: str) -> None:  # in a worker thread
        outcomes = read_outcomes(
            self.run_id, job.rows, output.decode("utf-8", "replace"), errors.decode("utf-8", "replace"), state=state, batch_message=message,
            secrets=self._secrets,
        )  # fmt: skip
        self._apply(job, key, outcomes)

    async def _find(self, client: openai.AsyncOpenAI, job: BatchJob):  # type: ignore[no-untyped-def]
        try:
            async for batch in client.batches.list(limit=100):
                meta = batch.metadata or {}
                if meta.get(METADATA_RUN) == self.run_id and meta.get(METADATA_PART) == str(job.part) and batch.input_file_id == job.input_file_id:
                    return batch
        except Exception as exc:  # as _call: a passing failure is tried again at the next poll
            raise _stop_or_retry(classify(exc, self._secrets)) from None
        return None

    async def _call(self, coro):  # type: ignore[no-untyped-def]
        """A request to the provider; a refusal that no wait can cure stops the run with the reason
        (the rows stay pending, the intents and ids stay stored)."""
        try:
            return await coro
        except Exception as exc:
            raise _stop_or_retry(classify(exc, self._secrets)) from None

    async def _follow(self) -> tuple[str, str]:
        delays = poll_delays()
        rng = random.Random()
        while True:
            if self._stop is not None:
                return self._stop
            open_jobs = [j for j in self.jobs.list(self.run_id) if not j.applied]
            if not open_jobs:
                return ("cancelled", "Cancelled: finished rows are kept; retry the failed rows to do the rest.") if self._cancel else ("done", "")
            if not self._paused:
                blocked: list[BatchJob] = []
                for job in open_jobs:
                    try:
                        if job.batch_id is None and self._cancel:
                            await self._drop_unsent(job)  # cancelled before it was sent: never sent now
                        elif job.batch_id is None:
                            await self._submit(job)  # a retry after the provider could not be reached
                        else:
                            await self._poll(job)
                    except _Retry as retry:
                        self.tracker.note_error(retry.message)
                    except MissingKey as missing:
                        blocked.append(missing.job)
                stopped = self._keys_missing(blocked)
                if stopped is not None:
                    return stopped
            # The wait is cut short by pause, resume, stop, cancel and new keys.
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), next(delays) * (0.9 + 0.2 * rng.random()))
            except TimeoutError:
                pass

    def _keys_missing(self, blocked: list[BatchJob]) -> tuple[str, str] | None:
        """Parts whose key is not here are skipped. When nothing else is left, the run waits for
        those keys (a resume with them, or new keys added, goes on), or ends if it was cancelled."""
        if not blocked:
            if self._waiting:
                self._waiting = False
                self._set("running")
            return None
        message = self.owners.message(blocked)
        if len(blocked) < len([j for j in self.jobs.list(self.run_id) if not j.applied]):
            return None  # other parts go on; this is said when they are done
        if self._cancel:
            return ("cancelled", f"Cancelled: finished rows are kept. {message}")
        if not self._waiting:
            self._waiting = True
            self._set(RunStatus.WAITING_FOR_KEYS, message)
        return None

    async def _poll(self, job: BatchJob) -> None:
        assert job.batch_id is not None
        key = self.owners.owner(job) or self.keys[0]
        client = self.owners.client(key)
        if self._cancel and job.part not in self._cancelled and job.state not in TERMINAL_STATES:
            await self._call(client.batches.cancel(job.batch_id))
            self._cancelled.add(job.part)
        batch = await self._call(client.batches.retrieve(job.batch_id))
        counts = batch.request_counts
        errors = getattr(batch, "errors", None)
        message = "; ".join(e.message or e.code or "" for e in (errors.data or [])) if errors is not None and errors.data else ""
        self.jobs.polled(
            self.run_id, job.part, state=batch.status, total=counts.total if counts else len(job.rows),
            completed=counts.completed if counts else 0, failed=counts.failed if counts else 0,
            output_file_id=batch.output_file_id, error_file_id=batch.error_file_id, message=scrub(message, self._secrets),
        )  # fmt: skip
        if batch.status in TERMINAL_STATES:
            output = (await self._call(client.files.content(batch.output_file_id))).content if batch.output_file_id else b""
            errors_text = (await self._call(client.files.content(batch.error_file_id))).content if batch.error_file_id else b""
            await self._off_loop(self._apply_files, job, key, output, errors_text, batch.status, message)

    def _reader(self, key: KeyEntry) -> BatchRowReader:
        return BatchRowReader(self.record.spec, self.record.columns, self._cells_of(), key.model, key.fingerprint)


class _Halt(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state, self.message = state, message


class _Retry(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _stop_or_retry(failure: Failure) -> _Halt | _Retry:
    """A refusal no wait can cure stops the run with the reason; anything else is tried again at
    the next poll. A base URL this server does not call is said as such, not as the provider's."""
    if failure.outbound is not None:
        return _Halt("failed", failure.message)
    if failure.kind in (ErrorKind.KEY_DEAD, ErrorKind.ROW_BAD):
        return _Halt("failed", f"The provider refused the batch: {failure.message}")
    return _Retry(failure.message)


def batch_jobs(store: RunStore, run_id: str) -> list[BatchJob]:
    """A run's batch jobs as the store has them: what every page, tab and process shows."""
    return BatchJobs(store).list(run_id)


def check_no_open_batch(store: RunStore, run_id: str) -> None:
    """Rows a batch still holds must not also be sent now: they would be paid twice."""
    if any(not j.applied for j in BatchJobs(store).list(run_id)):
        raise InputError("A batch of this run is still at the provider: wait for it to finish, or cancel it, then retry now.", "batch_open")


def launch_batch(
    store: RunStore, record: RunRecord, keys: Sequence[KeyEntry], runner: Runner, *, limits: BatchLimits | None = None, lease: RunLease | None = None
) -> RunHandle:
    """Start (or continue) a batch-mode run on the runner's loop (with its lease: core/leases.py)."""
    tracker = ProgressTracker(record.id, record.n_rows, [k.info() for k in keys], simulated=all(k.simulated for k in keys))
    tracker.preload(
        ok=record.ok, unparsed=record.unparsed, failed=record.failed, tokens_in=record.tokens_in, tokens_out=record.tokens_out,
        cost=record.cost, correct=record.correct, judged=record.judged, reasked=record.reasked,
    )  # fmt: skip
    job = BatchRun(store=store, record=record, keys=keys, tracker=tracker, client_factory=runner.client_factory, limits=limits)
    return runner.launch(job, lease)  # type: ignore[arg-type]  # steered as an engine is
