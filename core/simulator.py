"""A simulated OpenAI-compatible provider for demo mode, tests and benchmarks.

Reached through the real `openai` SDK, in process (`Simulator.client(key)`, an httpx2 transport) or
over loopback HTTP (`start_server`, `python -m core.simulator --port 0`). Each key has its own rate
limit; faults are drawn from a seeded RNG and the clock and sleep are injected, so tests never sleep.

    sim = Simulator(SimulatorConfig(rpm=60, latency_s=0))
    client = sim.client("sk-a", max_retries=0)
    reply = await client.chat.completions.create(model="simulated", messages=[{"role": "user", "content": "2 + 3 x 4"}])

Care: a prompt that asks for it ("step by step", "carefully", "double-check", "仔细"; see
`sim_arith.CARE_PHRASES`) gets `error_rate` x 0.2 wrong answers, on a subset of the same questions.

Triggers: a word anywhere in the messages (system prompt included) gets the same answer every time,
so a test can reach each error shape over the real SDK. The first in this list wins:

    SIMULATE_TPM_TOO_LARGE     429 type "tokens", code rate_limit_exceeded: "Request too large for <model>
                               ... (TPM): Limit <tpm or 30000>, Requested <more than that>", no retry-after
    SIMULATE_MODERATION        403 in OpenRouter's shape, whatever `error_style`: {"error": {"code": 403,
                               "message": "... flagged ...", "metadata": {"reasons": [...], "flagged_input": ...}}}
    SIMULATE_LONG_RETRY_AFTER  429 rate_limit_exceeded (requests per day) with `retry-after: 3600`
    SIMULATE_NO_RETRY          503 overloaded with `x-should-retry: false`
    SIMULATE_SHOULD_RETRY      400 with `x-should-retry: true`
    SIMULATE_BAD_REQUEST       400 context_length_exceeded (after the rate limiter and the fault draw)
    SIMULATE_CONTENT_FILTER    200 with empty content and finish_reason "content_filter"
    SIMULATE_INVALID_ANSWER    200 whose answer breaks the schema; a re-ask (an assistant turn in the
                               conversation) gets a valid one (core/sim_fields.py)

The first five are answered before the rate limiter, as a provider refuses them before counting
anything: they charge no bucket and draw no fault, so the seeded faults of other rows stay put.

Answers: arithmetic exactly, any JSON schema and other prompts by the documented rules of
`core/sim_fields.py` (keywords, a small lexicon, extraction; not a real model). `structured_outputs`
says which `response_format` the provider takes: "json_schema" (both), "json_object" (json_schema is
refused with DeepSeek's 400 "This response_format type is unavailable now"), "none" (any
response_format is refused with a 400 naming it, param "response_format").

Models in `reasoning_models` act like OpenAI's o-series: a request with `max_tokens` gets 400
unsupported_parameter (param "max_tokens"), a temperature other than 1 gets 400 unsupported_value
(param "temperature"); `max_completion_tokens` is accepted.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai

from .constants import DATA_DIR_ENV, DEFAULT_DATA_DIR, SIM_BATCH_DIR, SIMULATED_BASE_URL
from .sim_arith import completion, estimate_tokens, read_messages
from .sim_batch import BatchSim
from .sim_errors import STRUCTURED_OUTPUTS, Refusal, refuse_format, refuse_params, triggered
from .sim_fields import reply

__all__ = [
    "SIMULATED_BASE_URL",
    "SimulatorConfig",
    "KeyStats",
    "SimResponse",
    "Simulator",
    "main",
    "demo_simulator",
]

DEMO_HISTORY = 1_000  # the app's simulator lives as long as the process: its stats stay small
DEFAULT_MODELS = ("simulated", "gpt-4o-mini", "gpt-4o", "deepseek-chat")
TOKEN_BURST_S = 6.0  # a key's token bucket holds six seconds of its tokens/min
MESSAGE_OVERHEAD_TOKENS = 4
ERROR_STYLES = ("openai", "detail", "text")
_JSON = "application/json"
# What a CDN challenge or captive portal sends: a 200 that is not the JSON it claims to be.
_NOT_JSON = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing the API.</h1></body></html>"
_SERVER_ERRORS = {
    500: ("The server had an error while processing your request. Sorry about that!", None),
    502: ("Bad gateway.", "bad_gateway"),
    503: ("The engine is currently overloaded, please try again later.", "overloaded"),
}


@dataclass
class SimulatorConfig:
    rpm: int = 600  # per key (per account, see below); 0 = unlimited
    key_rpm: Mapping[str, int] | None = None  # per-key exceptions to `rpm`
    tpm: int = 0  # per key tokens/min; 0 = unlimited
    # Keys in one set share one account's buckets, as an OpenAI organisation's or a DashScope or
    # DeepSeek account's keys do; every other key has its own.
    shared_limit_groups: tuple[frozenset[str], ...] = ()
    limit_headers: bool = True  # x-ratelimit-* on answers and 429s; False: as DeepSeek, vLLM, Ollama
    retry_after: bool = True  # retry-after(-ms) on a 429; False: the client must guess
    latency_s: float = 0.2  # mean simulated latency
    latency_jitter_s: float = 0.05  # uniform +/- jitter
    error_rate: float = 0.05  # fraction of arithmetic answers that are wrong (deterministic per question)
    p_5xx: float = 0.0  # per request: 500/502/503 with an error body
    p_timeout: float = 0.0  # per request: the request hangs (the client times out)
    p_drop: float = 0.0  # per request: connection closed without a response
    p_nonjson: float = 0.0  # per request: 200 whose body is an HTML page labelled JSON
    hang_s: float = 3600.0  # server mode; in process a hang lasts until the request's read timeout
    dead_keys: frozenset[str] = frozenset()  # 401 invalid_api_key
    no_quota_keys: frozenset[str] = frozenset()  # 429 insufficient_quota
    valid_keys: frozenset[str] | None = None  # None: any other key is accepted
    models: frozenset[str] | None = None  # None: any model is accepted
    history: int | None = None  # arrival times and prompts kept per key (None: all; the demo keeps a few)
    # Models that refuse max_tokens and any temperature but 1, as OpenAI's reasoning models do.
    reasoning_models: frozenset[str] = frozenset()
    error_style: str = "openai"  # "openai" | "detail" | "text": the shape of every error body
    seed: int = 0
    batch_completion_s: float = 30.0  # how long a batch takes, validating to completed (core/sim_batch.py)
    # What response_format the provider takes (sim_errors.STRUCTURED_OUTPUTS): "json_schema" takes json_schema and
    # json_object, "json_object" refuses json_schema as DeepSeek does, "none" refuses any response_format.
    structured_outputs: str = "json_schema"


@dataclass(frozen=True)
class KeyStats:
    """One API key as the provider saw it. `requests` counts every chat request; the outcome
    counters do not add up to it for 400/403/404 answers or requests still in flight."""

    requests: int
    ok: int
    rate_limited: int  # 429 rate_limit_exceeded, "Request too large" included (not insufficient_quota: that is `unauthorized`)
    server_errors: int
    timeouts: int
    drops: int
    nonjson: int
    unauthorized: int  # 401, and 429 insufficient_quota: the provider refused the key itself
    times: tuple[float, ...]  # arrival (simulator clock) of every request past the rate limiter
    prompts: tuple[str, ...]  # last user message of every request answered 200, in order
    arrived: tuple[float, ...] = ()  # arrival of every chat request, 429s included: what a key was sent, when


@dataclass(frozen=True)
class SimResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    action: str = "respond"  # "respond" | "drop" | "hang": the transport acts these out


_COUNTERS = ("requests", "ok", "rate_limited", "server_errors", "timeouts", "drops", "nonjson", "unauthorized")


class _Tally:
    __slots__ = ("counts", "times", "prompts", "arrived")

    def __init__(self, history: int | None = None) -> None:
        self.counts = dict.fromkeys(_COUNTERS, 0)
        self.times: deque[float] = deque(maxlen=history)
        self.prompts: deque[str] = deque(maxlen=history)
        self.arrived: deque[float] = deque(maxlen=history)

    def freeze(self) -> KeyStats:
        return KeyStats(**self.counts, times=tuple(self.times), prompts=tuple(self.prompts), arrived=tuple(self.arrived))


class _Bucket:
    """Token bucket on the simulator's clock: holds `capacity`, refills at `rate` per second."""

    __slots__ = ("capacity", "rate", "level", "stamp")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate, self.level, self.stamp = capacity, rate, capacity, now

    def wait_for(self, need: float, now: float) -> float:
        """Seconds until `need` is available (0: now). A request larger than the whole bucket
        goes through once the bucket is full and leaves it in debt, so it is slow, not impossible."""
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now
        need = min(need, self.capacity)
        # The epsilon absorbs float drift when a test advances a fake clock by exact fractions.
        return 0.0 if self.level >= need - 1e-9 else (need - self.level) / self.rate

    def until_full(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


def _duration(seconds: float) -> str:
    """OpenAI's x-ratelimit-reset-* format: '120ms', '1.5s', '6m0s'."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


def _bearer(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization") or headers.get("Authorization")
    if value is None:  # a plain dict with other casing
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class Simulator:
    """The provider: `handle` answers one HTTP request; `transport`/`client` and `build_app` carry it."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch_folder: Callable[[], Path] | None = None,
        batch_clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        if self.config.error_style not in ERROR_STYLES:
            raise ValueError(f"error_style must be one of {ERROR_STYLES}, not {self.config.error_style!r}")
        if self.config.structured_outputs not in STRUCTURED_OUTPUTS:
            raise ValueError(f"structured_outputs must be one of {STRUCTURED_OUTPUTS}, not {self.config.structured_outputs!r}")
        self._clock, self._sleep = clock, sleep
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()  # stats() may be read from another thread
        self._tallies: dict[str, _Tally] = {}
        self._revoked: set[str] = set()
        self._buckets: dict[tuple[str, str], _Bucket] = {}  # (kind, account); kind: "requests" | "tokens"
        self._account = {key: min(group) for group in self.config.shared_limit_groups for key in group}
        self._ids = itertools.count(1)
        # /v1/files and /v1/batches; kept in `batch_folder` (on the wall clock) when given, so they outlive the process
        self.batch = BatchSim(self, batch_folder, batch_clock or (time.time if batch_folder is not None else None))

    # --- Stats and control ------------------------------------------------------------------

    def revoke(self, key: str) -> None:
        with self._lock:
            self._revoked.add(key)

    def stats(self) -> dict[str, KeyStats]:
        with self._lock:
            return {key: tally.freeze() for key, tally in self._tallies.items()}

    def total_requests(self) -> int:
        with self._lock:
            return sum(t.counts["requests"] for t in self._tallies.values())

    def reset_stats(self) -> None:
        """Forget the counters; rate-limit buckets and revoked keys stay as they are."""
        with self._lock:
            self._tallies = {}

    def _arrive(self, key: str, now: float) -> _Tally:
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = _Tally(self.config.history)
            tally.counts["requests"] += 1
            tally.arrived.append(now)
            return tally

    def _count(self, tally: _Tally, outcome: str) -> None:
        with self._lock:
            tally.counts[outcome] += 1

    # --- Responses ----------------------------------------------------------------------------

    def _error(self, status: int, message: str, etype: str, code: str | None, headers: dict[str, str] | None = None, param: str | None = None) -> SimResponse:
        style = self.config.error_style
        if style == "text":
            body, ctype = message.encode(), "text/plain; charset=utf-8"
        elif style == "detail":  # FastAPI-style local servers
            body, ctype = json.dumps({"detail": message}).encode(), _JSON
        else:
            error = {"message": message, "type": etype, "param": param, "code": code}
            body, ctype = json.dumps({"error": error}).encode(), _JSON
        return SimResponse(status, {"content-type": ctype, **(headers or {})}, body)

    def _refuse_key(self, key: str) -> SimResponse | None:
        cfg = self.config
        if not key:
            return self._error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        if key in cfg.dead_keys or key in self._revoked or (cfg.valid_keys is not None and key not in cfg.valid_keys):
            # Never echo the key: real providers do, and it ends up in logs.
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        if key in cfg.no_quota_keys:
            return self._error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
        return None

    def _admit(self, key: str, cost: int, now: float) -> tuple[SimResponse | None, dict[str, str]]:
        """Rate limit: (429 response, {}) when over either limit, else (None, headers for the 200).
        Both buckets are checked before either is charged, so a 429 consumes nothing."""
        cfg = self.config
        limits = []  # (kind, per minute, bucket, amount this request needs, wait)
        rpm = cfg.key_rpm.get(key, cfg.rpm) if cfg.key_rpm else cfg.rpm
        for kind, per_minute, burst_s, amount in (("requests", rpm, 1.0, 1), ("tokens", cfg.tpm, TOKEN_BURST_S, cost)):
            if per_minute > 0:
                account = self._account.get(key, key)
                bucket = self._buckets.get((kind, account))
                if bucket is None:
                    rate = per_minute / 60
                    bucket = self._buckets[(kind, account)] = _Bucket(max(1.0, rate * burst_s), rate, now)
                limits.append((kind, per_minute, bucket, amount, bucket.wait_for(amount, now)))
        over = [limit for limit in limits if limit[4] > 0]
        if over:
            kind, per_minute, _, amount, wait = over[0]  # requests before tokens, as OpenAI reports them
            longest = max(limit[4] for limit in over)
            headers: dict[str, str] = {}
            if cfg.retry_after:
                headers |= {"retry-after-ms": str(math.ceil(longest * 1000)), "retry-after": str(math.ceil(longest))}
            if cfg.limit_headers:
                headers |= {f"x-ratelimit-limit-{kind}": str(per_minute), f"x-ratelimit-remaining-{kind}": "0", f"x-ratelimit-reset-{kind}": _duration(wait)}
            unit = "RPM" if kind == "requests" else "TPM"
            return self._error(
                429,
                f"Rate limit reached for {kind} per min ({unit}): Limit {per_minute}, Requested {amount}. Please try again in {_duration(wait)}.",
                kind,
                "rate_limit_exceeded",
                headers,
            ), {}
        headers = {}
        for kind, per_minute, bucket, amount, _ in limits:
            bucket.level -= amount
            if not cfg.limit_headers:
                continue
            headers[f"x-ratelimit-limit-{kind}"] = str(per_minute)
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(bucket.level + 1e-9)))
            headers[f"x-ratelimit-reset-{kind}"] = _duration(bucket.until_full())
        return None, headers

    def _draw_fault(self) -> str | None:
        """One seeded draw per admitted request; the result names the stats counter it feeds."""
        cfg = self.config
        draw = self._rng.random()
        for name, p in (("server_errors", cfg.p_5xx), ("timeouts", cfg.p_timeout), ("drops", cfg.p_drop), ("nonjson", cfg.p_nonjson)):
            if draw < p:
                return name
            draw -= p
        return None

    def _fault(self, fault: str) -> SimResponse:
        if fault == "server_errors":
            status = (500, 502, 503)[self._rng.randrange(3)]
            message, code = _SERVER_ERRORS[status]
            return self._error(status, message, "server_error", code)
        if fault == "nonjson":
            return SimResponse(200, {"content-type": _JSON}, _NOT_JSON)
        return SimResponse(0, {}, b"", action="hang" if fault == "timeouts" else "drop")

    def _refusal(self, refusal: Refusal, tally: _Tally) -> SimResponse:
        if refusal.counter is not None:
            self._count(tally, refusal.counter)
        if refusal.body is not None:
            return SimResponse(refusal.status, {"content-type": _JSON, **refusal.headers}, json.dumps(refusal.body).encode())
        return self._error(refusal.status, refusal.message, refusal.type, refusal.code, dict(refusal.headers), refusal.param)

    # --- Requests -----------------------------------------------------------------------------

    async def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = "") -> SimResponse:
        """Answer one HTTP request (`query`: the URL's query string). Transport-agnostic: the
        caller acts out "drop" and "hang"."""
        route = path.rstrip("/")
        if route.endswith("/chat/completions"):
            if method.upper() != "POST":
                return self._error(405, f"Method {method} not allowed here.", "invalid_request_error", None)
            return await self._chat(headers, body)
        if route.endswith("/models") and method.upper() == "GET":
            return self._models(headers)
        if "/files" in route or "/batches" in route:
            return await self.batch.handle(method, route, headers, body, query)
        return self._error(404, f"Unknown request URL: {method} {path}.", "invalid_request_error", "unknown_url")

    def _models(self, headers: Mapping[str, str]) -> SimResponse:
        key = _bearer(headers)
        refusal = self._refuse_key(key)
        if refusal is not None and refusal.status == 401:  # a key out of quota may still list models
            return refusal
        cfg = self.config
        ids = sorted(cfg.models) if cfg.models is not None else (*DEFAULT_MODELS, *sorted(cfg.reasoning_models - set(DEFAULT_MODELS)))
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "simulator"} for m in ids]
        return SimResponse(200, {"content-type": _JSON}, json.dumps({"object": "list", "data": data}).encode())

    async def _chat(self, headers: Mapping[str, str], body: bytes) -> SimResponse:
        cfg = self.config
        now = self._clock()
        key = _bearer(headers)
        tally = self._arrive(key, now)
        refused = self._refuse_key(key)
        if refused is not None:
            self._count(tally, "unauthorized")
            return refused
        try:
            req = json.loads(body)
        except ValueError:
            req = None
        if not isinstance(req, dict):
            return self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        model, messages = req.get("model"), req.get("messages")
        if not isinstance(model, str) or not model:
            return self._error(400, "You must provide a model parameter.", "invalid_request_error", None, param="model")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self._error(400, "'messages' must be a non-empty array of objects.", "invalid_request_error", None, param="messages")
        if cfg.models is not None and model not in cfg.models:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found")
        if req.get("stream"):
            return self._error(400, "The simulator does not stream; call without stream=True.", "invalid_request_error", None, param="stream")

        refusal = refuse_params(model, req, cfg.reasoning_models) or refuse_format(req, cfg.structured_outputs)
        if refusal is not None:
            return self._refusal(refusal, tally)

        prompt, everything = read_messages(messages)
        prompt_tokens = estimate_tokens(everything) + MESSAGE_OVERHEAD_TOKENS * len(messages)
        # Before the rate limiter: a provider refuses these before it counts anything.
        refusal = triggered(everything, model=model, request=req, prompt=prompt, prompt_tokens=prompt_tokens, tpm=cfg.tpm)
        if refusal is not None:
            return self._refusal(refusal, tally)

        limited, limit_headers = self._admit(key, prompt_tokens, now)
        if limited is not None:
            self._count(tally, "rate_limited")
            return limited
        with self._lock:
            tally.times.append(now)

        fault = self._draw_fault()
        if fault is not None:
            self._count(tally, fault)
            return self._fault(fault)
        if "SIMULATE_BAD_REQUEST" in everything:
            return self._error(
                400,
                f"This model's maximum context length is 8192 tokens. However, your messages "
                f"resulted in {max(prompt_tokens, 8193)} tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
                param="messages",
            )

        delay = cfg.latency_s + (self._rng.uniform(-cfg.latency_jitter_s, cfg.latency_jitter_s) if cfg.latency_jitter_s else 0.0)
        if delay > 0:
            await self._sleep(delay)

        content, finish = reply(req, prompt, everything, seed=cfg.seed, error_rate=cfg.error_rate)
        with self._lock:
            tally.counts["ok"] += 1
            tally.prompts.append(prompt)
        answer = completion(f"chatcmpl-sim{next(self._ids):08d}", model, content, finish, prompt_tokens)
        return SimResponse(200, {"content-type": _JSON, **limit_headers}, json.dumps(answer, ensure_ascii=False).encode())

    # --- In-process transport -------------------------------------------------------------------

    async def _serve_httpx(self, request: httpx2.Request) -> httpx2.Response:
        res = await self.handle(request.method, request.url.path, request.headers, request.content, request.url.query.decode())
        if res.action == "drop":
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        if res.action == "hang":
            # MockTransport enforces no timeouts, so act out the one the client asked for.
            read = (request.extensions.get("timeout") or {}).get("read")
            await self._sleep(self.config.hang_s if read is None else read)
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        return httpx2.Response(res.status, headers=res.headers, content=res.body)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._serve_httpx)

    def client(self, api_key: str, **kwargs: object) -> openai.AsyncOpenAI:
        """An SDK client whose every request is answered by this simulator, with no network."""
        kwargs.setdefault("base_url", SIMULATED_BASE_URL)
        kwargs.setdefault("http_client", httpx2.AsyncClient(transport=self.transport()))
        return openai.AsyncOpenAI(api_key=api_key, **kwargs)  # type: ignore[arg-type]


@functools.cache
def demo_simulator() -> Simulator:
    """The process-wide simulator behind the app's demo mode (default config: 600 rpm per key,
    ~0.2 s latency, 5% wrong answers). Shared so its stats cover every demo run; it holds nothing
    tied to an event loop, so runs on different threads' loops may use it. Its batches are kept in
    the data folder (`simulator/`), so a demo batch finishes after a restart of the app."""
    return Simulator(SimulatorConfig(history=DEMO_HISTORY), batch_folder=_demo_batch_folder)


def _demo_batch_folder() -> Path:
    # Read at every use, as the run store's folder is (core.store.default_data_dir).
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / SIM_BATCH_DIR


def main(argv: list[str] | None = None) -> int:
    """`python -m core.simulator`: the loopback server (core/sim_server.py)."""
    from .sim_server import main as serve

    return serve(argv)


if __name__ == "__main__":
    raise SystemExit(main())
