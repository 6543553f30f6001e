"""A key's gate as the UI sees it: its pace, the limit it follows and where that limit came from,
as a frozen snapshot with plain-language text (English here; the app translates the codes).

    view.text          # "limit 500/min from the provider", "about 240/min, learnt"
    view.describe()    # [("provider", {"pace": "490", "limit": "500"})]: codes for `pace.<code>`
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["PaceSource", "GateView", "PACE_TEXTS"]


class PaceSource(enum.Enum):
    """Where a gate's pace comes from; the value names the UI text (`pace.<value>`)."""

    SET = "set"  # the user's ceiling
    PROVIDER = "provider"  # x-ratelimit-* headers
    LEARNT = "learnt"  # 429s
    STARTING = "starting"  # nothing known yet: a modest start


PACE_TEXTS = {
    "set": "limit {limit}/min, as set",
    "provider": "limit {limit}/min from the provider",
    "provider_busy": "{pace}/min of the provider's {limit}/min: the key is busy elsewhere",
    "learnt": "about {pace}/min, learnt",
    "starting": "starting at {pace}/min, learning",
    "cooling": "cooling down for {seconds} s",
    "shared": "shared with every process through Redis",
    "shared_down": "Redis unreachable: paced by this process alone",
}


def _per_min(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class GateView:
    """A gate at one moment, for the progress display and the keys page (safe to pass between
    threads). Paces and limits are per minute; `cool_until` is on the gate's loop clock."""

    pace_per_min: float
    source: PaceSource
    limit_per_min: float | None  # the ceiling, the provider's or the learnt limit; None: starting
    tokens_per_min: float | None  # None: no token limit known
    tokens_source: PaceSource | None
    tokens_limit_per_min: float | None
    cool_until: float
    cooling_s: float
    rate_limited: int  # 429s this gate has seen
    latency_s: float | None
    shared: str | None = None  # "redis": paced with every process through Redis; "alone": Redis unreachable

    def describe(self) -> list[tuple[str, dict[str, str]]]:
        """The view as text codes and their values (the UI translates `pace.<code>`)."""
        pace = _per_min(self.pace_per_min)
        limit = _per_min(self.limit_per_min) if self.limit_per_min is not None else pace
        code = self.source.value
        if self.source is PaceSource.PROVIDER and self.limit_per_min and self.pace_per_min < 0.8 * self.limit_per_min:
            code = "provider_busy"
        parts = [(code, {"pace": pace, "limit": limit})]
        if self.cooling_s > 0:
            parts.append(("cooling", {"seconds": f"{math.ceil(self.cooling_s)}"}))
        if self.shared is not None:
            parts.append(("shared" if self.shared == "redis" else "shared_down", {}))
        return parts

    @property
    def text(self) -> str:
        """In English, e.g. "limit 500/min from the provider", "about 240/min, learnt"."""
        return "; ".join(PACE_TEXTS[code].format(**values) for code, values in self.describe())
