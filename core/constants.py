"""Every delay, cap and default in one place, so that tuning never means hunting for literals."""

from __future__ import annotations

import os
from typing import Final

# --- Requests -------------------------------------------------------------------------------
# A request that timed out may still be billed, so the default is generous: minutes, not seconds.
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 512
# Where "Auto" starts pacing a key of a provider it knows nothing about (a preset may say more).
AUTO_START_RPM = 60
DEFAULT_MAX_TOKENS: int | None = None
DEFAULT_TEMPERATURE: float | None = None
# The chat completions endpoint, relative to a provider's base URL (as the SDK's own create() posts).
CHAT_PATH = "/chat/completions"

# --- The simulated provider ------------------------------------------------------------------
# Where its keys point: .invalid never resolves, so nothing meant for it can leak out.
SIMULATED_BASE_URL = "http://simulated.invalid/v1"
DEMO_KEYS = 4  # keys in the demo pool (the app with no key, `--demo`, a resumed simulated run)
SIMULATED_RESUME_RPM = 600  # a resumed simulated run whose record has no keys (never in practice)

# --- The judge (core/judge.py) ----------------------------------------------------------------
# The provider's default temperature: a grader should be steady, but reasoning models refuse any
# temperature but their own, and a judge that fails every row grades nothing.
JUDGE_TEMPERATURE: float | None = None
# How often a comparison's judge looks whether a variant it waits for has finished.
JUDGE_WAIT_S = 1.0

# --- Pacing ---------------------------------------------------------------------------------
# The engine paces each key a little under its stated limit: network jitter can bunch requests
# that left evenly, and a provider counts arrivals, not departures.
RATE_SAFETY = 0.98
# Burst allowed by a key's request limiter, in seconds of its rate (at least one request).
# Providers may enforce a per-minute limit over shorter windows (60,000/min as 1,000/s), so the
# engine never saves up a minute's worth of requests to fire at once.
# It is also how much lost time a key's gate makes up in one turn of the engine's loop. When that
# loop is starved (it shares the app's process and GIL with Streamlit: turns of 0.1-2 s for
# seconds on end), the requests let out to make up for lost time wait behind the slow turns on
# their way to the provider and arrive all at once. At 0.5 s a key at 600/min sent 15 requests
# in 0.3 s against a one-second allowance of 10 (tests/test_pacing.py). A tenth of a second
# keeps slow keys to one request at a time (up to 600/min) and fast keys at full speed.
REQUEST_BURST_S = 0.1
# Same for a key's token limiter: a few seconds' worth, so one long prompt still fits.
TOKEN_BURST_S = 6.0

# --- Auto pacing (core/limits.py) -------------------------------------------------------------
# With no limit set, a key's gate learns it: from x-ratelimit-* headers where the provider sends
# them, else from its 429s (additive-increase, multiplicative-decrease, like TCP).
AUTO_MIN_RPM = 1.0  # the learnt pace never falls below this: a key that stalls learns nothing
# While a key is held back by its pace and nothing pushes back, its pace doubles this often.
AUTO_DOUBLE_S = 10.0
# A 429 cuts the pace to this fraction of what it was. Further 429s within AUTO_EVENT_S (or two
# latencies) of it are the same overshoot, answered by requests sent before the cut.
AUTO_BACKOFF = 0.7
AUTO_EVENT_S = 1.0
# After a 429, the pace climbs back quickly to this fraction of the rate the 429 came at ...
AUTO_TARGET = 0.9
# ... then probes above it slowly: +10% per AUTO_PROBE_S, a probe twice as slow after every 429,
# so that a steady limit costs fewer and fewer 429s.
AUTO_PROBE_S = 30.0
AUTO_PROBE_MAX_S = 600.0
# "Held back by its pace" means a request waited for the pace within this long.
AUTO_PACED_WINDOW_S = 5.0
AUTO_ASSUMED_LATENCY_S = 1.0  # before the first answer (KeyGate.concurrency_for)
LATENCY_EWMA = 0.2  # weight of the newest latency in the running average
# A request waiting at a gate looks again this often, so a faster pace takes effect.
GATE_RECHECK_S = 1.0

# --- Retries --------------------------------------------------------------------------------
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
# Cool-down of a key after a 429 that named no delay.
RATE_LIMIT_DEFAULT_COOLDOWN_S = 2.0
# The longest Retry-After we wait; a longer ask is clamped to this (and kept in the Failure, so the
# key's state can say both). openai-python gives up on a request asked to wait over 2 minutes; a
# batch cannot give up on its rows, and meanwhile they go to other keys, so we wait and try again.
MAX_RETRY_AFTER_S = 300.0

# --- The engine -----------------------------------------------------------------------------
# Cancel and Ctrl-C let requests already sent finish for up to this long: they are paid for.
STOP_GRACE_S = 30.0
# How often a run checks itself for rows that are pending but scheduled nowhere (a bug).
WATCHDOG_S = 5.0
# 429s one row may meet before it fails with the reason: no row loops forever.
MAX_RATE_LIMITS_PER_ROW = 20
# Concurrency "Auto": where it starts before any latency is known, and the headroom over
# rate x latency that keeps the keys busy through latency jitter.
AUTO_CONCURRENCY_START = 8
AUTO_CONCURRENCY_CAP = 64  # the command line's `--concurrency auto`
# The margin must also exceed 1 for Auto pacing: a key whose requests never wait for its pace is
# never seen held back by it, and stops probing for more.
AUTO_CONCURRENCY_MARGIN = 1.5
# Rows checked against the response cache per lookup; sending starts after the first chunk.
CACHE_CHUNK_ROWS = 500

# --- Garbage collector (command line) ------------------------------------------------------
# A run allocates a few hundred thousand short-lived SDK objects a second; with the default
# threshold of 700 the collector runs ~100 times a second and every full pass walks the imported
# modules and the input rows again. The command line freezes what exists once the run starts
# and collects the young generation every GC_THRESHOLD_GEN0 allocations instead.
GC_THRESHOLD_GEN0 = 10_000

# --- Key check ("Test keys") ---------------------------------------------------------------
KEY_CHECK_TIMEOUT_S = 20.0  # the whole check of one key, connect to answer
# check_keys waits this much longer than the checks themselves may take before giving up on the
# loop: every check already ends by its own deadline, so this only matters if the loop is stuck.
KEY_CHECK_LOOP_SLACK_S = 10.0

# --- Output columns (core/columns.py, core/structured.py) --------------------------------------
MAX_OUTPUT_COLUMNS = 50  # columns one answer may be asked for (OpenAI's strict mode takes up to 100 properties)
MAX_COLUMN_NAME_CHARS = 100
PROBLEM_VALUE_CHARS = 60  # how much of a wrong value a problem quotes
# An answer that does not fit the columns is asked again this many times (the answer and what is
# wrong with it added to the conversation) before the row is marked invalid.
DEFAULT_MAX_REASKS = 2
MAX_REASKS = 5  # the form's and the command line's cap: every re-ask is paid
# An answer cut off at the token limit (finish_reason "length") is asked once more with a larger
# limit: twice the cut-off answer's length, at least this, at most FORM_MAX_TOKENS.
LENGTH_REASK_MIN_TOKENS = 1024

# --- Estimate (core/estimate.py) ------------------------------------------------------------
# For the time estimate only: a typical hosted model's answer to a short prompt.
ESTIMATE_LATENCY_S = 2.0
ESTIMATE_SIMULATED_LATENCY_S = 0.3
ESTIMATE_SAMPLE_ROWS = 2_000  # rows whose prompts are measured; the rest are assumed alike
# Tokens of a JSON answer around its values: braces, quotes, colons and commas.
ESTIMATE_JSON_OVERHEAD_TOKENS = 4
ESTIMATE_JSON_VALUE_TOKENS = 15  # a field with no expected answer to measure: a short phrase
ESTIMATE_VALUE_TOKENS = {"number": 3, "integer": 2, "boolean": 1, "date": 5}  # a typed column's value

# --- Outbound calls in hosted mode (core/outbound.py) -----------------------------------------
HOSTED_ENV = "LLM_BATCH_HOSTED"  # =1: base URLs are checked (as [hosting] check_urls = true)
ALLOW_HOSTS_ENV = "LLM_BATCH_ALLOW_HOSTS"  # hosts, host:port and networks allowed despite the check
# A base URL checked before a run (DNS included) is not looked up again for this long: the Run page
# checks its settings on every redraw. Connections are checked at connect time regardless.
OUTBOUND_CHECK_TTL_S = 30.0
# An error answer is read up to this many bytes in hosted mode: its message is shown in a line,
# and a hostile server's gigabyte of "error" must not fill the memory on its way there.
ERROR_BODY_MAX_BYTES = 16 * 1024
# Hosted mode's connection pool per client, as the SDK's default client has it.
HTTP_MAX_CONNECTIONS = 1000
HTTP_KEEPALIVE_S = 5.0
# A provider's error text, once cleaned, is cut to this many characters wherever it is shown or stored.
ERROR_DETAIL_MAX_CHARS = 300

# --- Progress -------------------------------------------------------------------------------
RATE_WINDOW_S = 20.0  # recent rows/s is measured over this window
RECENT_ERRORS = 8  # how many recent errors the progress snapshot keeps

# --- Input limits ---------------------------------------------------------------------------
MAX_UPLOAD_MB = 200
MAX_ROWS = 200_000
# Long-context models read whole documents from one cell; the limit is there for memory (a run
# keeps its rows' cells while it runs). A server can set its own: LLM_BATCH_MAX_CELL_CHARS.
MAX_CELL_CHARS = int(os.environ.get("LLM_BATCH_MAX_CELL_CHARS", "1000000"))
# An .xlsx sheet is read as a dense grid from A1 to its farthest cell: refused before reading when
# that grid is too big (a stray value in XFD1048576 of a 5 KB file), or its XML unzips too large.
MAX_SHEET_CELLS = 10_000_000
MAX_SHEET_SLACK_ROWS = 1_000  # blank or title rows above and below the data, beyond MAX_ROWS
MAX_SHEET_XML_MB = 1024
PREVIEW_ROWS = 3

# --- The app's form: bounds of its inputs (core checks what it must in RunSpec and KeyEntry) ---
FORM_MAX_ATTEMPTS = 10  # the Run page's "max attempts" slider (the command line has no cap)
FORM_MAX_RPM = 100_000
FORM_MAX_TPM = 100_000_000
FORM_MAX_TOKENS = 200_000
FORM_FIRST_ROWS = 10  # "Test N rows": the N a tab starts with
FORM_TABLE_ROWS = 1_000  # result rows drawn on the Run page; downloads always have every row

# --- Storage --------------------------------------------------------------------------------
DEFAULT_DATA_DIR = "data"
DATA_DIR_ENV = "LLM_BATCH_DATA_DIR"
DB_FILENAME = "runs.sqlite3"
# How long a connection waits for another's write lock before "database is locked". Writes are
# short (batches, chunks), so reaching this means something is wrong, not busy.
STORE_BUSY_TIMEOUT_S = 30.0
# Input rows inserted (and deleted) per transaction when a run is created or deleted: other
# runs' commits wait for one chunk (milliseconds), never for the whole file.
STORE_CHUNK_ROWS = 5_000
# A run still 'creating' after this long without progress was cut off by a crash; opening the
# store removes it. Long enough that another process creating a run right now is left alone.
STALE_CREATING_RUN_S = 600.0
# The writer thread commits finished rows in batches: every WRITE_BATCH_S, or at once when this
# many are waiting. A kill -9 can lose at most one unflushed batch (those rows are sent again).
WRITE_BATCH_S = 0.05
WRITE_BATCH_ROWS = 200
# After a failed commit (a full disk) the same batch is tried again after this, doubling up to
# the max, so freeing space saves it.
WRITE_RETRY_S = 0.5
WRITE_RETRY_MAX_S = 10.0
# How long a run that ends with the store refusing writes keeps trying before it lets go.
WRITE_GIVE_UP_S = 5.0

# --- Several processes on one data folder (core/leases.py) --------------------------------------
# A run is owned by one process at a time: its lease, renewed every LEASE_TTL_S / 3 while the run
# goes. A lease not renewed for LEASE_TTL_S belongs to a process that died (or froze, as a laptop
# whose lid closed): another process may take the run over. Longer is safer against a slow disk
# or a starved process, shorter takes over sooner; a dead process on the same machine is seen at
# once (its pid is gone), so this only matters across machines. The tests shorten it.
LEASE_TTL_ENV = "LLM_BATCH_LEASE_TTL_S"


def _seconds(value: str | None, default: float) -> float:
    try:
        seconds = float(value or default)
    except ValueError:
        return default  # a setting that is not a number must not stop every process at import
    return seconds if seconds > 0 else default


LEASE_TTL_S = _seconds(os.environ.get(LEASE_TTL_ENV), 30.0)
# The name this machine goes by in a lease (default: its hostname): replicas on machines sharing
# one disk must have different names, so that a pid is only ever checked on its own machine.
LEASE_HOST_ENV = "LLM_BATCH_HOST"
# How often `python -m core run --resume ID --wait` looks again at a run owned elsewhere.
LEASE_WAIT_POLL_S = 1.0

# --- Limits shared by several processes through Redis (core/shared_limits.py) -------------------
# With this set (redis://host:6379/0, rediss://..., unix:///path), every key's pace and cool-down
# are shared by every process using that Redis: N replicas together stay within a key's limit.
REDIS_URL_ENV = "LLM_BATCH_REDIS_URL"
# Each call to Redis gives up after this long, so an unreachable or hung Redis never hangs a run.
REDIS_TIMEOUT_S = 2.0
# While Redis is unreachable each process paces its keys alone, and asks Redis again this often.
REDIS_RETRY_S = 5.0
# Every name this app gives a Redis key starts with this (the rest is a hash, never a key).
REDIS_PREFIX = "llm-batch"

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

# --- Batch mode (the provider's own Batch API) -------------------------------------------------
# OpenAI's limits per input file; other providers' are the same or larger.
BATCH_MAX_REQUESTS = 50_000
BATCH_MAX_BYTES = 200 * 1024 * 1024
BATCH_WINDOW: Final = "24h"  # the completion window every provider of the interface offers
BATCH_PRICE_FACTOR = 0.5  # a batch's tokens cost half the price of the same tokens sent now
# Polling backs off from seconds to minutes: a batch takes minutes to hours, and every poll is a request.
BATCH_POLL_FIRST_S = 2.0
BATCH_POLL_MAX_S = 300.0
BATCH_POLL_GROWTH = 1.5
# The demo simulator keeps its batches and their files in the data folder, so a demo batch
# survives a restart of the app; what is older than this is removed as new batches are made.
SIM_BATCH_DIR = "simulator"
SIM_BATCH_KEEP_S = 7 * 24 * 3600.0

# --- Access (hosted for a team: core/access.py, core/throttle.py) ------------------------------
PASSWORD_ENV = "LLM_BATCH_PASSWORD"  # the shared password, where secrets.toml is not used
MAX_USER_NAME_CHARS = 64
# A failed sign-in makes the next attempt from the same session wait, doubling each time from
# LOGIN_DELAY_BASE_S up to LOGIN_DELAY_MAX_S. Across the process (new sessions are free to make),
# more than LOGIN_FREE_FAILURES failures in LOGIN_WINDOW_S make every session wait the same way.
LOGIN_DELAY_BASE_S = 1.0
LOGIN_DELAY_MAX_S = 60.0
LOGIN_FREE_FAILURES = 5
LOGIN_WINDOW_S = 600.0
LOGIN_MAX_SESSIONS = 10_000  # sessions whose failures are remembered (the oldest are forgotten)
