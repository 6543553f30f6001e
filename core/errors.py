"""What went wrong, in one place: bad input, and the classification of every provider error.

    ValueError
     └── InputError            the user's file, template or settings cannot be used (plain sentence)

    Provider failures are not raised past the engine; `classify` turns each into a `Failure`:
     ├── RATE_LIMITED  429 rate_limit_exceeded: the key cools down, the row goes back at once for
     │                 any key to take, and no attempt is used
     ├── RETRY         408, 409, 5xx, timeouts, dropped connections, bodies that are not JSON,
     │                 and anything else a request raises: the row comes back after a delay
     │                 and uses one of its attempts
     ├── KEY_DEAD      401, 402, 403, 429 insufficient_quota: the key leaves the run
     └── ROW_BAD       400, 404, 413, 422 and other 4xx: the row fails at once, and also
                         - 429 "Request too large" (one prompt above the key's tokens/min: no wait helps)
                         - 403 moderation flag (OpenRouter's `metadata.reasons`): the row, not the key
                         - 400 unsupported_parameter / unsupported_value (`Failure.unsupported_param`;
                           `param_fallback` says how to ask again, if there is a way)

    A request the hosted server's outbound policy refused (core/refusals.py) is KEY_DEAD: that
    key's base URL cannot be called from here, whatever is retried; `Failure.outbound` says why.

    `x-should-retry`, as openai-python obeys it: "false" turns a would-be RETRY or RATE_LIMITED
    into ROW_BAD (status kept); "true" turns a KEY_DEAD or ROW_BAD into RETRY, except a request too
    large for the key, which no retry can make fit.

    Retry-After is believed up to MAX_RETRY_AFTER_S and clamped above it; the Failure keeps what was
    asked too (openai-python gives up past 2 minutes; a batch moves the row on instead).

The engine acts on the class and the parsed fields, never on message text.
"""

from __future__ import annotations

import enum
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import httpx2
import openai

from . import constants as C
from .refusals import refusal_in
from .retry import backoff_delay, describe_seconds, parse_retry_after, should_retry_header

__all__ = [
    "InputError",
    "ErrorKind",
    "Failure",
    "classify",
    "param_fallback",
    "parse_retry_after",
    "should_retry_header",
    "backoff_delay",
    "redact",
    "scrub",
    "describe_seconds",
    "exception_chain",
]


class InputError(ValueError):
    """Input we cannot use. The message is one plain sentence: what is wrong and what to do.
    `code` and `params` let a UI say the same thing in another language."""

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class ErrorKind(enum.Enum):
    RETRY = "retry"  # the row comes back after a delay and uses an attempt
    RATE_LIMITED = "rate_limited"  # the key cools down; the row goes back at once, no attempt used
    KEY_DEAD = "key_dead"  # the key leaves the run; the row goes back for another key
    ROW_BAD = "row_bad"  # the row fails at once; the key is fine


def _no_headers() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Failure:
    """One failed request, classified. Crosses threads (engine -> tracker -> UI), so frozen; the
    headers are a read-only mapping."""

    kind: ErrorKind
    message: str  # plain language, safe to show and store (keys redacted)
    status: int | None = None
    retry_after: float | None = None  # seconds to wait: what the provider asked, at most MAX_RETRY_AFTER_S
    timeout: bool = False
    retry_after_asked: float | None = None  # what the provider asked, unclamped (may be inf)
    code: str | None = None  # the error body's `code` ("rate_limit_exceeded", "unsupported_parameter", "403")
    type: str | None = None  # the error body's `type` ("tokens", "requests", "invalid_request_error")
    param: str | None = None  # the error body's `param`
    unsupported_param: str | None = None  # the request parameter the model refuses ("max_tokens", "temperature")
    limit: int | None = None  # from "Limit 30000, Requested 45000" in a 429: the key's limit ...
    requested: int | None = None  # ... and what this request needed
    outbound: str | None = None  # why the outbound policy refused the request (addresses.REASONS), if it did
    # Response headers, lower-cased, with nothing secret (no Authorization, no cookies): the
    # limiter can learn from `x-ratelimit-*` on a 429.
    headers: Mapping[str, str] = field(default_factory=_no_headers, repr=False, hash=False)

    @property
    def retry_after_clamped(self) -> bool:
        return self.retry_after_asked is not None and self.retry_after is not None and self.retry_after_asked > self.retry_after

    def wait_note(self) -> str:
        """How long we wait and why, for a key's state: "waiting 2 s", or "the provider asked for
        1 h; waiting 5 min" when the ask was clamped. Empty when the provider named no delay."""
        if self.retry_after is None:
            return ""
        waiting = f"waiting {describe_seconds(self.retry_after)}"
        asked = self.retry_after_asked
        if asked is not None and asked > self.retry_after:
            return f"the provider asked for {describe_seconds(asked)}; {waiting}"
        return waiting


_KEY_LIKE = re.compile(r"\b(sk|key|api|Bearer)[-_ ]?[A-Za-z0-9_\-\.]{12,}", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove API keys from text that may reach the screen, the store or a log.

    Providers echo keys back ("Incorrect API key provided: sk-abc...xyz"), so every message that
    came from outside goes through here, with the keys of the run when they are known."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(lambda m: m.group(1) + "-***", text)


# Headers a server may echo back in an error body (its own, or the request's with the key in
# them). Distinctive names are cut wherever they appear, with the rest of their line; common
# words (Date, Server, Host) only at the start of a line, where a header dump puts them.
_HEADER_ANYWHERE = re.compile(
    r"""["']?\b(?:authorization|proxy-authori[sz]ation|cookie|set-cookie|www-authenticate|proxy-authenticate|api-key|x-[a-z0-9]+(?:-[a-z0-9]+)*"""
    r"""|content-(?:type|length|encoding|security-policy)|user-agent|strict-transport-security|cf-[a-z-]+|openai-[a-z-]+|access-control-[a-z-]+"""
    r"""|transfer-encoding|forwarded|traceparent|tracestate|accept-[a-z]+)["']?\s*[:=]\s*[^\r\n]*""",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"^\s*(?:host|date|server|connection|location|via|vary|origin|referer|etag|expires|age|pragma|cache-control|keep-alive|retry-after"
    r"|last-modified|accept|upgrade|alt-svc|report-to|nel)\s*:.*$"
    r"|^\s*HTTP/\d(?:\.\d)?\s+\d{3}\b.*$|^\s*(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+\S+\s+HTTP/\d(?:\.\d)?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Tokens that look like credentials: JWTs, and any run of 20+ letters and digits with both in it
# (API keys, session ids, signed URLs' signatures), whatever prefix names them.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}(?:\.[A-Za-z0-9_\-]*)?")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9]{20,}")
_ESCAPED_BREAK = re.compile(r"\\[rn]")


def _token(m: re.Match[str]) -> str:
    word = m.group(0)
    return "***" if any(c.isdigit() for c in word) and any(c.isalpha() for c in word) else word


def scrub(text: str, secrets: Iterable[str] = (), limit: int = C.ERROR_DETAIL_MAX_CHARS) -> str:
    """A provider's words made fit to show and store: the run's keys and anything that looks
    like a credential masked, echoed headers and HTTP lines cut out, whitespace collapsed, and at
    most `limit` characters. A hostile server's error body reaches the page and the store only
    through here."""
    text = redact(str(text)[: C.ERROR_BODY_MAX_BYTES * 4], secrets)
    text = _ESCAPED_BREAK.sub("\n", text)  # a JSON text's "\\n" is a line break too: headers dumped into a string
    text = _HEADER_LINE.sub(" ", text)
    text = _HEADER_ANYWHERE.sub(" ", text)
    text = _LONG_TOKEN.sub(_token, _JWT.sub("***", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- Reading error bodies ---------------------------------------------------------------------


def _body_message(body: object, fallback: str) -> str:
    """A readable message from an error body in any shape: OpenAI's {"error": {"message"}},
    FastAPI's {"detail": ...}, {"message": ...}, {"msg": ...}, or plain text. Raw: `scrub` makes
    it short and safe (lines are kept for it, to find echoed headers by)."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            for name in ("message", "detail", "msg", "error_msg", "errmsg"):
                value = inner.get(name)
                if isinstance(value, str) and value.strip():
                    return value.strip()
                if value is not None and name == "detail":
                    return json.dumps(value, ensure_ascii=False)
        elif isinstance(inner, str) and inner.strip():
            return inner.strip()
        for name in ("detail", "message", "msg"):
            value = body.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return json.dumps(body, ensure_ascii=False)
    if isinstance(body, str) and body.strip():
        body = body[: C.ERROR_BODY_MAX_BYTES * 4]
        cut = _CUT_JSON_MESSAGE.search(body)  # JSON cut short (hosted mode reads 16 KiB): its message still
        if cut is not None:
            try:
                return str(json.loads(f'"{cut.group(1)}"'))
            except ValueError:
                return cut.group(1)
        return re.sub(r"<[^>]+>", " ", body)  # an HTML error page becomes its words
    return fallback


_CUT_JSON_MESSAGE = re.compile(r'^\s*\{.*?"(?:message|detail|msg)"\s*:\s*"((?:[^"\\]|\\.)*)', re.DOTALL)


def _body_field(body: object, name: str) -> object:
    """`name` from the error object, whether the SDK unwrapped {"error": {...}} or not."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        for src in (inner, body):
            if isinstance(src, Mapping) and src.get(name) is not None:
                return src[name]
    return None


def _text_field(body: object, name: str) -> str | None:
    value = _body_field(body, name)
    return None if value is None or isinstance(value, (Mapping, list)) else str(value)


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"})


def _safe_headers(headers: httpx2.Headers | Mapping[str, str] | None, secrets: Iterable[str]) -> Mapping[str, str]:
    if not headers:
        return _no_headers()
    secrets = [s for s in secrets if s and len(s) >= 4]
    kept: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        if name in _SECRET_HEADERS:
            continue
        for secret in secrets:  # a proxy may echo the key in a header of its own
            value = value.replace(secret, "***")
        kept[name] = value
    return MappingProxyType(kept)


# "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000,
# Requested 45000." and "Rate limit reached ... Limit 30000, Used 29000, Requested 2000."
_LIMIT = re.compile(r"\bLimit:?\s*(\d[\d,]*)")
_REQUESTED = re.compile(r"\bRequested:?\s*(\d[\d,]*)")
_UNIT = re.compile(r"\((TPM|TPD|RPM|RPD|IPM)\)")
_PER = {"TPM": "minute", "TPD": "day"}
# The phrase OpenAI puts before the parameter, for servers that pass the message on without the code.
_UNSUPPORTED = re.compile(r"Unsupported (?:parameter|value): '([A-Za-z_]+)'")
_UNSUPPORTED_CODES = ("unsupported_parameter", "unsupported_value")


def _number(pattern: re.Pattern[str], text: str) -> int | None:
    m = pattern.search(text)
    return int(m.group(1).replace(",", "")) if m else None


def _moderation(body: object) -> tuple[list[str], str] | None:
    """(reasons, flagged text) when a 403 is a moderation flag on the input: OpenRouter's
    {"error": {"code": 403, "metadata": {"reasons": [...], "flagged_input": "..."}}}."""
    metadata = _body_field(body, "metadata")
    if not isinstance(metadata, Mapping) or not ("reasons" in metadata or "flagged_input" in metadata):
        return None
    reasons = metadata.get("reasons")
    reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
    flagged = metadata.get("flagged_input")
    return reasons, flagged if isinstance(flagged, str) else ""


# --- Classification ---------------------------------------------------------------------------


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


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from (or during), and so on down to the innermost cause;
    each exception once, so a chain that loops back on itself ends."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def _connect_failure(exc: BaseException) -> str | None:
    """Why the connection could not be made, if that is what happened. The aiohttp transport
    reports a refused connection or an unknown host as a ConnectTimeout, so look at the chain."""
    for node in exception_chain(exc):
        if isinstance(node, (httpx2.ConnectError, httpx2.ConnectTimeout)) or (isinstance(node, OSError) and not isinstance(node, TimeoutError)):
            text = str(node) or type(node).__name__
            return text.split(" [")[0] if "Cannot connect to host" in text else text
    return None


def _status_failure(exc: openai.APIStatusError, clean: Any, secrets: tuple[str, ...]) -> Failure:
    status = exc.status_code
    body = exc.body
    code = _text_field(body, "code") or exc.code
    etype = _text_field(body, "type") or exc.type
    param = _text_field(body, "param") or exc.param
    words = _STATUS_WORDS.get(status, f"HTTP {status}")
    detail = clean(_body_message(body, exc.message or ""))
    response_headers = exc.response.headers if exc.response is not None else None
    asked = parse_retry_after(response_headers, cap=None)
    fields: dict[str, Any] = dict(
        status=status,
        code=code,
        type=etype,
        param=param,
        headers=_safe_headers(response_headers, secrets),
        retry_after_asked=asked,
        retry_after=None if asked is None else min(asked, C.MAX_RETRY_AFTER_S),
    )
    message = f"{words} ({status}): {detail}" if detail and detail != words else f"{words} ({status})"

    def failure(kind: ErrorKind, text: str = message, *, final: bool = False, **more: Any) -> Failure:
        made = Failure(kind, text, **{**fields, **more})
        return made if final else _obey_should_retry(made)

    if status == 429:
        if code == "insufficient_quota" or etype == "insufficient_quota" or "insufficient_quota" in str(body):
            return failure(ErrorKind.KEY_DEAD, f"Out of quota (429): {detail}")
        limit, requested = _number(_LIMIT, detail), _number(_REQUESTED, detail)
        unit_match = _UNIT.search(detail)
        unit = unit_match.group(1) if unit_match else None
        on_tokens = etype == "tokens" or unit in _PER or "tokens per" in detail
        too_large = on_tokens and (
            (limit is not None and requested is not None and requested > limit)
            # The numbers are missing in some versions of the message; OpenAI's phrase, with a
            # token limit named by the body, still says the same.
            or (limit is None and detail.lower().startswith("request too large"))
        )
        if too_large:
            per = _PER.get(unit or "", "minute")
            size = f": it needs {requested:,} tokens, the key allows {limit:,} per {per}" if limit is not None and requested is not None else ""
            text = (
                f"The prompt is too large for this key's tokens-per-{per} limit (429){size}. Shorten the prompt or "
                f"lower max tokens (both count), or use a key with a higher limit."
            )
            # Final whatever x-should-retry says: no retry makes this prompt fit this key.
            return failure(ErrorKind.ROW_BAD, text, final=True, limit=limit, requested=requested)
        return failure(ErrorKind.RATE_LIMITED, limit=limit, requested=requested)
    if status == 403 and (flag := _moderation(body)) is not None:
        reasons, flagged = flag
        text = f"The provider's moderation flagged this row (403): {detail}"
        if reasons and not all(r in detail for r in reasons):
            text += f" Reasons: {', '.join(reasons)}."
        if flagged:
            excerpt = " ".join(flagged.split())
            text += f' Flagged text: "{clean(excerpt[:80])}{"..." if len(excerpt) > 80 else ""}"'
        return failure(ErrorKind.ROW_BAD, text)
    if status in (401, 402, 403):
        return failure(ErrorKind.KEY_DEAD)
    if status in (408, 409) or status >= 500:
        return failure(ErrorKind.RETRY)
    refused = None
    if status == 400:
        m = _UNSUPPORTED.search(detail)
        if code in _UNSUPPORTED_CODES:
            refused = param or (m.group(1) if m else None)
        elif code is None and m is not None:
            refused = m.group(1)
    if refused == "max_tokens":
        return failure(ErrorKind.ROW_BAD, f"This model does not accept max_tokens, only max_completion_tokens (400): {detail}", unsupported_param=refused)
    if refused == "temperature":
        return failure(
            ErrorKind.ROW_BAD,
            f'This model does not accept this temperature (400): {detail} Set the temperature to "provider default" in the run settings.',
            unsupported_param=refused,
        )
    if refused is not None:
        return failure(ErrorKind.ROW_BAD, f"This model does not accept the setting '{refused}' (400): {detail}", unsupported_param=refused)
    return failure(ErrorKind.ROW_BAD)


def _obey_should_retry(failure: Failure) -> Failure:
    """`x-should-retry` overrides the status, as openai-python's `_should_retry` lets it."""
    said = should_retry_header(failure.headers)
    if said is False and failure.kind in (ErrorKind.RETRY, ErrorKind.RATE_LIMITED):
        return replace(failure, kind=ErrorKind.ROW_BAD, message=f"{failure.message} (the provider said not to retry it)")
    if said is True and failure.kind in (ErrorKind.KEY_DEAD, ErrorKind.ROW_BAD):
        return replace(failure, kind=ErrorKind.RETRY, message=f"{failure.message} (the provider said to retry it)")
    return failure


def classify(exc: BaseException, secrets: Iterable[str] = ()) -> Failure:
    """Turn anything a request raised into a `Failure` the engine can act on."""
    secrets = tuple(secrets)

    def clean(text: str) -> str:
        return scrub(text, secrets)

    refused = refusal_in(exc)
    if refused is not None:  # nothing was sent: this base URL cannot be called from this server
        return Failure(ErrorKind.KEY_DEAD, str(refused), outbound=refused.reason)
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one too
        connect = _connect_failure(exc)
        if connect is not None:
            # Never sent, so never billed: not a timeout, whatever the transport called it.
            return Failure(ErrorKind.RETRY, clean(f"Could not reach the provider: {connect}"))
        if isinstance(exc, openai.APITimeoutError):
            return Failure(ErrorKind.RETRY, "The request timed out (the provider may still bill it)", timeout=True)
        cause = next(itertools.islice(exception_chain(exc), 1, None), None)
        detail = f": {type(cause).__name__}" if cause is not None else ""
        return Failure(ErrorKind.RETRY, clean(f"Could not reach the provider (connection failed{detail})"))
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, clean, secrets)
    if isinstance(exc, json.JSONDecodeError):
        # openai raises a bare JSONDecodeError for a 200 whose body is not JSON.
        return Failure(ErrorKind.RETRY, "The provider sent an answer that is not valid JSON")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return Failure(ErrorKind.RETRY, clean(f"Network error: {type(exc).__name__}"), timeout=isinstance(exc, TimeoutError))
    if isinstance(exc, openai.OpenAIError):
        return Failure(ErrorKind.RETRY, clean(f"Provider error: {exc}"))
    return Failure(ErrorKind.RETRY, clean(f"Unexpected answer from the provider ({type(exc).__name__}: {exc})"))


# --- Asking again -----------------------------------------------------------------------------


def param_fallback(failure: Failure, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request parameters to ask with once more after the model refused one, or None when
    there is no such thing. Used by the engine and the key check alike.

    Only `max_tokens` has one: OpenAI's reasoning models want the same number as
    `max_completion_tokens`. A refused temperature has none (dropping it would silently change
    what the user asked for); the failure's message tells the user to choose "provider default".
    One direction only, so that applying it can never loop."""
    if failure.unsupported_param != "max_tokens" or "max_tokens" not in params or "max_completion_tokens" in params:
        return None
    adjusted = {k: v for k, v in params.items() if k != "max_tokens"}
    adjusted["max_completion_tokens"] = params["max_tokens"]
    return adjusted
