"""What a provider says about its rate limits: the `x-ratelimit-*` headers that OpenAI, DashScope,
Groq and others send with every answer, read into one `RateReading` per kind (requests, tokens).

    reading = read_rate_headers(response.headers, "requests", now=loop.time())
    reading.rate_per_s()          # the limit, per second
    reading.share_per_s(now)      # what is left for us when others draw on the same bucket
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .retry import _parse_duration

__all__ = ["RateReading", "read_rate_headers"]


@dataclass(frozen=True)
class RateReading:
    """One kind of `x-ratelimit-*` headers (requests or tokens) as read at loop time `at`."""

    limit: float  # per minute, as OpenAI, DashScope and most others count
    remaining: float
    reset_s: float  # until the bucket is full again
    at: float

    def rate_per_s(self) -> float:
        """The bucket's refill rate: the limit per minute, or less when the missing part refills
        more slowly (a window longer than a minute, such as Groq's requests per day)."""
        per_s = self.limit / 60.0
        missing = self.limit - self.remaining
        if self.reset_s > 0 and missing >= 1:
            per_s = min(per_s, missing / self.reset_s)
        return per_s

    def share_per_s(self, now: float) -> float | None:
        """What is left for us until the reset, aged to `now`. Alone at the limit the bucket stays
        nearly full and this is far above the limit; when others drain it, it falls towards zero
        as the bucket empties, so that every sharer slows down before anyone sees a 429."""
        age = max(0.0, now - self.at)
        left = self.reset_s - age
        if left <= 0:
            return None  # full again by now
        remaining = self.remaining + self.rate_per_s() * age
        return (remaining + 1.0) / left


def read_rate_headers(headers: Mapping[str, str] | None, kind: str, now: float) -> RateReading | None:
    """`x-ratelimit-{limit,remaining,reset}-{kind}`, kind "requests" or "tokens". None when absent
    or unusable (a reset that is an epoch time rather than a duration is unusable)."""
    if not headers:
        return None
    limit, remaining, reset = (headers.get(f"x-ratelimit-{part}-{kind}") for part in ("limit", "remaining", "reset"))
    if limit is None or remaining is None:
        return None
    try:
        limit_n, remaining_n = float(limit), float(remaining)
    except ValueError:
        return None
    reset_s = _parse_duration(reset) if reset is not None else 0.0
    if not (limit_n > 0 and 0 <= remaining_n and reset_s is not None and 0 <= reset_s <= 2 * 86400):
        return None
    return RateReading(limit_n, min(remaining_n, limit_n), reset_s, now)
