"""The batch engine: sends every pending row of a run through a pool of keys, each paced by its
own gate, and hands each row's result to the store as it finishes.

How a row travels: rows enter the `_RowQueue` in input order once the response cache has been
checked for them; each key has a lane whose pump waits until (1) a row is ready, (2) its key may
send now (cool-down over, allowance taken), and only then (3) takes a concurrency slot and the
lowest ready row and sends it. Nothing is held while waiting for something private: a cooling or
slow key never sits on a slot or a row that another key could use. The answer is parsed and
recorded; a 429 cools the key and returns the row at once for any key to take; a dead key's lane
stops and its row goes back; a retryable failure comes back after a backoff until its attempts
are used up. Every row that leaves the queue ends as exactly one result, whatever happens.

With output columns, each row is asked in the strongest way its provider and model take
(core/structured.py; a refusal steps down for the rest of the run, free, and is remembered in the
store), and an answer that does not fit them goes back into the queue with the answer and its
problems added to the conversation, up to `max_reasks` times (a cut-off one once more with a
larger token limit): a re-ask waits for its key's pace like any request, and its tokens count.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import httpx2
import openai

from . import constants as C
from .answers import Verdict, judge, read_completion
from .clients import ClientFactory, default_client_factory
from .errors import ErrorKind, Failure, backoff_delay, classify, param_fallback, redact, scrub
from .estimate import price_for
from .gate_view import GateView
from .keys import KeyEntry
from .limits import GateRegistry, KeyGate
from .progress import ProgressTracker
from .spec import RunSpec
from .status import RowStatus, RunStatus
from .store import RowResult, RunStore, cache_key
from .structured import AskMode, ask_messages, ask_params, fallback_note, larger_limit, next_mode, reask_messages, rejects, remember_mode, remembered_mode
from .template import PromptTemplate, estimate_message_tokens
from .writer import ResultWriter

__all__ = ["BatchEngine", "ClientFactory", "default_client_factory", "cache_key", "price_for"]


class _RowQueue:
    """The rows of a run that are not finished. Ready rows come out lowest index first; rows
    waiting for a retry become ready when due (one timer, no polling). Every pending row is in
    exactly one place: ready, delayed, or taken by a request."""

    def __init__(self, pending: Sequence[int], on_change: Callable[[], None]) -> None:
        self.pending: set[int] = set(pending)
        self.taken: dict[int, object] = {}  # row -> the request task that holds it
        self._ready: list[int] = []
        self._delayed: list[tuple[float, int]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._on_change = on_change
        self._changed = asyncio.Event()

    @property
    def outstanding(self) -> int:
        return len(self.pending)

    def _notify(self) -> None:
        # Every waiter holds the old event; setting it wakes them all, the new one is for later.
        self._changed.set()
        self._changed = asyncio.Event()
        self._on_change()

    def put(self, row: int, delay: float = 0.0) -> None:
        self.taken.pop(row, None)
        if row not in self.pending:
            return  # finished meanwhile: never send a finished row again
        if delay > 0:
            loop = asyncio.get_running_loop()
            heapq.heappush(self._delayed, (loop.time() + delay, row))
            self._arm(loop)
        else:
            heapq.heappush(self._ready, row)
            self._notify()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._delayed:
            return
        when = self._delayed[0][0]
        if self._timer is not None:
            if self._timer.when() <= when:
                return
            self._timer.cancel()
        self._timer = loop.call_at(when, self._promote)

    def _promote(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        moved = False
        while self._delayed and self._delayed[0][0] <= now:
            heapq.heappush(self._ready, heapq.heappop(self._delayed)[1])
            moved = True
        self._arm(loop)
        if moved:
            self._notify()

    def has_ready(self) -> bool:
        return bool(self._ready)

    def peek(self) -> int | None:
        return self._ready[0] if self._ready else None

    def take(self) -> int | None:
        while self._ready:
            row = heapq.heappop(self._ready)
            if row in self.pending and row not in self.taken:
                self.taken[row] = None
                return row
        return None

    def finished(self, row: int) -> None:
        self.taken.pop(row, None)
        if row in self.pending:
            self.pending.discard(row)
            self._notify()

    def wake(self) -> None:
        self._notify()

    async def changed(self) -> None:
        await self._changed.wait()

    def orphans(self) -> set[int]:
        """Pending rows that are nowhere: not ready, not delayed, not taken. Always empty unless
        there is a bug; the engine's watchdog puts them back."""
        placed = set(self._ready) | {row for _, row in self._delayed} | set(self.taken)
        return self.pending - placed

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Slots:
    """The run's concurrency: how many requests may be in flight at once. Its limit can move
    (concurrency "Auto") without anyone holding a slot being affected."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.in_use = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> None:
        while self.in_use >= self.limit:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._waiters:
                    self._waiters.remove(fut)
                elif not fut.cancelled():
                    self._wake()  # we were woken for a free slot we will not use: pass it on
                raise
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def set_limit(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_use
        while free > 0 and self._waiters:
            fut = self._waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                free -= 1


@dataclass
class _Lane:
    """One key's lane: its gate, its client and its pump."""

    entry: KeyEntry
    gate: KeyGate
    client: openai.AsyncOpenAI
    dead: str | None = None
    pump: asyncio.Task[None] | None = None

    @property
    def fp(self) -> str:
        return self.entry.fingerprint

    @property
    def live(self) -> bool:
        return self.dead is None and self.pump is not None and not self.pump.done()


@dataclass
class _RowState:
    sent: int = 0  # requests sent for this row (shown as attempts)
    tries: int = 0  # failures that count towards max_attempts (not 429s, not dead keys)
    limited: int = 0  # 429s this row met; capped so that no row loops forever
    # Output columns: how the last request asked (to know what a refusal refused), the re-asks'
    # additions to the conversation, the larger token limit after a cut-off answer, and what the
    # answers that were asked again cost (added to the row's final result).
    mode: AskMode | None = None
    followups: list[dict[str, str]] = field(default_factory=list)
    params: dict | None = None
    reasks: int = 0
    length_retried: bool = False
    spent_in: int = 0
    spent_out: int = 0
    spent_cost: float = 0.0


@dataclass
class _Latency:
    """Exponentially weighted mean latency, for concurrency "Auto"."""

    mean_s: float | None = None
    weight: float = 0.1

    def add(self, seconds: float) -> None:
        self.mean_s = seconds if self.mean_s is None else self.mean_s + self.weight * (seconds - self.mean_s)


@dataclass
class _Stop:
    state: RunStatus
    message: str


class BatchEngine:
    """One run on the engine's loop. Control methods (`pause`, `resume`, `stop`, `add_keys`)
    must be called on that loop; `RunHandle` does that for other threads."""

    def __init__(
        self,
        *,
        run_id: str,
        store: RunStore,
        spec: RunSpec,
        columns: Sequence[str],
        cells: Sequence[Sequence[str]],
        rows: Sequence[int],
        keys: Sequence[KeyEntry],
        gates: GateRegistry,
        tracker: ProgressTracker,
        client_factory: ClientFactory = default_client_factory,
        rng: random.Random | None = None,
        owner: str = "",
    ) -> None:
        self.run_id = run_id
        self.owner = owner  # the run's owner: the cache it reads is that user's
        self.store = store
        self.spec = spec
        self.columns = list(columns)
        self.cells = cells
        self.rows = list(rows)
        self.gates = gates
        self.tracker = tracker
        self.client_factory = client_factory
        self.rng = rng or random.Random()
        self.template = PromptTemplate(spec.template, spec.system)
        self.params = spec.request_params()
        self.label_index = self.columns.index(spec.label_column) if spec.label_column in self.columns else None
        self._entries: dict[str, KeyEntry] = {k.fingerprint: k for k in keys}
        self._lanes: dict[str, _Lane] = {}
        self._secrets: list[str] = [k.api_key for k in keys]
        self._state: dict[int, _RowState] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._running = asyncio.Event()
        self._running.set()
        self._stop: _Stop | None = None
        self._abort = False
        self._closing = False  # past the point where a resume can still continue this engine
        self._signal = asyncio.Event()
        self._slots = _Slots(spec.concurrency if not spec.auto_concurrency else min(spec.concurrency, C.AUTO_CONCURRENCY_START))
        self._latency = _Latency()
        self._avg_tokens: float | None = None
        self._queue: _RowQueue | None = None
        self._feeder: asyncio.Task[None] | None = None
        self._notes: list[str] = []
        self._closers: set[asyncio.Future[None]] = set()
        self._writer: ResultWriter | None = None
        # Output columns: how each (base URL, model) is asked (absent: json_schema, the strongest),
        # and the store writes that remember a step down.
        self._modes: dict[tuple[str, str], AskMode] = {}
        self._remembering: set[asyncio.Future[None]] = set()
        self._remember_lock = asyncio.Lock()

    # --- control ------------------------------------------------------------------------------

    def pause(self) -> None:
        if self._stop is None and not self._closing:
            self._running.clear()
            self._set_state(RunStatus.PAUSED, "Paused: requests already sent will finish.")

    def resume(self) -> bool:
        """Go on after a pause, or after a stop whose in-flight requests are still finishing.
        False if this engine is already closing (start a new one from the store instead)."""
        if self._closing:
            return False
        if self._stop is not None:
            self._stop = None
            self._abort = False
            self._signal.set()
        self._running.set()
        if self._queue is not None:
            self._queue.wake()
        self._after_keys_changed()
        return True

    def stop(self, state: RunStatus = RunStatus.CANCELLED, message: str = "") -> None:
        """Cancel (or, from the command line, pause) the run: nothing more is sent; requests
        already sent may finish (they are paid) up to a deadline."""
        if self._stop is None and not self._closing:
            self._stop = _Stop(state, message)
            self._running.set()
            self._signal.set()
            if self._queue is not None:
                self._queue.wake()

    def abort(self) -> None:
        """After a stop: do not wait for the requests in flight (a second Ctrl-C)."""
        if self._stop is not None:
            self._abort = True
            self._signal.set()

    def add_keys(self, keys: Sequence[KeyEntry]) -> None:
        added = [k for k in keys if k.fingerprint not in self._lanes or not self._lanes[k.fingerprint].live]
        added = [k for k in {k.fingerprint: k for k in added}.values()]
        if not added or self._closing:
            return
        self.tracker.add_keys([k.info() for k in added])
        for entry in added:
            self._entries[entry.fingerprint] = entry
            if entry.api_key not in self._secrets:
                self._secrets.append(entry.api_key)
        if self._writer is not None:
            self._writer.update_keys(self.run_id, [e.info() for e in self._entries.values()])
        if self._queue is not None and self._stop is None:
            for entry in added:
                self._start_lane(entry)
        self._after_keys_changed()

    def _after_keys_changed(self) -> None:
        if self._stop is not None or self._closing or self._queue is None:
            return
        if not self._running.is_set():
            return
        if self._queue.outstanding > 0 and not self._live():
            self._waiting_for_keys()
        else:
            self._set_state(RunStatus.RUNNING)

    # --- the run ------------------------------------------------------------------------------

    async def run(self) -> str:
        """Run until every row is finished or the run is stopped. Returns the final state."""
        loop = asyncio.get_running_loop()

        def on_error(exc: BaseException) -> None:  # on the writer's thread
            loop.call_soon_threadsafe(self._store_failed, exc)

        self._writer = ResultWriter(self.store, on_error=on_error)
        try:
            return await self._run()
        except Exception as exc:
            message = redact(
                f"The run stopped on an internal error ({type(exc).__name__}: {exc}); finished rows are kept, resume it to continue.", self._secrets
            )
            self._closing = True
            await self._shutdown()
            self._writer.set_status(self.run_id, RunStatus.FAILED, message)
            self.tracker.set_state(RunStatus.FAILED, message)
            raise
        finally:
            # A store that still refuses writes gets a little longer, not forever: what it holds
            # is pending in the store and is done again on resume.
            writer = self._writer
            await asyncio.to_thread(writer.close, C.WRITE_GIVE_UP_S if writer.error is not None else C.STOP_GRACE_S)
            self._release()

    def _store_failed(self, exc: BaseException) -> None:
        # Without the store nothing we do is kept: stop sending rather than pay for lost rows.
        # The writer keeps trying the rows it holds; freeing disk space saves them.
        self.stop(RunStatus.FAILED, f"Could not save results ({exc}); the run stopped. Free disk space, then resume it.")

    async def _run(self) -> str:
        self.tracker.pace_source = self._pace_view
        self._set_state(RunStatus.RUNNING)
        if self.spec.columns:
            await self._load_modes()
        self._queue = _RowQueue(self.rows, self._signal.set)
        self._feeder = asyncio.create_task(self._feed(self.rows), name=f"feed-{self.run_id}")
        self._feeder.add_done_callback(self._task_done)
        for entry in list(self._entries.values()):
            self._start_lane(entry)
        watchdog = asyncio.create_task(self._watchdog(), name=f"watchdog-{self.run_id}")
        try:
            while True:
                await self._until_finished_or_stopped()
                if self._stop is None:
                    break  # every row finished
                if not await self._finish_in_flight():
                    break  # stopped for good
                # resumed while finishing: start the lanes again and go on
                for entry in list(self._entries.values()):
                    self._start_lane(entry)
                self._after_keys_changed()
        finally:
            watchdog.cancel()
        self._closing = True
        stop = self._stop
        state = stop.state if stop is not None and self._queue.outstanding > 0 else RunStatus.DONE
        await self._shutdown()
        message = (stop.message if stop is not None and state != RunStatus.DONE else "") or self._summary()
        assert self._writer is not None
        # The final state lands after the last rows; whoever sees it finds every row saved.
        self._writer.set_status(self.run_id, state, message)
        if not await asyncio.to_thread(self._writer.flush, C.STOP_GRACE_S):
            state, message = RunStatus.FAILED, f"Could not save results ({self._writer.error}); the run stopped. Free disk space, then resume it."
        self.tracker.set_state(state, message)
        return state

    async def _until_finished_or_stopped(self) -> None:
        assert self._queue is not None
        while self._stop is None and self._queue.outstanding > 0:
            self._signal.clear()
            if self._stop is None and self._queue.outstanding > 0:
                await self._signal.wait()

    async def _finish_in_flight(self) -> bool:
        """Stop sending; let requests already sent finish (they are paid) up to a deadline, then
        cut the rest. True if the run was resumed meanwhile."""
        assert self._stop is not None and self._queue is not None
        stop = self._stop
        await self._stop_lanes()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + C.STOP_GRACE_S
        while self._inflight and self._stop is stop and self._queue.outstanding > 0 and not self._abort:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self.tracker.set_state(
                RunStatus.FINISHING, f"Finishing {len(self._inflight)} requests already sent (up to {int(C.STOP_GRACE_S)} s); nothing new is sent."
            )
            self._signal.clear()
            signal = asyncio.ensure_future(self._signal.wait())
            await asyncio.wait([*self._inflight, signal], timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            signal.cancel()
        return self._stop is None

    def _summary(self) -> str:
        s = self.tracker.snapshot()
        parts = [f"{s.ok} ok"] + [f"{n} {label}" for n, label in ((s.unparsed, "unparsed"), (s.failed, "failed"), (s.cached, "from cache")) if n]
        return "Finished: " + ", ".join(parts) + "." + "".join(f" {note}" for note in self._notes)

    def _start_lane(self, entry: KeyEntry) -> None:
        old = self._lanes.get(entry.fingerprint)
        if old is not None and old.live:
            return
        client = old.client if old is not None and old.dead is None else self.client_factory(entry, self.spec.timeout_s)
        if old is not None and old.client is not client:
            self._close_later(old.client)  # a replaced client is closed, not leaked
        lane = _Lane(entry, self.gates.gate(entry.info()), client)
        self._lanes[entry.fingerprint] = lane
        lane.pump = asyncio.create_task(self._pump(lane), name=f"pump-{entry.fingerprint}")
        lane.pump.add_done_callback(self._task_done)

    def _close_later(self, client: openai.AsyncOpenAI) -> None:
        task = asyncio.ensure_future(_close_quietly(client))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def _live(self) -> list[_Lane]:
        return [lane for lane in self._lanes.values() if lane.live]

    async def _stop_lanes(self) -> None:
        pumps = [lane.pump for lane in self._lanes.values() if lane.pump is not None and not lane.pump.done()]
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _shutdown(self) -> None:
        await self._stop_lanes()
        if self._feeder is not None:
            self._feeder.cancel()
            await asyncio.gather(self._feeder, return_exceptions=True)
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await asyncio.gather(*self._remembering, return_exceptions=True)
        for lane in self._lanes.values():
            await _close_quietly(lane.client)
        if self._queue is not None:
            self._queue.close()

    def _pace_view(self, fp: str) -> GateView | None:
        lane = self._lanes.get(fp)
        return lane.gate.view() if lane is not None else None

    def _release(self) -> None:
        """A finished run keeps nothing but what its final snapshot says: no cells, no clients,
        no keys."""
        self.tracker.pace_source = None
        self.cells = ()
        self.rows = []
        self._lanes.clear()
        self._entries.clear()
        self._secrets.clear()
        self._state.clear()
        self._queue = None

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """Whatever a pump or the feeder raised reaches the run's state, never the void."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        message = redact(f"Internal error in {task.get_name()}: {type(exc).__name__}: {exc}", self._secrets)
        self.tracker.note_error(message)
        if task is self._feeder:
            self.stop(RunStatus.FAILED, f"{message}. Finished rows are kept; resume the run to continue.")
            return
        for lane in self._lanes.values():
            if lane.pump is task:
                self._key_died(lane, message)

    # --- watching for a stuck run -------------------------------------------------------------

    async def _watchdog(self) -> None:
        """A run must end or say what it waits for. Rows that are pending but nowhere (a bug)
        are put back; a run with rows left and no live key says it waits for keys."""
        while True:
            await asyncio.sleep(C.WATCHDOG_S)
            queue = self._queue
            if queue is None or self._stop is not None or not self._running.is_set():
                continue
            if self._feeder is not None and not self._feeder.done():
                continue
            orphans = queue.orphans()
            if orphans:
                self.tracker.note_error(f"{len(orphans)} rows were left unscheduled by an internal error; they were put back.")
                for row in sorted(orphans):
                    queue.put(row)
            if queue.outstanding > 0 and not self._live():
                self._waiting_for_keys()

    # --- dispatch -----------------------------------------------------------------------------

    async def _feed(self, rows: Sequence[int]) -> None:
        """Rows enter the queue once the cache has been checked for them: answered ones are
        recorded free, the rest become ready for the lanes. In chunks, so sending starts at once."""
        assert self._queue is not None
        queue = self._queue
        if not self.spec.use_cache:
            for row in rows:
                queue.put(row)
            return
        targets = list({(e.base_url, e.model): e for e in self._entries.values()}.values())
        if not targets:
            for row in rows:
                queue.put(row)
            return
        for start in range(0, len(rows), C.CACHE_CHUNK_ROWS):
            part = rows[start : start + C.CACHE_CHUNK_ROWS]
            keys = {row: [self._cache_key(e, row) for e in targets] for row in part}
            found = await asyncio.to_thread(functools.partial(self.store.cache_lookup, owner=self.owner), [k for ks in keys.values() for k in ks])
            for row in part:
                hit = next((found[k] for k in keys[row] if k in found), None)
                if hit is None:
                    queue.put(row)
                    continue
                result, _ = self._build_result(
                    row, hit["output"], hit["finish_reason"], hit["tokens_in"], hit["tokens_out"], hit["model"], fp=None, attempts=0, latency_ms=0,
                    reported_model=hit["model"], cached=True,
                )  # fmt: skip
                self._finish_row(result)
            await asyncio.sleep(0)

    async def _pump(self, lane: _Lane) -> None:
        queue = self._queue
        assert queue is not None
        while lane.dead is None and self._stop is None:
            if not self._running.is_set():
                await self._running.wait()
                continue
            if not queue.has_ready():
                if queue.outstanding <= 0:
                    await queue.changed()  # a retry-failed or resume may still bring rows
                    continue
                await queue.changed()
                continue
            # 1. the key may send now (cool-down over, allowance taken): nothing shared is held
            await lane.gate.ready(self._next_token_estimate(lane))
            if lane.dead is not None or self._stop is not None or not self._running.is_set():
                continue
            # 2. a concurrency slot
            await self._slots.acquire()
            # 3. the lowest ready row
            row = queue.take()
            if row is None or lane.dead is not None or self._stop is not None or not self._running.is_set():
                self._slots.release()
                if row is not None:
                    queue.put(row)
                continue
            task = asyncio.create_task(self._send(lane, row))
            queue.taken[row] = task
            self._inflight.add(task)
            task.add_done_callback(functools.partial(self._sent, row))

    def _sent(self, row: int, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        queue = self._queue
        if queue is not None and queue.taken.get(row) is task and not task.cancelled():
            # The request ended without finishing or returning its row: a bug, but not a lost row.
            queue.put(row)
            self.tracker.note_error(f"Row {row + 1} was left unfinished by an internal error; it was put back.")

    def _next_token_estimate(self, lane: _Lane) -> int:
        if not lane.gate.counts_tokens:
            return 0
        if self._avg_tokens is None and self._queue is not None and (row := self._queue.peek()) is not None:
            self._avg_tokens = float(self._token_estimate(self._messages(row)))
        return int(self._avg_tokens or 0)

    def _messages(self, row: int) -> list[dict[str, str]]:
        return self.template.messages(dict(zip(self.columns, self.cells[row])))

    # --- output columns: how to ask, asking again -----------------------------------------------

    @staticmethod
    def _target(entry: KeyEntry) -> tuple[str, str]:
        return entry.base_url.rstrip("/"), entry.model

    def _mode_of(self, entry: KeyEntry) -> AskMode:
        return self._modes.get(self._target(entry), AskMode.JSON_SCHEMA)

    async def _load_modes(self) -> None:
        """What earlier runs found each provider and model to take (core/structured.py)."""
        targets = {self._target(e) for e in self._entries.values()}

        def load() -> dict[tuple[str, str], AskMode | None]:
            return {t: remembered_mode(self.store, *t) for t in targets}

        try:
            found = await asyncio.to_thread(load)
        except Exception:  # the store is only a memory here: without it, start from the strongest
            return
        self._modes.update({t: m for t, m in found.items() if m is not None})

    def _step_down(self, entry: KeyEntry, refused: AskMode) -> None:
        """The provider refused this way of asking: the next way, for the rest of the run and
        the runs after it. Requests sent the old way before this came back just go again."""
        target = self._target(entry)
        if self._mode_of(entry) is not refused:
            return
        weaker = next_mode(refused)
        if weaker is None:
            return
        self._modes[target] = weaker
        note = fallback_note(refused, weaker)
        if note not in self._notes:
            self._notes.append(note)
        task = asyncio.ensure_future(self._remember(target))
        self._remembering.add(task)
        task.add_done_callback(self._remembered)

    async def _remember(self, target: tuple[str, str]) -> None:
        # One write at a time, of the way this target is asked now: two steps down in a row
        # (json_schema, then json_object) must not land in the store in the other order.
        async with self._remember_lock:
            await asyncio.to_thread(remember_mode, self.store, *target, self._modes[target])

    def _remembered(self, task: asyncio.Future[None]) -> None:
        self._remembering.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.tracker.note_error(f"Could not remember how this provider takes output columns: {task.exception()}")

    def _request(self, entry: KeyEntry, row: int, state: _RowState | None = None) -> tuple[list[dict[str, str]], dict]:
        """The messages and parameters of a row's request to this key's provider: with columns,
        asked its way, and a re-ask's conversation and token limit on top."""
        messages = self._messages(row)
        if not self.spec.columns:
            return messages, self.params
        mode = self._mode_of(entry)
        if state is not None:
            state.mode = mode
        followups = state.followups if state is not None else []
        params = state.params if state is not None and state.params is not None else self.params
        return ask_messages(self.spec, messages, mode) + followups, ask_params(self.spec, mode, params)

    def _cache_key(self, entry: KeyEntry, row: int) -> str:
        """A row's first request (as it would be sent now) is its key in the response cache: the
        columns and the way they are asked for are part of it."""
        messages, params = self._request(entry, row)
        return cache_key(entry.base_url, entry.model, messages, params)

    def _reask(self, row: int, state: _RowState, result: RowResult, verdict: Verdict) -> bool:
        """Ask a row again instead of finishing it, if its answer does not fit the columns and
        it has re-asks left (a cut-off answer: once, with a larger token limit). True if it went back."""
        assert self._queue is not None
        if not self.spec.columns or result.status != RowStatus.UNPARSED or self._stop is not None:
            return False
        if result.finish_reason == "length" and not state.length_retried:
            state.length_retried = True
            state.params = larger_limit(state.params if state.params is not None else self.params, result.tokens_out)
        elif state.reasks - state.length_retried < self.spec.max_reasks:
            state.followups += reask_messages(result.output or "", verdict.problems)
        else:
            return False
        state.reasks += 1
        state.spent_in += result.tokens_in
        state.spent_out += result.tokens_out
        state.spent_cost += result.cost
        self.tracker.reasked_row()
        self._queue.put(row)  # through the key's gate again, like any request
        return True

    def _token_estimate(self, messages: list[dict[str, str]]) -> int:
        return estimate_message_tokens(messages) + (self.spec.max_tokens or C.DEFAULT_OUTPUT_TOKENS_ESTIMATE)

    async def _send(self, lane: _Lane, row: int) -> None:
        assert self._queue is not None
        queue = self._queue
        state = self._state.setdefault(row, _RowState())
        state.sent += 1
        fp = lane.fp
        loop = asyncio.get_running_loop()
        self.tracker.request_started(fp)
        ended = False
        started = loop.time()
        try:
            messages, params = self._request(lane.entry, row, state)
            if lane.gate.counts_tokens:
                estimate = self._token_estimate(messages)
                self._avg_tokens = estimate if self._avg_tokens is None else self._avg_tokens + 0.05 * (estimate - self._avg_tokens)
            try:
                # The SDK's own `post`: its client, auth, headers, timeouts and status errors, but
                # not the annotation-driven transform of every message into itself nor pydantic
                # models for the five fields read here, which were over half of a request's CPU.
                raw = await lane.client.post(C.CHAT_PATH, body={"model": lane.entry.model, "messages": messages, **params}, cast_to=httpx2.Response)
                response = json.loads(raw.content)  # a 200 that is not JSON (a proxy's page) is retried
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(exc, self._secrets)
                lane.gate.observe(failure.headers, ok=False)
                ended = True
                self._handle_failure(lane, row, state, failure)  # ends the request in the tracker
                return
            latency = loop.time() - started
            self._latency.add(latency)
            lane.gate.observe(raw.headers, ok=True, latency_s=latency)
            verdict = None
            try:
                result, verdict = self._result_from(response, lane, row, messages, state, latency)
            except Exception as exc:  # the answer could not be turned into a row: fail it, plainly
                error = scrub(f"The provider's answer could not be read ({type(exc).__name__}: {exc})", self._secrets, limit=500)
                result = RowResult(row=row, status=RowStatus.FAILED, error=error, attempts=state.sent, key_fp=fp, model=lane.entry.model)
            self.tracker.request_ended(fp, ok=result.status != RowStatus.FAILED)
            ended = True
            if verdict is not None and self._reask(row, state, result, verdict):
                return
            self._finish_row(result, cache_for=lane.entry if self.spec.use_cache else None)
        except asyncio.CancelledError:
            # Stopped mid-request: the row stays pending in the store, to be done on resume.
            if not ended:
                self.tracker.request_ended(fp)
            queue.put(row)
            raise
        except Exception as exc:  # a bug here must cost neither the row nor the run
            if not ended:
                self.tracker.request_ended(fp)
            message = redact(f"Internal error while recording row {row + 1}: {type(exc).__name__}: {exc}", self._secrets)
            self.tracker.note_error(message)
            self._finish_row(RowResult(row=row, status=RowStatus.FAILED, error=message[:500], attempts=state.sent, key_fp=fp, model=lane.entry.model))
        finally:
            self._slots.release()
            if self.spec.auto_concurrency:
                self._slots.set_limit(self._auto_concurrency())

    def _auto_concurrency(self) -> int:
        """Enough requests in flight to reach the keys' pace at the latency seen, and no more."""
        if self._latency.mean_s is None:
            return min(self.spec.concurrency, C.AUTO_CONCURRENCY_START)
        rate = sum(lane.gate.rate_per_s for lane in self._live())
        wanted = int(rate * self._latency.mean_s * C.AUTO_CONCURRENCY_MARGIN) + 1
        return max(1, min(self.spec.concurrency, wanted))

    def _result_from(self, data: object, lane: _Lane, row: int, messages: list, state: _RowState, latency: float) -> tuple[RowResult, Verdict]:
        answer = read_completion(data)  # a wrong shape raises: the row fails with the reason
        tokens_in = answer.tokens_in if answer.tokens_in is not None else estimate_message_tokens(messages)  # not said: estimated
        tokens_out = answer.tokens_out if answer.tokens_out is not None else max(1, len(answer.text) // 4)
        return self._build_result(
            row, answer.text, answer.finish, tokens_in, tokens_out, lane.entry.model,
            fp=lane.fp, attempts=state.sent, latency_ms=int(latency * 1000), reported_model=answer.model or lane.entry.model, reasks=state.reasks,
        )  # fmt: skip

    def _build_result(
        self,
        row: int,
        text: str,
        finish: str | None,
        tokens_in: int,
        tokens_out: int,
        price_model: str,
        *,
        fp: str | None,
        attempts: int,
        latency_ms: int | None,
        reported_model: str,
        cached: bool = False,
        reasks: int = 0,
    ) -> tuple[RowResult, Verdict]:
        label = self.cells[row][self.label_index] if self.label_index is not None else None
        v = judge(text, finish, self.spec, label, reasks=reasks)
        p_in, p_out = price_for(self.spec, price_model)
        cost = 0.0 if cached else (tokens_in * p_in + tokens_out * p_out) / 1e6
        result = RowResult(
            row=row, status=v.status, output=v.text, fields=v.fields, error=v.error, attempts=attempts, latency_ms=latency_ms,
            tokens_in=tokens_in, tokens_out=tokens_out, cost=cost, model=reported_model, key_fp=fp, finish_reason=finish, cached=cached, correct=v.correct,
        )  # fmt: skip
        return result, v

    def _fail_row(self, lane: _Lane, row: int, state: _RowState, message: str) -> None:
        self._finish_row(RowResult(row=row, status=RowStatus.FAILED, error=message, attempts=state.sent, key_fp=lane.fp, model=lane.entry.model))

    def _handle_failure(self, lane: _Lane, row: int, state: _RowState, failure: Failure) -> None:
        assert self._queue is not None
        fp = lane.fp
        kind = failure.kind
        if kind is ErrorKind.RATE_LIMITED:
            until = lane.gate.rate_limited(failure.retry_after, failure.headers)
            wall = time.time() + (until - asyncio.get_running_loop().time())
            self.tracker.request_ended(fp, rate_limited=True)
            self.tracker.key_state(fp, "cooling", cool_until=wall, reason=failure.wait_note() or None)
            state.limited += 1
            if state.limited >= C.MAX_RATE_LIMITS_PER_ROW:
                self._fail_row(lane, row, state, f"Rate limited {state.limited} times; giving up on this row: {failure.message}")
            else:
                self._queue.put(row)  # not the row's fault: any key may take it now
            return
        if state.mode is not None and rejects(failure, state.mode):
            # The provider does not take this way of asking for columns: not the row's fault. The
            # next way for the rest of the run (and remembered), and the row again, free of charge.
            self.tracker.request_ended(fp)
            self._step_down(lane.entry, state.mode)
            self._queue.put(row)
            return
        fallback = param_fallback(failure, state.params if state.params is not None else self.params)
        if fallback is not None:
            # The model refuses a parameter it has a replacement for (max_tokens on reasoning
            # models): switch for the rest of the run and send the row again, free of charge.
            self.tracker.request_ended(fp)
            if state.params is not None:  # a re-ask's larger limit was refused: that one too
                state.params = fallback
            self.params = param_fallback(failure, self.params) or self.params
            note = "The model refused max_tokens; the run sends max_completion_tokens instead."
            if note not in self._notes:
                self._notes.append(note)
            self._queue.put(row)
            return
        self.tracker.request_ended(fp, error=f"Row {row + 1}: {failure.message}", timeout=failure.timeout, retry=kind is ErrorKind.RETRY)
        if failure.unsupported_param is not None:
            # Every row would be refused the same way: stop with the reason, fail nothing.
            self._queue.put(row)
            self.stop(RunStatus.FAILED, f"{failure.message} Finished rows are kept; start a new run with other settings.")
            return
        if kind is ErrorKind.KEY_DEAD:
            self._key_died(lane, failure.message)
            self._queue.put(row)
            return
        if kind is ErrorKind.ROW_BAD:
            self._fail_row(lane, row, state, failure.message)
            return
        state.tries += 1
        if state.tries >= self.spec.max_attempts:
            self._fail_row(lane, row, state, f"Failed after {state.tries} attempts: {failure.message}")
            return
        delay = failure.retry_after if failure.retry_after is not None else backoff_delay(state.tries, self.rng)
        self._queue.put(row, delay)

    def _key_died(self, lane: _Lane, reason: str) -> None:
        if lane.dead is not None:
            return
        lane.dead = reason
        self.tracker.key_state(lane.fp, "dead", reason=reason)
        if self._queue is not None and self._queue.outstanding > 0 and not self._live() and self._stop is None:
            self._waiting_for_keys()

    def _waiting_for_keys(self) -> None:
        reasons = sorted({lane.dead or "" for lane in self._lanes.values()} - {""})
        why = f" ({'; '.join(reasons)})" if reasons else ""
        message = f"Every key stopped working{why}. Add a working key to continue; finished rows are kept."
        self._set_state(RunStatus.WAITING_FOR_KEYS, redact(message, self._secrets))

    def _set_state(self, state: RunStatus, message: str = "") -> None:
        # The store first: it is the source of truth, and whoever sees the new state on screen
        # must find it there too.
        if state in (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.WAITING_FOR_KEYS) and self._writer is not None:
            self._writer.set_status(self.run_id, state, message)
        self.tracker.set_state(state, message)

    def _finish_row(self, result: RowResult, cache_for: KeyEntry | None = None) -> None:
        """The one way a row ends: handed to the writer thread (with its cache key when it may be
        answered from the cache next time), counted, and taken off the queue. `_fail_row` and
        `_result_from` / `_build_result` only make the RowResult. What the row's answers that
        were asked again cost is added here, whatever ended it."""
        assert self._queue is not None and self._writer is not None
        if result.row not in self._queue.pending:
            return  # already finished (a duplicate answer after a resume race): keep the first
        state = self._state.get(result.row)
        if state is not None and state.reasks:
            result = replace(
                result, reasks=state.reasks, tokens_in=result.tokens_in + state.spent_in, tokens_out=result.tokens_out + state.spent_out,
                cost=result.cost + state.spent_cost,
            )  # fmt: skip
        key = None
        # With columns only an answer that fits is kept for next time: an invalid one may do
        # better when asked again.
        if cache_for is not None and result.status == RowStatus.OK and not result.cached:
            key = self._cache_key(cache_for, result.row)
        self._writer.record(self.run_id, result, key)
        self.tracker.row_finished(
            result.status, tokens_in=result.tokens_in, tokens_out=result.tokens_out, cost=result.cost, cached=result.cached, correct=result.correct,
            reasked=result.reasks > 0,
        )  # fmt: skip
        self._queue.finished(result.row)


async def _close_quietly(client: openai.AsyncOpenAI) -> None:
    try:
        await client.close()
    except Exception:  # closing a broken connection must not hide the run's outcome
        pass
