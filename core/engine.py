"""The batch engine: sends every pending row of a run through a pool of keys, each paced by its
own limits, and writes each row's result to the store as it finishes.

How a row travels: the `_RowQueue` hands rows out in input order (retries come back after their
delay); each key has a pump that takes a concurrency slot, a row, then its key's rate (and token)
allowance, and sends; the answer is parsed, recorded in one transaction and counted. A 429 cools
the key and returns the row at once for any key to take; a dead key's pump stops and its row goes
back; a retryable failure comes back after a backoff until its attempts are used up.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import openai

from . import constants as C
from .errors import ErrorKind, Failure, backoff_delay, classify, redact
from .keys import KeyEntry
from .limits import GateRegistry, KeyGate
from .output import answers_match, parse_output
from .progress import ProgressTracker
from .spec import RunSpec
from .store import RowResult, RunStore
from .template import PromptTemplate, estimate_message_tokens

__all__ = ["BatchEngine", "ClientFactory", "default_client_factory", "cache_key", "price_for"]

ClientFactory = Callable[[KeyEntry, float], openai.AsyncOpenAI]


def default_client_factory(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
    """One client per key. The SDK's own retries are off: the engine owns retries, since only
    the engine can move a row to another key. aiohttp was the fastest transport measured."""
    if entry.simulated:
        from .simulator import demo_simulator

        return demo_simulator().client(entry.api_key, timeout=timeout, max_retries=0)
    return openai.AsyncOpenAI(
        api_key=entry.api_key,
        base_url=entry.base_url,
        timeout=timeout,
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )


def cache_key(base_url: str, model: str, messages: list[dict[str, str]], params: dict) -> str:
    payload = json.dumps({"base_url": base_url.rstrip("/"), "model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def price_for(spec: RunSpec, model: str) -> tuple[float, float]:
    """USD per million tokens (in, out): the run's own price if set, else the built-in one."""
    known = C.MODEL_PRICES.get(model, (0.0, 0.0))
    return (
        spec.price_in if spec.price_in is not None else known[0],
        spec.price_out if spec.price_out is not None else known[1],
    )


class _RowQueue:
    """Rows ready now come out lowest index first; rows waiting for a retry come out when due.
    `get` returns None once every row is finished."""

    def __init__(self, rows: Sequence[int]) -> None:
        self._ready: list[int] = list(rows)
        heapq.heapify(self._ready)
        self._delayed: list[tuple[float, int]] = []
        self.outstanding = len(self._ready)  # rows not finished: ready, delayed or being worked on
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        # Every waiter holds the old event; setting it wakes them all, the new one is for later.
        self._changed.set()
        self._changed = asyncio.Event()

    def put(self, row: int, delay: float = 0.0) -> None:
        if delay > 0:
            heapq.heappush(self._delayed, (asyncio.get_running_loop().time() + delay, row))
        else:
            heapq.heappush(self._ready, row)
        self._notify()

    def finished(self, n: int = 1) -> None:
        self.outstanding -= n
        self._notify()

    def wake(self) -> None:
        self._notify()

    async def drained(self) -> None:
        """Wait until every row is finished."""
        while self.outstanding > 0:
            await self._changed.wait()

    async def get(self) -> int | None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._delayed and self._delayed[0][0] <= now:
                heapq.heappush(self._ready, heapq.heappop(self._delayed)[1])
            if self._ready:
                return heapq.heappop(self._ready)
            if self.outstanding <= 0:
                return None
            event = self._changed
            timeout = self._delayed[0][0] - now if self._delayed else None
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                pass


@dataclass
class _Slot:
    entry: KeyEntry
    gate: KeyGate
    client: openai.AsyncOpenAI
    dead: str | None = None
    pump: asyncio.Task[None] | None = None

    @property
    def fp(self) -> str:
        return self.entry.fingerprint


@dataclass
class _RowState:
    sent: int = 0  # requests sent for this row (shown as attempts)
    tries: int = 0  # failures that count towards max_attempts (not 429s, not dead keys)


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
    ) -> None:
        self.run_id = run_id
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
        self._initial_keys = list(keys)
        self._slots: dict[str, _Slot] = {}
        self._secrets: list[str] = []
        self._state: dict[int, _RowState] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._running = asyncio.Event()
        self._running.set()
        self._stopped: str | None = None
        self._stop_message = ""
        self._finish = asyncio.Event()
        self._sem = asyncio.Semaphore(spec.concurrency)
        self._queue = _RowQueue([])

    # --- control ------------------------------------------------------------------------------

    def pause(self) -> None:
        if self._stopped is None and not self._finish.is_set():
            self._running.clear()
            self._set_state("paused", "Paused: requests already sent will finish.")

    def resume(self) -> None:
        if self._stopped is None:
            self._running.set()
            if self._alive():
                self._set_state("running")
            self._queue.wake()

    def stop(self, state: str = "cancelled", message: str = "") -> None:
        """Cancel (or, from the command line, pause) the run: nothing more is sent."""
        if self._stopped is None:
            self._stopped = state
            self._stop_message = message
            self._running.set()
            self._finish.set()

    def add_keys(self, keys: Sequence[KeyEntry]) -> None:
        added = [k for k in keys if k.fingerprint not in self._slots or self._slots[k.fingerprint].dead]
        if not added:
            return
        self.tracker.add_keys([k.info() for k in added])
        for entry in added:
            self._start_slot(entry)
        self.store.update_keys(self.run_id, [s.entry.info() for s in self._slots.values()])
        if self._running.is_set() and self._stopped is None:
            self._set_state("running")

    # --- the run ------------------------------------------------------------------------------

    async def run(self) -> str:
        """Run until every row is finished or the run is stopped. Returns the final state."""
        try:
            return await self._run()
        except Exception as exc:
            message = redact(f"The run stopped on an internal error ({type(exc).__name__}: {exc}); finished rows are kept, resume it to continue.", self._secrets)
            await self._shutdown(grace=0.0)
            self.store.set_status(self.run_id, "failed", message)
            self.tracker.set_state("failed", message)
            raise

    async def _run(self) -> str:
        self._set_state("running")
        todo = await self._serve_from_cache(self.rows) if self.spec.use_cache else self.rows
        self._queue = _RowQueue(todo)
        for entry in self._initial_keys:
            self._start_slot(entry)
        if self._queue.outstanding > 0 and not self._alive():
            self._waiting_for_keys()
        if self._queue.outstanding > 0:
            waiter = asyncio.create_task(self._queue.drained())
            waiter.add_done_callback(lambda _: self._finish.set())
            await self._finish.wait()
            waiter.cancel()
        state = self._stopped or "done"
        await self._shutdown(grace=0.5 if self._stopped else 0.0)
        message = self._stop_message or self._summary()
        self.store.set_status(self.run_id, state, message)
        self.tracker.set_state(state, message)
        return state

    def _summary(self) -> str:
        s = self.tracker.snapshot()
        parts = [f"{s.ok} ok"] + [f"{n} {label}" for n, label in ((s.unparsed, "unparsed"), (s.failed, "failed"), (s.cached, "from cache")) if n]
        return "Finished: " + ", ".join(parts) + "."

    def _start_slot(self, entry: KeyEntry) -> None:
        if entry.api_key not in self._secrets:
            self._secrets.append(entry.api_key)
        slot = _Slot(entry, self.gates.gate(entry.info()), self.client_factory(entry, self.spec.timeout_s))
        self._slots[entry.fingerprint] = slot
        slot.pump = asyncio.create_task(self._pump(slot), name=f"pump-{entry.fingerprint}")

    def _alive(self) -> list[_Slot]:
        return [s for s in self._slots.values() if s.dead is None]

    async def _shutdown(self, grace: float) -> None:
        for slot in self._slots.values():
            if slot.pump is not None:
                slot.pump.cancel()
        if self._inflight and grace > 0:
            await asyncio.wait(self._inflight, timeout=grace)
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, *(s.pump for s in self._slots.values() if s.pump), return_exceptions=True)
        for slot in self._slots.values():
            try:
                await slot.client.close()
            except Exception:  # closing a broken connection must not hide the run's outcome
                pass

    # --- dispatch -----------------------------------------------------------------------------

    async def _pump(self, slot: _Slot) -> None:
        while slot.dead is None and self._stopped is None:
            await self._running.wait()
            await self._sem.acquire()
            handed_off = False
            row: int | None = None
            try:
                row = await self._queue.get()
                if row is None:
                    return
                messages = self._messages(row)
                await slot.gate.wait_until_cool()
                await slot.gate.acquire(self._token_estimate(messages) if slot.gate.tokens is not None else 0)
                if slot.dead is not None or self._stopped is not None or not self._running.is_set() or slot.gate.cooling_for() > 0:
                    continue  # the row goes back in `finally`
                task = asyncio.create_task(self._send(slot, row, messages))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                handed_off = True
            finally:
                if not handed_off:
                    self._sem.release()
                    if row is not None:
                        self._queue.put(row)

    def _messages(self, row: int) -> list[dict[str, str]]:
        return self.template.messages(dict(zip(self.columns, self.cells[row])))

    def _token_estimate(self, messages: list[dict[str, str]]) -> int:
        return estimate_message_tokens(messages) + (self.spec.max_tokens or C.DEFAULT_OUTPUT_TOKENS_ESTIMATE)

    async def _send(self, slot: _Slot, row: int, messages: list[dict[str, str]]) -> None:
        state = self._state.setdefault(row, _RowState())
        state.sent += 1
        fp = slot.fp
        self.tracker.request_started(fp)
        started = time.monotonic()
        try:
            try:
                response = await slot.client.chat.completions.create(model=slot.entry.model, messages=messages, **self.params)
                result = self._result_from(response, slot, row, messages, state, started)
            except asyncio.CancelledError:
                # Stopped mid-request: the row stays pending in the store, to be done on resume.
                self.tracker.request_ended(fp)
                raise
            except Exception as exc:
                self._handle_failure(slot, row, state, classify(exc, self._secrets))  # ends it in the tracker
                return
            slot.gate.succeeded()
            self.tracker.request_ended(fp, ok=True)
            self._finish_row(result, cache_for=(slot.entry, messages) if self.spec.use_cache else None)
        finally:
            self._sem.release()

    def _result_from(self, response: object, slot: _Slot, row: int, messages: list, state: _RowState, started: float) -> RowResult:
        choices = getattr(response, "choices", None)
        if not choices:
            raise ValueError("the answer has no choices")
        choice = choices[0]
        text = (choice.message.content if choice.message is not None else None) or ""
        finish = choice.finish_reason
        usage = getattr(response, "usage", None)
        tokens_in = (usage.prompt_tokens if usage and usage.prompt_tokens is not None else estimate_message_tokens(messages))
        tokens_out = usage.completion_tokens if usage and usage.completion_tokens is not None else max(1, len(text) // 4)
        model = getattr(response, "model", None) or slot.entry.model
        return self._build_result(row, text, finish, tokens_in, tokens_out, slot.entry.model, fp=slot.fp, attempts=state.sent, latency_ms=int((time.monotonic() - started) * 1000), reported_model=model)

    def _build_result(
        self, row: int, text: str, finish: str | None, tokens_in: int, tokens_out: int, price_model: str, *, fp: str | None, attempts: int, latency_ms: int | None, reported_model: str, cached: bool = False
    ) -> RowResult:
        parsed = parse_output(text, self.spec.json_fields)
        status, error = "ok", parsed.error
        if parsed.error is not None and parsed.fields is None:
            status = "unparsed"
        if finish == "content_filter":
            status, error = "failed", "The provider's content filter blocked this answer."
        elif finish == "length":
            error = "The answer was cut off at the max tokens limit." + (f" {error}" if error else "")
        correct = None
        if self.label_index is not None and status != "failed":
            field_name = self.spec.compared_field
            answer = (parsed.fields or {}).get(field_name) if field_name else text
            correct = answers_match(answer, self.cells[row][self.label_index])
        p_in, p_out = price_for(self.spec, price_model)
        cost = 0.0 if cached else (tokens_in * p_in + tokens_out * p_out) / 1e6
        return RowResult(
            row=row, status=status, output=text, fields=parsed.fields, error=error, attempts=attempts, latency_ms=latency_ms,
            tokens_in=tokens_in, tokens_out=tokens_out, cost=cost, model=reported_model, key_fp=fp, finish_reason=finish, cached=cached, correct=correct,
        )  # fmt: skip

    def _handle_failure(self, slot: _Slot, row: int, state: _RowState, failure: Failure) -> None:
        fp = slot.fp
        kind = failure.kind
        if kind is ErrorKind.RATE_LIMITED:
            until = slot.gate.cool_down(failure.retry_after)
            wall = time.time() + (until - asyncio.get_running_loop().time())
            self.tracker.request_ended(fp, rate_limited=True)
            self.tracker.key_state(fp, "cooling", cool_until=wall)
            self._queue.put(row)  # not the row's fault: any key may take it now
            return
        self.tracker.request_ended(fp, error=f"Row {row + 1}: {failure.message}", timeout=failure.timeout, retry=kind is ErrorKind.RETRY)
        if kind is ErrorKind.KEY_DEAD:
            self._key_died(slot, failure.message)
            self._queue.put(row)
            return
        if kind is ErrorKind.ROW_BAD:
            self._finish_row(RowResult(row=row, status="failed", error=failure.message, attempts=state.sent, key_fp=fp, model=slot.entry.model))
            return
        state.tries += 1
        if state.tries >= self.spec.max_attempts:
            message = f"Failed after {state.tries} attempts: {failure.message}"
            self._finish_row(RowResult(row=row, status="failed", error=message, attempts=state.sent, key_fp=fp, model=slot.entry.model))
            return
        delay = failure.retry_after if failure.retry_after is not None else backoff_delay(state.tries, self.rng)
        self._queue.put(row, delay)

    def _key_died(self, slot: _Slot, reason: str) -> None:
        if slot.dead is not None:
            return
        slot.dead = reason
        self.tracker.key_state(slot.fp, "dead", reason=reason)
        if not self._alive() and self._queue.outstanding > 0:
            self._waiting_for_keys()

    def _waiting_for_keys(self) -> None:
        reasons = sorted({s.dead or "" for s in self._slots.values()})
        message = "Every key stopped working (" + "; ".join(reasons) + "). Add a working key to continue; finished rows are kept."
        self._set_state("waiting_for_keys", redact(message, self._secrets))

    def _set_state(self, state: str, message: str = "") -> None:
        # The store first: it is the source of truth, and whoever sees the new state on screen
        # must find it there too.
        if state in ("running", "paused", "waiting_for_keys"):
            self.store.set_status(self.run_id, state, message)
        self.tracker.set_state(state, message)

    def _finish_row(self, result: RowResult, cache_for: tuple[KeyEntry, list] | None = None) -> None:
        key = None
        if cache_for is not None and result.status != "failed" and not result.cached:
            entry, messages = cache_for
            key = cache_key(entry.base_url, entry.model, messages, self.params)
        if self._record(result, key):
            self._queue.finished()

    def _record(self, result: RowResult, cache_key: str | None = None) -> bool:
        """Save a finished row, then count it. False if it could not be saved."""
        try:
            self.store.record_result(self.run_id, result, cache_key=cache_key)
        except sqlite3.Error as exc:
            # Without the store nothing we do is kept: stop sending rather than pay for lost rows.
            self.stop("failed", f"Could not save results ({exc}); the run stopped. Free disk space, then resume it.")
            return False
        self.tracker.row_finished(result.status, tokens_in=result.tokens_in, tokens_out=result.tokens_out, cost=result.cost, cached=result.cached, correct=result.correct)
        return True

    # --- response cache -----------------------------------------------------------------------

    async def _serve_from_cache(self, rows: Sequence[int]) -> list[int]:
        """Rows whose exact request was answered before are recorded from the cache, free; the
        rest are returned to be sent. Done in chunks so that a stop still takes effect."""
        targets = list({(e.base_url, e.model): e for e in self._initial_keys}.values())
        if not targets:
            return list(rows)
        todo: list[int] = []
        chunk = 500
        for start in range(0, len(rows), chunk):
            if self._stopped is not None:
                return todo + list(rows[start:])
            part = rows[start : start + chunk]
            keys = {}
            for row in part:
                messages = self._messages(row)
                keys[row] = [cache_key(e.base_url, e.model, messages, self.params) for e in targets]
            found = self.store.cache_lookup([k for ks in keys.values() for k in ks])
            for row in part:
                hit = next((found[k] for k in keys[row] if k in found), None)
                if hit is None:
                    todo.append(row)
                    continue
                result = self._build_result(
                    row, hit["output"], hit["finish_reason"], hit["tokens_in"], hit["tokens_out"], hit["model"], fp=None, attempts=0, latency_ms=0, reported_model=hit["model"], cached=True
                )
                if not self._record(result):
                    return todo + list(rows[start:])  # the run stops; these rows stay pending
            await asyncio.sleep(0)
        return todo
