"""Pacing per key: each key has its own request (and token) limiter and its own cool-down after a
429, shared by every run in the process, so that two runs with the same key stay within its
limit together.

    registry = GateRegistry()
    gate = registry.gate(key.info())
    await gate.wait_until_cool()
    await gate.acquire(tokens=estimated)
    ... send ...
    gate.cool_down(retry_after)      # on a 429

An `AsyncLimiter` belongs to the event loop that first used it, so a registry lives on one loop:
the engine's single background loop in the app, or a test's own loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from . import constants as C
from .errors import backoff_delay
from .keys import KeyInfo

__all__ = ["KeyGate", "GateRegistry", "request_limiter"]


def request_limiter(rpm: float) -> AsyncLimiter:
    """Even pacing a little under `rpm`, with a burst of at most REQUEST_BURST_S of requests.

    aiolimiter is a leaky bucket whose capacity is `max_rate`; a capacity of one second's worth
    or less is what makes the pace even instead of a burst at the start of every minute."""
    per_s = rpm / 60.0 * C.RATE_SAFETY
    burst = max(1.0, per_s * C.REQUEST_BURST_S)
    return AsyncLimiter(burst, burst / per_s)


def token_limiter(tpm: float) -> AsyncLimiter:
    per_s = tpm / 60.0 * C.RATE_SAFETY
    capacity = max(1.0, per_s * C.TOKEN_BURST_S)
    return AsyncLimiter(capacity, capacity / per_s)


@dataclass
class KeyGate:
    fingerprint: str
    rpm: int
    tpm: int | None
    requests: AsyncLimiter
    tokens: AsyncLimiter | None
    cool_until: float = 0.0  # loop time
    consecutive_429: int = 0

    async def acquire(self, tokens: int = 0) -> None:
        await self.requests.acquire()
        if self.tokens is not None and tokens > 0:
            # A prompt larger than the bucket still goes, after waiting for a full bucket.
            await self.tokens.acquire(min(float(tokens), self.tokens.max_rate))

    def cooling_for(self) -> float:
        return max(0.0, self.cool_until - asyncio.get_running_loop().time())

    async def wait_until_cool(self) -> None:
        while (delay := self.cooling_for()) > 0:
            await asyncio.sleep(delay)

    def cool_down(self, retry_after: float | None) -> float:
        """Pause this key after a 429: as long as the provider said, else exponential backoff.
        Returns the loop time the cool-down ends."""
        self.consecutive_429 += 1
        delay = retry_after if retry_after is not None else backoff_delay(self.consecutive_429) * C.RATE_LIMIT_DEFAULT_COOLDOWN_S
        until = asyncio.get_running_loop().time() + delay
        self.cool_until = max(self.cool_until, until)
        return self.cool_until

    def succeeded(self) -> None:
        self.consecutive_429 = 0

    # --- what the engine calls --------------------------------------------------------------

    async def ready(self, tokens: int = 0) -> None:
        """Wait until this key may send one request now: cool-down over, allowance taken."""
        await self.wait_until_cool()
        await self.acquire(tokens)
        while self.cooling_for() > 0:  # a 429 arrived while we waited for the allowance
            await self.wait_until_cool()

    def observe(self, headers: object = None, *, ok: bool, latency_s: float | None = None) -> None:
        if ok:
            self.succeeded()

    def rate_limited(self, retry_after: float | None, headers: object = None) -> float:
        return self.cool_down(retry_after)

    @property
    def rate_per_s(self) -> float:
        return self.rpm / 60.0 * C.RATE_SAFETY


class GateRegistry:
    """One gate per key fingerprint. If a later run gives a key other limits, the newest win."""

    def __init__(self) -> None:
        self._gates: dict[str, KeyGate] = {}

    def gate(self, key: KeyInfo) -> KeyGate:
        gate = self._gates.get(key.fingerprint)
        if gate is None:
            gate = KeyGate(key.fingerprint, key.rpm, key.tpm, request_limiter(key.rpm), token_limiter(key.tpm) if key.tpm else None)
            self._gates[key.fingerprint] = gate
        elif (gate.rpm, gate.tpm) != (key.rpm, key.tpm):
            gate.rpm, gate.tpm = key.rpm, key.tpm
            gate.requests = request_limiter(key.rpm)
            gate.tokens = token_limiter(key.tpm) if key.tpm else None
        return gate
