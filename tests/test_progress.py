"""The live snapshot a page polls: speed and time left say what the provider is doing."""

from __future__ import annotations

from core.progress import ProgressTracker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def finish(tracker: ProgressTracker, n: int, *, cached: bool = False) -> None:
    for _ in range(n):
        tracker.row_finished("ok", tokens_in=1, tokens_out=1, cost=0.0, cached=cached, correct=None)


def test_cache_hits_do_not_count_towards_speed_or_time_left():
    clock = Clock()
    tracker = ProgressTracker("r", 100, [], clock=clock)
    tracker.set_state("running")
    finish(tracker, 50, cached=True)  # answered at once from the cache
    clock.now += 10
    finish(tracker, 10)  # one row a second from the provider
    snap = tracker.snapshot()
    assert snap.done == 60 and snap.cached == 50
    assert snap.rows_per_s == 1.0 and snap.eta_s == 40.0


def test_a_paused_run_has_no_speed_and_no_time_left():
    clock = Clock()
    tracker = ProgressTracker("r", 100, [], clock=clock)
    tracker.set_state("running")
    clock.now += 5
    finish(tracker, 10)
    assert tracker.snapshot().rows_per_s > 0
    for state in ("paused", "waiting_for_keys"):
        tracker.set_state(state)
        snap = tracker.snapshot()
        assert snap.rows_per_s == 0.0 and snap.eta_s is None, state
