"""A run's live progress: counters updated by the engine's loop thread, read by any other thread
as a frozen snapshot (the UI polls it; the command line prints it)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from . import constants as C
from .gate_view import GateView
from .keys import KeyInfo

__all__ = ["KeyStatus", "ProgressSnapshot", "ProgressTracker"]

_ROW_COUNTERS = ("ok", "unparsed", "failed")


@dataclass(frozen=True)
class KeyStatus:
    fingerprint: str
    masked: str
    provider: str
    model: str
    rpm: int | None  # the key's ceiling; None: Auto
    state: str = "active"  # active | cooling | dead
    cool_until: float | None = None  # wall-clock time (time.time()) the cool-down ends
    dead_reason: str | None = None
    requests: int = 0
    ok: int = 0
    rate_limited: int = 0
    errors: int = 0
    in_flight: int = 0
    pace: GateView | None = None  # what the key's gate paces at and where that came from (live runs)


@dataclass(frozen=True)
class ProgressSnapshot:
    run_id: str
    state: str  # starting | running | paused | waiting_for_keys | finishing | done | cancelled | failed
    message: str
    total: int
    ok: int
    unparsed: int
    failed: int
    in_flight: int
    cached: int
    timeouts: int
    retries: int
    rows_per_s: float
    eta_s: float | None
    elapsed_s: float
    tokens_in: int
    tokens_out: int
    cost: float
    projected_cost: float | None
    correct: int
    judged: int
    keys: tuple[KeyStatus, ...]
    recent_errors: tuple[str, ...]
    simulated: bool
    elsewhere: str = ""  # run by another process ('process 4242 on app-2'): read from the store
    # Rows asked again because their answer did not fit the output columns (valid rows are `ok`,
    # invalid ones `unparsed`), and the re-ask requests sent so far in this session.
    reasked: int = 0
    reasks: int = 0

    @property
    def done(self) -> int:
        return self.ok + self.unparsed + self.failed

    @property
    def pending(self) -> int:
        return self.total - self.done

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None


class _KeyCounts:
    """One key's live counters, mutated in place under the tracker's lock: a frozen KeyStatus is
    built only when a snapshot is taken (a few times a second), not twice per request."""

    __slots__ = ("info", "state", "cool_until", "dead_reason", "requests", "ok", "rate_limited", "errors", "in_flight")

    def __init__(self, info: KeyInfo) -> None:
        self.info = info
        self.state = "active"
        self.cool_until: float | None = None
        self.dead_reason: str | None = None
        self.requests = self.ok = self.rate_limited = self.errors = self.in_flight = 0

    def status(self) -> KeyStatus:
        k = self.info
        return KeyStatus(
            k.fingerprint, k.masked, k.provider, k.model, k.rpm, self.state, self.cool_until, self.dead_reason,
            self.requests, self.ok, self.rate_limited, self.errors, self.in_flight,
        )  # fmt: skip


@dataclass
class _Counts:
    ok: int = 0
    unparsed: int = 0
    failed: int = 0
    in_flight: int = 0
    cached: int = 0
    timeouts: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    correct: int = 0
    judged: int = 0
    reasked: int = 0
    reasks: int = 0
    state: str = "starting"
    message: str = ""
    keys: dict[str, _KeyCounts] = field(default_factory=dict)


class ProgressTracker:
    """Thread-safe: every mutation and every snapshot holds one lock for a few microseconds.
    The engine calls it three times a row, so a mutation is a few attribute increments."""

    def __init__(
        self,
        run_id: str,
        total: int,
        keys: Sequence[KeyInfo],
        *,
        simulated: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_id = run_id
        self.total = total
        self.simulated = simulated
        self._clock = clock
        self._lock = threading.Lock()
        self._c = _Counts()
        self._started = clock()
        self._finished_at: float | None = None
        self._recent: deque[float] = deque()  # finish times of rows done in this session
        self._errors: deque[str] = deque(maxlen=C.RECENT_ERRORS)
        # Set by the engine: a key's current pace, read on the caller's thread (gate views only read).
        self.pace_source: Callable[[str], GateView | None] | None = None
        self.add_keys(keys)

    # --- mutations (engine loop) --------------------------------------------------------------

    def add_keys(self, keys: Sequence[KeyInfo]) -> None:
        with self._lock:
            for k in keys:
                if k.fingerprint not in self._c.keys or self._c.keys[k.fingerprint].state == "dead":
                    self._c.keys[k.fingerprint] = _KeyCounts(k)

    def preload(
        self, *, ok: int, unparsed: int, failed: int, tokens_in: int, tokens_out: int, cost: float, correct: int, judged: int, reasked: int = 0
    ) -> None:
        """Rows finished before this session (a resumed run) count as done but not towards speed."""
        with self._lock:
            c = self._c
            c.ok, c.unparsed, c.failed = ok, unparsed, failed
            c.tokens_in, c.tokens_out, c.cost = tokens_in, tokens_out, cost
            c.correct, c.judged, c.reasked = correct, judged, reasked

    def set_state(self, state: str, message: str = "") -> None:
        with self._lock:
            self._c.state, self._c.message = state, message
            if state in ("done", "cancelled", "failed") and self._finished_at is None:
                self._finished_at = self._clock()

    def row_finished(self, status: str, *, tokens_in: int, tokens_out: int, cost: float, cached: bool, correct: bool | None, reasked: bool = False) -> None:
        if status not in _ROW_COUNTERS:
            raise ValueError(f"unknown row status {status!r}")
        now = self._clock()
        with self._lock:
            c = self._c
            if status == "ok":
                c.ok += 1
            elif status == "unparsed":
                c.unparsed += 1
            else:
                c.failed += 1
            c.tokens_in += tokens_in
            c.tokens_out += tokens_out
            c.cost += cost
            if cached:
                c.cached += 1
            if reasked:
                c.reasked += 1
            if correct is not None:
                c.judged += 1
                c.correct += int(correct)
            if not cached:  # a cache hit is instant and free: counting it would promise a speed the rest never reaches
                self._recent.append(now)

    def request_started(self, fp: str) -> None:
        with self._lock:
            self._c.in_flight += 1
            k = self._c.keys[fp]
            k.requests += 1
            k.in_flight += 1

    def request_ended(
        self, fp: str, *, ok: bool = False, rate_limited: bool = False, error: str | None = None, timeout: bool = False, retry: bool = False
    ) -> None:
        with self._lock:
            c = self._c
            c.in_flight -= 1
            k = c.keys[fp]
            k.in_flight -= 1
            if ok:
                k.ok += 1
            if timeout:
                c.timeouts += 1
            if retry:
                c.retries += 1
            if rate_limited:
                k.rate_limited += 1
            elif error is not None:
                k.errors += 1
                self._errors.append(error)

    def reasked_row(self) -> None:
        """A row is asked again (its answer did not fit the columns, or was cut off)."""
        with self._lock:
            self._c.reasks += 1

    def note_error(self, message: str) -> None:
        """An error that belongs to the run, not to one request (an internal error, a repair)."""
        with self._lock:
            self._errors.append(message)

    def key_state(self, fp: str, state: str, *, cool_until: float | None = None, reason: str | None = None) -> None:
        with self._lock:
            k = self._c.keys[fp]
            if k.state == "dead":
                return
            k.state, k.cool_until, k.dead_reason = state, cool_until, reason
            if state == "dead" and reason:
                self._errors.append(f"Key {k.info.masked} stopped: {reason}")

    # --- reading (any thread) -----------------------------------------------------------------

    def _key_view(self, key: KeyStatus, wall: float) -> KeyStatus:
        if key.state == "dead":
            return key
        if self._finished_at is not None:
            return replace(key, state="idle", cool_until=None)  # the run is over: no key is working
        if key.state == "cooling" and (key.cool_until or 0) <= wall:
            key = replace(key, state="active", cool_until=None)
        source = self.pace_source
        if source is not None:
            try:
                key = replace(key, pace=source(key.fingerprint))
            except Exception:  # a display detail must never break the progress
                pass
        return key

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            c = self._c
            now = self._clock()
            end = self._finished_at if self._finished_at is not None else now
            while self._recent and self._recent[0] < now - C.RATE_WINDOW_S:
                self._recent.popleft()
            window = min(C.RATE_WINDOW_S, max(now - self._started, 1e-9))
            # Nothing moves while paused or waiting for keys: no speed, and so no time left.
            moving = self._finished_at is None and c.state not in ("paused", "waiting_for_keys")
            rate = len(self._recent) / window if moving else 0.0
            done = c.ok + c.unparsed + c.failed
            pending = self.total - done
            eta = pending / rate if rate > 0 and pending > 0 else (0.0 if pending == 0 and moving else None)
            projected = c.cost / done * self.total if done else None
            wall = time.time()
            keys = tuple(self._key_view(k.status(), wall) for k in c.keys.values())
            return ProgressSnapshot(
                run_id=self.run_id,
                state=c.state,
                message=c.message,
                total=self.total,
                ok=c.ok,
                unparsed=c.unparsed,
                failed=c.failed,
                in_flight=c.in_flight,
                cached=c.cached,
                timeouts=c.timeouts,
                retries=c.retries,
                rows_per_s=rate,
                eta_s=eta,
                elapsed_s=end - self._started,
                tokens_in=c.tokens_in,
                tokens_out=c.tokens_out,
                cost=c.cost,
                projected_cost=projected,
                correct=c.correct,
                judged=c.judged,
                keys=keys,
                recent_errors=tuple(self._errors),
                simulated=self.simulated,
                reasked=c.reasked,
                reasks=c.reasks,
            )
