"""A virtual clock for asyncio tests: the loop's time jumps to the next timer whenever nothing is
ready to run, so pacing, cool-downs, backoffs and latencies take no real time and every test of
them is exact and repeatable on a loaded machine (aiolimiter's own tests patch the loop's time the
same way).

    def test_pacing():
        async def main():
            limiter = AsyncLimiter(1, 0.1)
            for _ in range(50):
                await limiter.acquire()
            return asyncio.get_running_loop().time()
        assert vrun(main) == pytest.approx(4.9)

A starved loop is acted out with `loop.turn_s`: every turn of the loop then costs that many
seconds, as it does when the loop's thread waits for the GIL or a core (the engine shares its
process with Streamlit, and the machine with a browser). Timers come due while little work gets
done, which is what pacing has to survive.

Real I/O still works: the selector is polled first; while a thread started with
`run_in_executor` (`asyncio.to_thread`) is working, the clock stands still and the loop waits for
it for real; when nothing is scheduled at all it waits for real, up to `idle_real_s`. A loop that is
idle for that long, or whose clock passes `max_virtual_s`, is a hang, and `vrun` says so instead
of blocking the suite.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["VirtualClockLoop", "VirtualClockHang", "vrun"]

T = TypeVar("T")

# What one turn of the loop costs on the virtual clock (real turns take a microsecond or more).
# Float drift can leave a timer due "now" forever on a clock that never moves.
TICK_S = 1e-9


class VirtualClockHang(AssertionError):
    """The code under test would wait forever (or far longer than any run may)."""


class _VirtualSelector:
    def __init__(self, inner: selectors.BaseSelector, loop: VirtualClockLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        # Every turn of the loop costs a tick, as it costs real loops some CPU time: a limiter
        # that re-arms a timer for "now" (float drift) must still see the clock move.
        starved = self._loop.turn_s
        self._loop.advance(TICK_S + starved)
        events = self._inner.select(0)
        if events or timeout == 0:
            return events
        if self._loop.threads_busy():
            # A thread (asyncio.to_thread, getaddrinfo, the SDK's platform probe) is working in
            # real time: the clock waits for it, as it would if the thread were instant.
            return self._inner.select(self._loop.idle_real_s if timeout is None else min(timeout, 0.05) or 0.05)
        if timeout is None:
            # Nothing scheduled: only a thread or a socket can wake the loop. Wait for real.
            events = self._inner.select(self._loop.idle_real_s)
            if not events:
                raise VirtualClockHang(f"the loop waited {self._loop.idle_real_s} s of real time with nothing scheduled: a hang")
            return events
        self._loop.advance(max(0.0, timeout - starved))  # a slow turn already waited that long
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self, *, max_virtual_s: float = 24 * 3600.0, idle_real_s: float = 30.0) -> None:
        super().__init__()
        self._now = 0.0
        self.turn_s = 0.0  # extra cost of every turn: > 0 acts out a starved loop
        self._jobs: set[asyncio.Future[Any]] = set()
        self.max_virtual_s = max_virtual_s
        self.idle_real_s = idle_real_s
        self._selector = _VirtualSelector(self._selector, self)  # type: ignore[assignment]

    def time(self) -> float:
        return self._now

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        future = super().run_in_executor(executor, func, *args)
        self._jobs.add(future)
        future.add_done_callback(self._jobs.discard)
        return future

    def threads_busy(self) -> bool:
        return any(not f.done() for f in self._jobs)

    def advance(self, seconds: float) -> None:
        self._now += seconds
        if self._now > self.max_virtual_s:
            raise VirtualClockHang(f"the virtual clock passed {self.max_virtual_s} s: the code under test never finishes")


def vrun(main: Callable[[], Awaitable[T]], **loop_options: float) -> T:
    """Run `main()` to completion on a fresh virtual-clock loop and return its result."""
    loop = VirtualClockLoop(**loop_options)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main())
    finally:
        loop.max_virtual_s = float("inf")  # cleaning up after a hang must not hang again
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
