"""Every delay, cap and default in one place, so that tuning never means hunting for literals."""

from __future__ import annotations

# --- Requests -------------------------------------------------------------------------------
# A request that timed out may still be billed, so the default is generous: minutes, not seconds.
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 512
DEFAULT_RPM = 60
DEFAULT_MAX_TOKENS: int | None = None
DEFAULT_TEMPERATURE: float | None = None

# --- Pacing ---------------------------------------------------------------------------------
# The engine paces each key a little under its stated limit: network jitter can bunch requests
# that left evenly, and a provider counts arrivals, not departures.
RATE_SAFETY = 0.98
# Burst allowed by a key's request limiter, in seconds of its rate (at least one request).
# Providers may enforce a per-minute limit over shorter windows (60,000/min as 1,000/s), so the
# engine never saves up a minute's worth of requests to fire at once.
REQUEST_BURST_S = 0.5
# Same for a key's token limiter: a few seconds' worth, so one long prompt still fits.
TOKEN_BURST_S = 6.0

# --- Retries --------------------------------------------------------------------------------
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
# Cool-down of a key after a 429 that named no delay.
RATE_LIMIT_DEFAULT_COOLDOWN_S = 2.0
# Never believe a provider asking for more than this; the row can go to another key meanwhile.
MAX_RETRY_AFTER_S = 300.0

# --- Progress -------------------------------------------------------------------------------
RATE_WINDOW_S = 20.0  # recent rows/s is measured over this window
RECENT_ERRORS = 8  # how many recent errors the progress snapshot keeps
CONTROL_POLL_S = 0.2  # pause/cancel take effect within this (well under a second)

# --- Input limits ---------------------------------------------------------------------------
MAX_UPLOAD_MB = 200
MAX_ROWS = 200_000
MAX_CELL_CHARS = 100_000
PREVIEW_ROWS = 3

# --- Storage --------------------------------------------------------------------------------
DEFAULT_DATA_DIR = "data"
DATA_DIR_ENV = "LLM_BATCH_DATA_DIR"
DB_FILENAME = "runs.sqlite3"

# --- Tokens and cost ------------------------------------------------------------------------
# Used for the tokens/min limiter and the estimate before a run, with no network (no tokenizer
# download): roughly 4 characters a token for Latin text, one token per CJK character.
CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD_TOKENS = 4
DEFAULT_OUTPUT_TOKENS_ESTIMATE = 100

# USD per million tokens (input, output). Users can edit the price of a run; these are starting
# points for the estimate, not a promise.
MODEL_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "deepseek-chat": (0.27, 1.10),
    "qwen-plus": (0.11, 0.28),
    "qwen-turbo": (0.04, 0.08),
    "moonshot-v1-8k": (1.66, 1.66),
    "glm-4-flash": (0.0, 0.0),
    "simulated": (0.0, 0.0),  # the built-in demo provider: nothing is paid, so nothing is shown
}
