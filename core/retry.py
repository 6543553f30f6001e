"""What the provider says about asking again, and how long we wait when it says nothing:
`retry-after-ms` / `retry-after` / `x-ratelimit-reset-requests`, `x-ratelimit-reset-*` durations,
`x-should-retry`, and our exponential backoff. `errors.classify` is the one caller that reads
response headers; the engine and the key check get the result in a `Failure`.

    parse_retry_after({"retry-after": "3600"})              # 300.0: clamped to MAX_RETRY_AFTER_S
    parse_retry_after({"retry-after": "3600"}, cap=None)    # 3600.0: what the provider asked
    should_retry_header({"x-should-retry": "false"})        # False
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Mapping

from . import constants as C
from .durations import describe_seconds

__all__ = ["parse_retry_after", "should_retry_header", "backoff_delay", "describe_seconds"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _parse_duration(value: str) -> float | None:
    """OpenAI's `x-ratelimit-reset-*` format: '1s', '6m0s', '20ms', '1h2m3.5s'."""
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(value):
        if m.start() != pos:
            return None
        unit = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]
        total += float(m.group(1)) * unit
        pos = m.end()
    return total if pos == len(value) and pos > 0 else None


def _seconds(value: str) -> float | None:
    """A delay in a header: a non-negative number. A literal "inf" or "nan" is garbage, as
    openai-python reads it; a number too big for a float ("1e999") is a very long wait."""
    try:
        number = float(value)
    except ValueError:
        return None
    if math.isnan(number) or number < 0:
        return None
    if math.isinf(number) and value.strip().lower().lstrip("+") in ("inf", "infinity"):
        return None
    return number


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None, cap: float | None = C.MAX_RETRY_AFTER_S) -> float | None:
    """Seconds to wait, as the provider said: `retry-after-ms`, then `retry-after` (seconds or an
    HTTP date), then `x-ratelimit-reset-requests`; at most `cap` (None: as asked). None when none
    of them says anything usable."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}

    def capped(value: float) -> float:
        return value if cap is None else min(value, cap)

    ms = lower.get("retry-after-ms")
    if ms is not None and (value := _seconds(ms)) is not None:
        return capped(value / 1000.0)
    ra = lower.get("retry-after")
    if ra is not None:
        if (value := _seconds(ra)) is not None:
            return capped(value)
        parsed = email.utils.parsedate_tz(ra)
        if parsed is not None:
            try:
                when = email.utils.mktime_tz(parsed)
            except (OverflowError, ValueError, OSError):
                when = None
            if when is not None:
                return capped(max(when - (time.time() if now is None else now), 0.0))
    reset = lower.get("x-ratelimit-reset-requests")
    if reset is not None:
        value = _parse_duration(reset)
        if value is not None and value >= 0:
            return capped(value)
    return None


def should_retry_header(headers: Mapping[str, str] | None) -> bool | None:
    """`x-should-retry` as openai-python reads it: True for "true", False for "false", else None
    (the header is not standard; anything else says nothing)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "x-should-retry"), None)
    if value is None:
        return None
    return {"true": True, "false": False}.get(value.strip().lower())


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with *equal* jitter: the cap doubles with each attempt (1 s, 2, 4, ... up
    to BACKOFF_MAX_S) and the wait is drawn from [cap/2, cap]. Not "full" jitter ([0, cap]): half
    the cap is always waited, so a retry never comes straight back, and the other half spreads out
    rows that failed together."""
    cap = min(C.BACKOFF_MAX_S, C.BACKOFF_BASE_S * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(cap / 2, cap)
