"""What went wrong, in one place: bad input, and the classification of every provider error.

    Exception
     └── InputError            the user's file, template or settings cannot be used (plain sentence)

    Provider failures are not raised past the engine; `classify` turns each into a `Failure`:
     ├── RATE_LIMITED  429 rate_limit_exceeded: the key cools down, the row goes back at once for
     │                 any key to take, and no attempt is used
     ├── RETRY         408, 409, 5xx, timeouts, dropped connections, bodies that are not JSON:
     │                 the row comes back after a delay and uses one of its attempts
     ├── KEY_DEAD      401, 402, 403, 429 insufficient_quota: the key leaves the run
     └── ROW_BAD       400, 404, 413, 422 and other 4xx: the row fails at once

The engine acts on the class, never on message text.
"""

from __future__ import annotations

import email.utils
import enum
import json
import random
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx2
import openai

from . import constants as C

__all__ = ["InputError", "ErrorKind", "Failure", "classify", "parse_retry_after", "backoff_delay", "redact"]


class InputError(ValueError):
    """Input we cannot use. The message is one plain sentence: what is wrong and what to do.
    `code` and `params` let a UI say the same thing in another language."""

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class ErrorKind(enum.Enum):
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"  # a RETRY that cools the key down and does not use an attempt
    KEY_DEAD = "key_dead"
    ROW_BAD = "row_bad"


@dataclass(frozen=True)
class Failure:
    kind: ErrorKind
    message: str  # plain language, safe to show and store (keys redacted)
    status: int | None = None
    retry_after: float | None = None  # seconds the provider asked us to wait, if it said
    timeout: bool = False


_KEY_LIKE = re.compile(r"\b(sk|key|api|Bearer)[-_ ]?[A-Za-z0-9_\-\.]{12,}", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove API keys from text that may reach the screen, the store or a log.

    Providers echo keys back ("Incorrect API key provided: sk-abc...xyz"), so every message that
    came from outside goes through here, with the keys of the run when they are known."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(lambda m: m.group(1) + "-***", text)


# --- Retry delays -----------------------------------------------------------------------------

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


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait, as the provider said: `retry-after-ms`, then `retry-after` (seconds or an
    HTTP date), then `x-ratelimit-reset-requests`. None when none of them says anything usable."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return min(value, C.MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    ra = lower.get("retry-after")
    if ra is not None:
        try:
            value = float(ra)
            if value >= 0:
                return min(value, C.MAX_RETRY_AFTER_S)
        except ValueError:
            parsed = email.utils.parsedate_tz(ra)
            if parsed is not None:
                when = email.utils.mktime_tz(parsed)
                value = when - (time.time() if now is None else now)
                return min(max(value, 0.0), C.MAX_RETRY_AFTER_S)
    reset = lower.get("x-ratelimit-reset-requests")
    if reset is not None:
        value = _parse_duration(reset)
        if value is not None and value >= 0:
            return min(value, C.MAX_RETRY_AFTER_S)
    return None


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with *equal* jitter: the cap doubles with each attempt (1 s, 2, 4, ... up
    to BACKOFF_MAX_S) and the wait is drawn from [cap/2, cap]. Not "full" jitter ([0, cap]): half
    the cap is always waited, so a retry never comes straight back, and the other half spreads out
    rows that failed together."""
    cap = min(C.BACKOFF_MAX_S, C.BACKOFF_BASE_S * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(cap / 2, cap)


# --- Classification ---------------------------------------------------------------------------


def _body_message(body: object, fallback: str) -> str:
    """A readable message from an error body in any shape: OpenAI's {"error": {"message"}},
    FastAPI's {"detail": ...}, {"message": ...}, {"msg": ...}, or plain text."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            for field in ("message", "detail", "msg", "error_msg", "errmsg"):
                value = inner.get(field)
                if isinstance(value, str) and value.strip():
                    return value.strip()
                if value is not None and field == "detail":
                    return json.dumps(value, ensure_ascii=False)[:300]
        elif isinstance(inner, str) and inner.strip():
            return inner.strip()
        for field in ("detail", "message", "msg"):
            value = body.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return json.dumps(body, ensure_ascii=False)[:300]
    if isinstance(body, str) and body.strip():
        text = re.sub(r"<[^>]+>", " ", body)  # an HTML error page becomes its words
        return " ".join(text.split())[:300]
    return fallback


def _code(body: object) -> str | None:
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        for src in (inner, body):
            if isinstance(src, Mapping):
                code = src.get("code") or src.get("type")
                if code is not None:
                    return str(code)
    return None


_STATUS_WORDS = {
    400: "The provider rejected this request",
    401: "Invalid API key",
    402: "The account has no balance left",
    403: "This key is not allowed to use this model or endpoint",
    404: "Not found (check the model name and base URL)",
    408: "The provider timed out",
    409: "Conflict at the provider",
    413: "The prompt is too large",
    422: "The provider could not process this request",
    429: "Rate limited",
}


def _connect_failure(exc: BaseException) -> str | None:
    """Why the connection could not be made, if that is what happened. The aiohttp transport
    reports a refused connection or an unknown host as a ConnectTimeout, so look at the chain."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, (httpx2.ConnectError, httpx2.ConnectTimeout)) or (isinstance(node, OSError) and not isinstance(node, TimeoutError)):
            text = str(node) or type(node).__name__
            return text.split(" [")[0] if "Cannot connect to host" in text else text
        node = node.__cause__ or node.__context__
    return None


def classify(exc: BaseException, secrets: Iterable[str] = ()) -> Failure:
    """Turn anything a request raised into a `Failure` the engine can act on."""
    secrets = tuple(secrets)

    def clean(text: str) -> str:
        return redact(text, secrets)

    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one too
        connect = _connect_failure(exc)
        if connect is not None:
            # Never sent, so never billed: not a timeout, whatever the transport called it.
            return Failure(ErrorKind.RETRY, clean(f"Could not reach the provider: {connect}"))
        if isinstance(exc, openai.APITimeoutError):
            return Failure(ErrorKind.RETRY, "The request timed out (the provider may still bill it)", timeout=True)
        cause = exc.__cause__ or exc.__context__
        detail = f": {type(cause).__name__}" if cause is not None else ""
        return Failure(ErrorKind.RETRY, clean(f"Could not reach the provider (connection failed{detail})"))
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        body = exc.body
        code = _code(body) or getattr(exc, "code", None)
        words = _STATUS_WORDS.get(status, f"HTTP {status}")
        detail = clean(_body_message(body, exc.message or ""))
        message = f"{words} ({status}): {detail}" if detail and detail != words else f"{words} ({status})"
        retry_after = parse_retry_after(dict(exc.response.headers)) if exc.response is not None else None
        if status == 429:
            if code == "insufficient_quota" or "insufficient_quota" in str(body):
                return Failure(ErrorKind.KEY_DEAD, f"Out of quota (429): {detail}", status)
            return Failure(ErrorKind.RATE_LIMITED, message, status, retry_after)
        if status in (401, 402, 403):
            return Failure(ErrorKind.KEY_DEAD, message, status)
        if status in (408, 409) or status >= 500:
            return Failure(ErrorKind.RETRY, message, status, retry_after)
        return Failure(ErrorKind.ROW_BAD, message, status)
    if isinstance(exc, json.JSONDecodeError):
        # openai raises a bare JSONDecodeError for a 200 whose body is not JSON.
        return Failure(ErrorKind.RETRY, "The provider sent an answer that is not valid JSON")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return Failure(ErrorKind.RETRY, clean(f"Network error: {type(exc).__name__}"), timeout=isinstance(exc, TimeoutError))
    if isinstance(exc, openai.OpenAIError):
        return Failure(ErrorKind.RETRY, clean(f"Provider error: {exc}"))
    return Failure(ErrorKind.RETRY, clean(f"Unexpected answer from the provider ({type(exc).__name__}: {exc})"[:300]))
