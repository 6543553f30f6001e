"""The engine's home: one asyncio loop in one background thread per process, hosting every run,
and thread-safe handles that the UI and the command line use to watch and steer a run.

One loop for all runs is what lets two browser tabs that share a key share its limiter too (and,
with LLM_BATCH_REDIS_URL, every process's: core/shared_limits.py). A run launched with its lease
(core/leases.py) has it renewed here while it goes, and released when it ends. This is machinery,
not policy: what to run (which rows, which keys, resume or start) is decided in `runs.py`, whose
functions hand a ready `BatchEngine` to `Runner.launch`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from .clients import ClientFactory, default_client_factory
from .engine import BatchEngine
from .keys import KeyEntry
from .leases import RunLease
from .limits import GateRegistry
from .progress import ProgressSnapshot, ProgressTracker
from .shared_limits import shared_limits_from_env
from .status import RunStatus

__all__ = ["Runner", "RunHandle", "get_runner"]

T = TypeVar("T")


class RunHandle:
    """A run on the engine loop, seen from another thread. Every method returns at once."""

    def __init__(self, runner: Runner, engine: BatchEngine, future: concurrent.futures.Future[str]) -> None:
        self.run_id = engine.run_id
        self._runner = runner
        self._engine: BatchEngine | None = engine
        self._future = future
        self._tracker: ProgressTracker | None = engine.tracker
        self._final: ProgressSnapshot | None = None
        future.add_done_callback(self._ended)

    def _ended(self, _: object) -> None:
        # A finished run keeps only its final snapshot: no engine, no cells, no keys.
        tracker = self._tracker
        if tracker is not None:
            self._final = tracker.snapshot()
        self._engine = None
        self._tracker = None

    def snapshot(self) -> ProgressSnapshot:
        tracker = self._tracker
        if tracker is not None:
            return tracker.snapshot()
        assert self._final is not None
        return self._final

    def _call(self, method: str, *args: object) -> None:
        engine = self._engine
        if engine is not None:
            self._runner.call(getattr(engine, method), *args)

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def try_resume(self, timeout: float = 10.0) -> bool:
        """Resume this engine and say whether it took it: False once it is closing (or closed),
        when the caller must start a new engine from the store instead."""
        engine = self._engine
        if engine is None:
            return False

        async def resume() -> bool:
            return engine.resume()

        try:
            return self._runner.submit(resume()).result(timeout)
        except concurrent.futures.TimeoutError:
            return False

    def cancel(self) -> None:
        self._call("stop", RunStatus.CANCELLED, "Cancelled: finished rows are kept; resume to do the rest.")

    def stop(self, message: str) -> None:
        """Stop sending and leave the run paused in the store, to be resumed later."""
        self._call("stop", RunStatus.PAUSED, message)

    def abort(self) -> None:
        """Cut requests still in flight after a stop instead of letting them finish."""
        self._call("abort")

    def add_keys(self, keys: Sequence[KeyEntry]) -> None:
        self._call("add_keys", list(keys))

    @property
    def done(self) -> bool:
        return self._future.done()

    @property
    def going(self) -> bool:
        """Still sending or able to: not finished by its own account. The engine reports the end a
        moment before its thread lets go of the run (the writer and clients close meanwhile); a
        page asks this, not `done`, or it would keep redrawing a finished run as live."""
        return not self._future.done() and not self.snapshot().finished

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (True) or the timeout passes (False)."""
        try:
            self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        except Exception:
            return True
        return True

    def result(self) -> str:
        return self._future.result()


class Runner:
    def __init__(self, client_factory: ClientFactory = default_client_factory) -> None:
        self.client_factory = client_factory
        self.gates = GateRegistry(shared=shared_limits_from_env())  # used on the loop thread only
        self._loop = asyncio.new_event_loop()
        self._handles: dict[str, RunHandle] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop.run_forever, name="llm-batch-engine", daemon=True)
        self._thread.start()

    def call(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        self._loop.call_soon_threadsafe(fn, *args)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the engine loop from another thread."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("submit() blocks the engine loop when called from it; await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def launch(self, engine: BatchEngine, lease: RunLease | None = None) -> RunHandle:
        """Run the engine on the loop; with its lease, which is then renewed until the run ends,
        and released."""
        with self._lock:
            live = self._handles.get(engine.run_id)
            if live is not None and not live.done:
                raise RuntimeError(f"run {engine.run_id} is already running")
            future = asyncio.run_coroutine_threadsafe(engine.run() if lease is None else self._leased(engine, lease), self._loop)
            handle = RunHandle(self, engine, future)
            self._handles[engine.run_id] = handle
            return handle

    async def _leased(self, engine: BatchEngine, lease: RunLease) -> str:
        keeper = asyncio.create_task(self._keep(engine, lease), name=f"lease-{engine.run_id}")
        try:
            result = await engine.run()
        except GeneratorExit:
            # The loop died under the run (the process is going): nothing can be tidied up on it,
            # and the lease is left to expire, as a killed process's does.
            raise
        except BaseException:
            await self._let_go(keeper, lease)
            raise
        await self._let_go(keeper, lease)
        return result

    @staticmethod
    async def _let_go(keeper: asyncio.Task[None], lease: RunLease) -> None:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        with contextlib.suppress(sqlite3.Error):  # a full disk: the lease then expires on its own
            await asyncio.to_thread(lease.release)

    async def _keep(self, engine: BatchEngine, lease: RunLease) -> None:
        """The run's heartbeat. A lease found taken over means this process was silent past its TTL
        (frozen, or cut off from the disk) and another now runs the run: stop sending at once."""
        while True:
            await asyncio.sleep(lease.heartbeat_s)
            try:
                held = await asyncio.to_thread(lease.renew)
            except sqlite3.Error:
                continue  # the disk refuses for now; the writer says so, and the next beat tries again
            if not held:
                engine.stop(RunStatus.PAUSED, "Another process took this run over (this one was not heard from in time); it goes on there.")
                engine.abort()
                return

    def get(self, run_id: str) -> RunHandle | None:
        """The live handle of a run started in this process, if it is still going."""
        with self._lock:
            handle = self._handles.get(run_id)
        return handle if handle is not None and not handle.done else None

    def going(self, run_id: str) -> RunHandle | None:
        """The handle of a run of this process that is still going by its own account: what a page
        shows as live, with Pause and Cancel. See `RunHandle.going`."""
        handle = self.get(run_id)
        return handle if handle is not None and handle.going else None

    def last(self, run_id: str) -> RunHandle | None:
        """The handle of a run started in this process, finished or not."""
        with self._lock:
            return self._handles.get(run_id)

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            handles = list(self._handles.values())
        for h in handles:
            h.cancel()
        for h in handles:
            h.wait(timeout)
        shared = self.gates.shared
        if shared is not None:
            with contextlib.suppress(Exception):  # a dead Redis must not hold up the shutdown
                self.submit(shared.aclose()).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)


_runner: Runner | None = None
_runner_lock = threading.Lock()


def get_runner() -> Runner:
    """The process's runner, started on first use."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = Runner()
        return _runner
