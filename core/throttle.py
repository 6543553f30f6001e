"""Failed sign-ins slow the next ones down, for one session and for the whole process.

    throttle = get_throttle()
    wait = throttle.wait_s(session_id)     # 0: may try now; else seconds to wait first
    if not ok: throttle.failed(session_id)
    else: throttle.succeeded(session_id)

A session's own wait doubles with each failure. Sessions cost nothing to make, so the process
counts failures too: past a few within a window, every session waits, doubling the same way.
Nothing sleeps: an attempt made too early is refused without checking the password, and the
page says how long to wait. The clock is injected so that the tests run on a virtual one."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from . import constants as C

__all__ = ["LoginThrottle", "get_throttle"]


def _delay(failures: int) -> float:
    """The wait after `failures` failures counted against someone: 1 s, 2 s, 4 s, ... capped."""
    if failures <= 0:
        return 0.0
    return min(C.LOGIN_DELAY_MAX_S, C.LOGIN_DELAY_BASE_S * 2 ** min(failures - 1, 32))


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, tuple[int, float]] = OrderedDict()  # session -> (failures, last failure)
        self._recent: deque[float] = deque()  # the process's failures within the window

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0] > C.LOGIN_WINDOW_S:
            self._recent.popleft()
        while self._sessions:
            first = next(iter(self._sessions))
            if now - self._sessions[first][1] <= C.LOGIN_WINDOW_S and len(self._sessions) <= C.LOGIN_MAX_SESSIONS:
                break
            del self._sessions[first]

    def wait_s(self, session: str) -> float:
        """Seconds before this session may try a password again (0: now)."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            failures, last = self._sessions.get(session, (0, now))
            own = last + _delay(failures) - now
            crowd = (self._recent[-1] + _delay(len(self._recent) - C.LOGIN_FREE_FAILURES) - now) if self._recent else 0.0
            return max(0.0, own, crowd)

    def failed(self, session: str) -> None:
        with self._lock:
            now = self.clock()
            self._prune(now)
            failures, _ = self._sessions.pop(session, (0, now))
            self._sessions[session] = (failures + 1, now)  # to the end: the newest are kept longest
            self._recent.append(now)

    def succeeded(self, session: str) -> None:
        """The session's own count starts again; the process's stays (it is about everyone)."""
        with self._lock:
            self._sessions.pop(session, None)


_throttle: LoginThrottle | None = None
_throttle_lock = threading.Lock()


def get_throttle() -> LoginThrottle:
    """The process's throttle, shared by every session (as get_runner is the process's runner)."""
    global _throttle
    with _throttle_lock:
        if _throttle is None:
            _throttle = LoginThrottle()
        return _throttle
