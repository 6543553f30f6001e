"""The store's writer thread: row results and status changes go through a queue and are committed
in batches, so the engine's loop never waits on SQLite (a WAL checkpoint can hold a commit for
tens of milliseconds, and every request in flight would wait with it).

    writer = ResultWriter(store, on_error=report)
    writer.record(run_id, result, cache_key)     # returns at once, from any thread
    writer.set_status(run_id, "done", "Finished")  # lands after the rows recorded before it
    writer.flush(timeout=30)                     # True once everything so far is committed
    writer.close()

A commit that fails (a full disk) is rolled back, the connection reopened, and the same batch
tried again with a growing pause, so freeing disk space saves those rows without paying for them
again. `on_error` hears of each failure episode once, from the writer thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import constants as C
from .keys import KeyInfo
from .store import RUN_STATUSES, RowResult, RunStore

__all__ = ["ResultWriter"]


@dataclass(frozen=True)
class _Op:
    kind: str  # "row" | "status" | "keys"
    run_id: str
    result: RowResult | None = None
    cache_key: str | None = None
    status: str = ""
    message: str = ""
    keys: tuple[KeyInfo, ...] = ()


class ResultWriter:
    def __init__(
        self,
        store: RunStore,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        interval_s: float = C.WRITE_BATCH_S,
        max_rows: int = C.WRITE_BATCH_ROWS,
    ) -> None:
        self.store = store
        self.on_error = on_error
        self.interval_s = interval_s
        self.max_rows = max_rows
        self._cond = threading.Condition()
        self._queue: list[_Op] = []
        self._submitted = 0
        self._committed = 0
        self._failures = 0  # failed commits so far; flush() stops waiting at a new one
        self._error: BaseException | None = None
        self._urgent = False
        self._closing = False
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="llm-batch-writer", daemon=True)
        self._thread.start()

    # --- any thread -------------------------------------------------------------------------

    def record(self, run_id: str, result: RowResult, cache_key: str | None = None) -> None:
        self._put(_Op("row", run_id, result=result, cache_key=cache_key))

    def set_status(self, run_id: str, status: str, message: str = "") -> None:
        # Checked here, where the caller sees it: in a batch it would fail every row behind it.
        if status not in RUN_STATUSES:
            raise ValueError(f"not a run status: {status!r}")
        self._put(_Op("status", run_id, status=status, message=message))

    def update_keys(self, run_id: str, keys: Sequence[KeyInfo]) -> None:
        self._put(_Op("keys", run_id, keys=tuple(keys)))

    @property
    def error(self) -> BaseException | None:
        """The last commit error while it is not resolved; None when healthy."""
        return self._error

    @property
    def backlog(self) -> int:
        """Rows and changes submitted but not yet committed: what a kill -9 now would lose."""
        return self._submitted - self._committed

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything submitted so far is committed (True), or a commit fails or
        the timeout passes first (False)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("flush() on the writer's own thread (an on_error callback) would wait for itself")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target, failures = self._submitted, self._failures
            self._urgent = True
            self._cond.notify_all()
            while self._committed < target:
                if self._failures != failures or self._stopped:
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush (trying a failing batch until the timeout) and stop the thread. Idempotent."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = self.flush(timeout)
        while not ok and self._error is not None and not self._stopped and (deadline is None or time.monotonic() < deadline):
            ok = self.flush(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return ok

    def _put(self, op: _Op) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the writer is closed")
            self._queue.append(op)
            self._submitted += 1
            if len(self._queue) == 1 or len(self._queue) >= self.max_rows:
                self._cond.notify_all()  # wake the thread: a batch starts, or is full

    # --- the writer thread --------------------------------------------------------------------

    def _loop(self) -> None:
        pause = C.WRITE_RETRY_S
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue and self._closing:
                        return
                    if not self._urgent and len(self._queue) < self.max_rows and not self._closing:
                        # Let a batch gather; a flush or a full batch cuts the wait short.
                        self._cond.wait_for(lambda: self._urgent or len(self._queue) >= self.max_rows or self._closing, self.interval_s)
                    batch = list(self._queue[: max(self.max_rows, 1)])
                try:
                    self.store.write_batch([(op.kind, op.run_id, op.result, op.cache_key, op.status, op.message, op.keys) for op in batch])
                except Exception as exc:  # noqa: BLE001 - a bug too: reported, never a silently dead thread
                    with self._cond:
                        first = self._error is None
                        self._error = exc
                        self._failures += 1
                        self._cond.notify_all()
                    if first and self.on_error is not None:
                        try:
                            self.on_error(exc)
                        except Exception:  # a broken listener must not stop the writer
                            pass
                    with self._cond:
                        # Try the same batch again later, or at once when somebody flushes.
                        self._urgent = False
                        self._cond.wait_for(lambda: self._urgent or self._closing, pause)
                        if self._closing and not self._urgent:
                            return
                    pause = min(pause * 2, C.WRITE_RETRY_MAX_S)
                    continue
                pause = C.WRITE_RETRY_S
                with self._cond:
                    del self._queue[: len(batch)]
                    self._committed += len(batch)
                    self._error = None
                    if not self._queue:
                        self._urgent = False
                    self._cond.notify_all()
        finally:
            self.store.close()  # this thread's connection
            with self._cond:
                self._stopped = True  # wakes a flush() waiting for a thread that is gone
                self._cond.notify_all()
