"""How a duration is written for people: on a clock (`clock`: "1:05", "2:03:04") where a page or
the command line shows a time left or taken, and in words (`describe_seconds`: "45 s", "5 min")
in a sentence. (The simulator writes OpenAI's header format, "6m0s", for its own headers.)"""

from __future__ import annotations

import math

__all__ = ["clock", "describe_seconds"]


def clock(seconds: float | None, missing: str = "–") -> str:
    """Rounded to the second: "0:07", "1:05", "2:03:04"; `missing` for no time (None or forever)."""
    if seconds is None or not math.isfinite(seconds):
        return missing
    whole = int(round(max(seconds, 0.0)))
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02}:{s:02}" if h else f"{m}:{s:02}"


def describe_seconds(seconds: float) -> str:
    """A duration as a person says it: "0.3 s", "45 s", "5 min", "1.5 h", "forever"."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 60:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
