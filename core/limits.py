"""Pacing per key, or per group of keys that share one account limit: a gate lets one request
through at a time at the key's pace, learns that pace from the provider, and cools the key down
after a 429. Gates live in a process-wide registry, so two runs on one key stay within its limit
together.

    gate = registry.gate(key.info())
    await gate.ready(tokens=estimate)                 # this key may send ONE request now
    ...send...
    gate.observe(headers, ok=True, latency_s=0.8)     # every answer, and every error but a 429
    until = gate.rate_limited(retry_after, headers)   # a 429: cool down, slow down

How a gate chooses its pace (requests/s; tokens/s likewise, without the learning):
- a number the user set (`rpm`) is a ceiling, never exceeded (paced at RATE_SAFETY of it);
- where the provider sends `x-ratelimit-limit/remaining/reset-requests` (and `-tokens`), its limit
  times RATE_SAFETY, and slower when `remaining` runs low before `reset`: someone else draws on
  the same key or account, and every gate that sees the bucket drain slows down together;
- else it learns from 429s, like TCP: start modestly, grow while the pace is what holds requests
  back and answers are clean, cut by AUTO_BACKOFF on a 429, climb back fast to just under the
  rate the 429 came at, then probe above it ever more slowly.

Requests pass evenly: a leaky bucket holding at most REQUEST_BURST_S of the pace. Not aiolimiter,
whose rate is fixed when it is made: a replacement limiter starts empty, which is a burst.

With LLM_BATCH_REDIS_URL, the registry's gates also take every allowance from the same bucket in
Redis (core/shared_limits.py) and tell it their 429s: the processes sharing that Redis then stay
within a key's limit together, and a cool-down one of them meets holds them all. The pace is still
learnt here, per process. When Redis cannot be reached, a gate paces alone, as without it.

A gate reads its event loop's clock, so one registry lives on one loop (the engine's, or a test's).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Mapping

from . import constants as C
from .gate_view import GateView, PaceSource
from .keys import KeyInfo, start_rpm
from .rate_headers import RateReading, read_rate_headers
from .retry import backoff_delay
from .shared_limits import SharedLimits

__all__ = ["KeyGate", "GateRegistry", "GateView", "PaceSource"]

Clock = Callable[[], float]


# --- The bucket ---------------------------------------------------------------------------------


class _Bucket:
    """A leaky bucket whose rate may change at any time without opening a burst: its level is
    kept, only the drain rate and the capacity (`burst_s` of the rate, at least 1) change."""

    __slots__ = ("rate", "burst_s", "level", "stamp")

    def __init__(self, rate: float, burst_s: float, now: float) -> None:
        self.rate, self.burst_s, self.level, self.stamp = rate, burst_s, 0.0, now

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate * self.burst_s)

    def _leak(self, now: float) -> None:
        if now > self.stamp:
            self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
            self.stamp = now

    def set_rate(self, rate: float, now: float) -> None:
        if rate != self.rate:
            self._leak(now)
            self.rate = rate

    def wait(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits (0: now). More than the whole bucket goes once it is empty."""
        self._leak(now)
        over = self.level + min(amount, self.capacity) - self.capacity
        return 0.0 if over <= 1e-9 else over / self.rate

    def take(self, amount: float, now: float) -> None:
        self._leak(now)
        self.level += min(amount, self.capacity)

    def hold_until(self, t: float, now: float) -> None:
        """At `t` (a cool-down's end) one request may go, then the pace: not a burst."""
        self._leak(now)
        if t > self.stamp:
            drained = max(0.0, self.level - (t - self.stamp) * self.rate)
            self.level, self.stamp = max(drained, self.capacity - 1.0), t


# --- The gate -----------------------------------------------------------------------------------


class KeyGate:
    """The pace of one key, or of one group of keys sharing a limit. Used on one event loop."""

    def __init__(
        self,
        ident: str,
        *,
        start_per_s: float,
        rpm: int | None = None,
        tpm: int | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        shared: SharedLimits | None = None,
    ) -> None:
        self.ident = ident
        self.rpm, self.tpm = rpm, tpm  # ceilings; None: none set
        self._shared = shared  # the bucket and cool-down every process shares, if any
        self._shared_id = shared.key_id(ident) if shared is not None else ""
        self._clock = clock
        self._rng = rng
        # No clock is read here: a gate may be made before its loop runs, and it goes by that
        # loop's clock from its first use.
        self._aimd = max(start_per_s, C.AUTO_MIN_RPM / 60.0)  # the pace learnt from 429s (and its start)
        self._learnt: float | None = None  # the pace 429s came at
        self._probe_s = C.AUTO_PROBE_S
        self._requests_read: RateReading | None = None
        self._tokens_read: RateReading | None = None
        self._requests = _Bucket(self._aimd, C.REQUEST_BURST_S, -math.inf)
        self._tokens: _Bucket | None = None
        self._lock = asyncio.Lock()
        self._faster: asyncio.Event | None = None  # set when the pace jumps up: the waiter looks again
        self._paced_at = -math.inf  # the last time a request waited for the pace
        self._grown_at = -math.inf
        self._cut_at = -math.inf
        self._latency: float | None = None
        self.cool_until = 0.0  # loop time
        self.consecutive_429 = 0
        self.rate_limited_count = 0
        self.sent = 0

    def _now(self) -> float:
        if self._clock is None:
            try:
                self._clock = asyncio.get_running_loop().time
            except RuntimeError:  # another thread asking for a view: the loop's clock is monotonic
                return time.monotonic()
        return self._clock()

    # --- the pace -------------------------------------------------------------------------------

    def _pace(self, now: float) -> tuple[float, PaceSource, float | None]:
        """(requests/s, where it comes from, the limit it follows in requests/s)."""
        pace = self._aimd
        source, limit = (PaceSource.LEARNT, self._learnt) if self._learnt is not None else (PaceSource.STARTING, None)
        reading = self._requests_read
        if reading is not None:
            provider = reading.rate_per_s()
            share = reading.share_per_s(now)
            pace = min(pace, provider * C.RATE_SAFETY, share if share is not None else math.inf)
            source, limit = PaceSource.PROVIDER, provider
        if self.rpm is not None and self.rpm / 60.0 * C.RATE_SAFETY <= pace:
            pace, source, limit = self.rpm / 60.0 * C.RATE_SAFETY, PaceSource.SET, self.rpm / 60.0
        return pace, source, limit

    def _token_pace(self, now: float) -> tuple[float, PaceSource | None, float | None]:
        """(tokens/s or inf, where it comes from, the limit in tokens/s)."""
        pace, source, limit = math.inf, None, None
        reading = self._tokens_read
        if reading is not None:
            provider = reading.rate_per_s()
            share = reading.share_per_s(now)
            pace = min(provider * C.RATE_SAFETY, share if share is not None else math.inf)
            source, limit = PaceSource.PROVIDER, provider
        if self.tpm is not None and self.tpm / 60.0 * C.RATE_SAFETY <= pace:
            pace, source, limit = self.tpm / 60.0 * C.RATE_SAFETY, PaceSource.SET, self.tpm / 60.0
        return pace, source, limit

    def _cap(self) -> float:
        """The most the learnt pace may grow to: the ceiling and the provider's limit."""
        cap = math.inf
        if self._requests_read is not None:
            cap = self._requests_read.rate_per_s() * C.RATE_SAFETY
        if self.rpm is not None:
            cap = min(cap, self.rpm / 60.0 * C.RATE_SAFETY)
        return cap

    def _apply(self, now: float) -> None:
        self._requests.set_rate(self._pace(now)[0], now)
        tokens = self._token_pace(now)[0]
        if math.isfinite(tokens):
            if self._tokens is None:
                self._tokens = _Bucket(tokens, C.TOKEN_BURST_S, now)
            self._tokens.set_rate(max(tokens, 1e-6), now)

    @property
    def rate_per_s(self) -> float:
        """The current pace in requests/s."""
        return self._pace(self._now())[0]

    @property
    def latency_s(self) -> float | None:
        """The running average latency of answers, None before the first."""
        return self._latency

    def concurrency_for(self, cap: int) -> int:
        """Requests in flight that keep this key at its pace: rate x latency x margin, 1..cap."""
        latency = self._latency if self._latency is not None else C.AUTO_ASSUMED_LATENCY_S
        return max(1, min(cap, math.ceil(self.rate_per_s * latency * C.AUTO_CONCURRENCY_MARGIN)))

    # --- sending --------------------------------------------------------------------------------

    async def ready(self, tokens: int = 0) -> None:
        """Wait until this key may send one request now, and take its allowance (and `tokens`,
        the request's estimated tokens, when a token limit is known). Never returns while the key
        is cooling. One waiter at a time looks at the clock, the others queue in order behind it;
        a cancelled wait takes nothing."""
        async with self._lock:
            while True:
                now = self._now()
                wait = self._wait(now, tokens)
                if wait <= 0 and self._shared is not None:
                    wait = await self._shared_wait(tokens)
                    now = self._now()
                if wait <= 0:
                    break
                await self._sleep(min(wait, C.GATE_RECHECK_S))
            self._requests.take(1.0, now)
            if tokens > 0 and self._tokens is not None:
                self._tokens.take(float(tokens), now)
            self.sent += 1

    async def _sleep(self, seconds: float) -> None:
        if self._faster is None:
            self._faster = asyncio.Event()
        try:
            await asyncio.wait_for(self._faster.wait(), seconds)
        except TimeoutError:
            pass

    def _jumped(self) -> None:
        if self._faster is not None:
            self._faster.set()
            self._faster = None

    def _wait(self, now: float, tokens: int) -> float:
        if self.cool_until > now:
            return self.cool_until - now
        self._apply(now)
        wait = self._requests.wait(1.0, now)
        if wait > 0:
            self._paced_at = now  # the pace, not a lack of work, is what holds requests back
        if tokens > 0 and self._tokens is not None:
            wait = max(wait, self._tokens.wait(float(tokens), now))
        return wait

    async def _shared_wait(self, tokens: int) -> float:
        """This process may send: ask the bucket all processes share (which takes the allowance if
        it may go now). 0 when Redis cannot be reached: the gate then paces alone."""
        assert self._shared is not None
        bucket = self._tokens if tokens > 0 else None
        answer = await self._shared.admit(
            self._shared_id, self._requests.rate, self._requests.capacity,
            tokens=tokens if bucket is not None else 0, token_rate=bucket.rate if bucket is not None else 0.0,
            token_capacity=bucket.capacity if bucket is not None else 0.0,
        )  # fmt: skip
        if answer is None:
            return 0.0
        if answer.cooling:  # another process met a 429: this one cools down too, and shows it
            self.cool_until = max(self.cool_until, self._now() + answer.wait_s)
        elif answer.wait_s > 0:
            self._paced_at = self._now()  # the shared pace holds requests back: the learnt pace may grow
        return answer.wait_s

    def cooling_for(self) -> float:
        return max(0.0, self.cool_until - self._now())

    # --- answers --------------------------------------------------------------------------------

    def _read(self, headers: Mapping[str, str] | None, now: float) -> None:
        if not headers:
            return
        requests = read_rate_headers(headers, "requests", now)
        if requests is not None:
            if self._requests_read is None and self._learnt is None:
                self._aimd = max(self._aimd, requests.rate_per_s() * C.RATE_SAFETY)  # pace at the limit from the start
                self._jumped()
            self._requests_read = requests
        tokens = read_rate_headers(headers, "tokens", now)
        if tokens is not None:
            self._tokens_read = tokens

    def observe(self, headers: Mapping[str, str] | None, *, ok: bool, latency_s: float | None = None) -> None:
        """After every answer, and every error but a 429 (call `rate_limited` for those): learn
        from its headers (lower-case names) and, when it succeeded, let the pace grow."""
        now = self._now()
        self._read(headers, now)
        if latency_s is not None and latency_s >= 0:
            self._latency = latency_s if self._latency is None else self._latency + C.LATENCY_EWMA * (latency_s - self._latency)
        if ok:
            self.consecutive_429 = 0
            self._grow(now)

    def _grow(self, now: float) -> None:
        elapsed = now - self._grown_at
        if elapsed <= 0:
            return
        self._grown_at = now
        if math.isinf(elapsed):
            return  # the first answer: growth is measured from here
        if now - self._paced_at > C.AUTO_PACED_WINDOW_S:
            return  # requests did not wait for the pace: a faster one would prove nothing
        cap = self._cap()
        target = min(cap, self._learnt * C.AUTO_TARGET) if self._learnt is not None else cap
        rate = self._aimd
        if rate < target:
            rate = min(target, rate * 2.0 ** (elapsed / C.AUTO_DOUBLE_S))
        else:
            rate *= 1.1 ** (elapsed / self._probe_s)
        self._aimd = min(rate, cap)

    def rate_limited(self, retry_after: float | None, headers: Mapping[str, str] | None = None) -> float:
        """A 429: cool down for as long as the provider said (else a growing backoff) and lower
        the pace. Returns the loop time the cool-down ends."""
        now = self._now()
        self._read(headers, now)
        self.consecutive_429 += 1
        self.rate_limited_count += 1
        if retry_after is None:
            delay = backoff_delay(self.consecutive_429, self._rng) * C.RATE_LIMIT_DEFAULT_COOLDOWN_S
        else:
            delay = min(max(retry_after, 0.0), C.MAX_RETRY_AFTER_S)
        self.cool_until = max(self.cool_until, now + delay)
        # 429s for requests sent before the cut are the same overshoot: cut once for them.
        if now - self._cut_at >= max(C.AUTO_EVENT_S, 2 * (self._latency or 0.0)):
            self._cut(now)
        self._apply(now)
        self._requests.hold_until(self.cool_until, now)
        self._grown_at = max(self._grown_at, self.cool_until)
        if self._shared is not None:  # every process sharing the key cools down with this one
            self._shared.cool(self._shared_id, self.cool_until - now, self._requests.rate, self._requests.capacity)
        return self.cool_until

    def _cut(self, now: float) -> None:
        # From the learnt pace under the limits, not from a momentary slow-down for a draining
        # bucket: cutting that would leave nothing to learn from.
        pace = min(self._aimd, self._cap())
        if self._learnt is None:
            self._learnt = pace
        else:
            # An average, not the last: keys sharing an account see their 429s at paces that
            # wander with the others'. Each 429 slows the probe: a steady limit costs fewer 429s.
            self._learnt = (self._learnt + pace) / 2
            self._probe_s = min(self._probe_s * 2, C.AUTO_PROBE_MAX_S)
        self._aimd = max(C.AUTO_MIN_RPM / 60.0, pace * C.AUTO_BACKOFF)
        self._cut_at = now

    def set_ceilings(self, rpm: int | None, tpm: int | None) -> None:
        """A later run's limits for the same key: the newest win, without a burst (the buckets keep
        their level). A higher ceiling on a key that has learnt nothing applies at once."""
        if rpm is not None and (self.rpm is None or rpm > self.rpm) and self._learnt is None and self._requests_read is None:
            self._aimd = max(self._aimd, rpm / 60.0)
        self.rpm, self.tpm = rpm, tpm
        self._jumped()

    def view(self) -> GateView:
        now = self._now()
        pace, source, limit = self._pace(now)
        tokens, tokens_source, tokens_limit = self._token_pace(now)
        return GateView(
            pace_per_min=pace * 60, source=source, limit_per_min=limit * 60 if limit is not None else None,
            tokens_per_min=tokens * 60 if math.isfinite(tokens) else None, tokens_source=tokens_source,
            tokens_limit_per_min=tokens_limit * 60 if tokens_limit is not None else None,
            cool_until=self.cool_until, cooling_s=max(0.0, self.cool_until - now), rate_limited=self.rate_limited_count,
            latency_s=self._latency, shared=None if self._shared is None else ("redis" if self._shared.healthy else "alone"),
        )  # fmt: skip

    @property
    def counts_tokens(self) -> bool:
        """Whether `ready` uses the `tokens` estimate: a token limit is set or the provider sent one."""
        return self.tpm is not None or self._tokens_read is not None

    # --- older calls, kept for callers not yet on ready/observe/rate_limited --------------------

    @property
    def tokens(self) -> _Bucket | None:
        """Not None once a token limit is set or learnt: the engine then passes estimates."""
        if self._tokens is None and (self.tpm is not None or self._tokens_read is not None):
            self._apply(self._now())
        return self._tokens

    async def acquire(self, tokens: int = 0) -> None:
        await self.ready(tokens)

    async def wait_until_cool(self) -> None:
        while (delay := self.cooling_for()) > 0:
            await asyncio.sleep(delay)

    def cool_down(self, retry_after: float | None) -> float:
        return self.rate_limited(retry_after, None)

    def succeeded(self) -> None:
        self.observe(None, ok=True)


class GateRegistry:
    """One gate per limit: per key, or per group of keys at one base URL (`KeyInfo.group`). When a
    later run gives a key other ceilings, the newest win and what was learnt stays."""

    def __init__(self, *, clock: Clock | None = None, rng: random.Random | None = None, shared: SharedLimits | None = None) -> None:
        self._gates: dict[str, KeyGate] = {}
        self._clock = clock
        self._rng = rng
        self.shared = shared  # with LLM_BATCH_REDIS_URL: the limits every process shares

    def gate(self, key: KeyInfo) -> KeyGate:
        ident = key.limit_id
        gate = self._gates.get(ident)
        if gate is None:
            # The simulated provider lives in each process: its keys' limits are that process's own.
            shared = self.shared if not key.simulated else None
            gate = KeyGate(ident, start_per_s=start_rpm(key) / 60.0, rpm=key.rpm, tpm=key.tpm, clock=self._clock, rng=self._rng, shared=shared)
            self._gates[ident] = gate
        elif (gate.rpm, gate.tpm) != (key.rpm, key.tpm):
            gate.set_ceilings(key.rpm, key.tpm)
        return gate

    def view(self, key: KeyInfo) -> GateView | None:
        """What the gate of this key knows, if a run used it; callable from any thread (it only
        reads, and the view is a frozen copy)."""
        gate = self._gates.get(key.limit_id)
        return gate.view() if gate is not None else None
