"""Check API keys before a run: one tiny request per key, all keys at once, and a plain verdict
for each ("ok", "invalid_key", "no_quota", "rate_limited", "unreachable", "unknown_model", "blocked", "error").
"blocked": this server's outbound policy (hosted mode, core/outbound.py) does not call that base URL;
nothing was sent.

    checks = check_keys(pool)                     # from the UI thread; runs on the runner's loop
    checks = await check_keys_async(pool)         # from a coroutine
    [c.verdict for c in checks]                   # same order as `pool`

A check never raises for a provider problem: whatever the provider does becomes a `KeyCheck`.
No message ever contains a key; keys are referred to by fingerprint and shown masked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from . import constants as C
from .clients import ClientFactory, default_client_factory
from .errors import ErrorKind, Failure, classify, describe_seconds, exception_chain, param_fallback, redact, scrub
from .keys import KeyEntry
from .refusals import refusal_in

if TYPE_CHECKING:  # the runner imports the engine, which a key check does not need
    from .runner import Runner

__all__ = ["KeyCheck", "VERDICTS", "check_keys", "check_keys_async"]

VERDICTS = ("ok", "invalid_key", "no_quota", "rate_limited", "unreachable", "unknown_model", "blocked", "error")
CHECK_PROMPT = "Reply with OK."


@dataclass(frozen=True)
class KeyCheck:
    fingerprint: str
    masked: str
    ok: bool
    verdict: str  # one of VERDICTS
    message: str  # plain language, safe to show (keys redacted)
    latency_s: float | None  # time to the provider's answer; None when nothing answered


# --- One key ----------------------------------------------------------------------------------


def _is_local(base_url: str) -> bool:
    host = (urllib.parse.urlsplit(base_url).hostname or "").lower()
    if host in ("localhost", "0.0.0.0") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unreachable_hint(entry: KeyEntry) -> str:
    if _is_local(entry.base_url):
        return "check the base URL and that the local server is running"
    return "check the base URL"


def _shown_url(base_url: str) -> str:
    """The base URL without user:password@ or a query string, which may carry credentials."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _detail(failure: Failure) -> str:
    """The provider's own words from a classified message ("Invalid API key (401): <detail>")."""
    marker = f"({failure.status}): "
    if failure.status is not None and marker in failure.message:
        return failure.message.split(marker, 1)[1]
    return ""


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a network failure ("Cannot connect to host ... [Connect call
    failed]", "Name or service not known"): the SDK's own wrapper only says "Connection error"."""
    *_, innermost = exception_chain(exc)
    return scrub(str(innermost).strip() or type(innermost).__name__, limit=200)


def _verdict(entry: KeyEntry, exc: BaseException, elapsed: float, timeout: float) -> KeyCheck:
    secrets = [entry.api_key]

    def result(verdict: str, message: str, latency: float | None = elapsed) -> KeyCheck:
        return KeyCheck(entry.fingerprint, entry.masked, False, verdict, redact(message, secrets), latency)

    refused = refusal_in(exc)
    if refused is not None:  # checked before any connection: nothing reached the base URL
        return result("blocked", str(refused), None)
    # Nothing answered: our deadline, the SDK's timeout, or the network (refused, DNS, TLS).
    # The aiohttp transport reports a refused connection or an unknown host as a *connect
    # timeout* at once, so an APITimeoutError only means a timeout if the time was really spent.
    if isinstance(exc, TimeoutError) or (isinstance(exc, openai.APITimeoutError) and elapsed >= 0.9 * timeout):
        return result("unreachable", f"No answer within {timeout:g} s: {_unreachable_hint(entry)}", None)
    if isinstance(exc, (openai.APIConnectionError, OSError)):
        base = _shown_url(entry.base_url)
        return result("unreachable", f"The provider could not be reached at {base}: {_unreachable_hint(entry)} ({_root_cause(exc)})", None)

    failure = classify(exc, secrets)
    detail = _detail(failure)
    if failure.kind is ErrorKind.KEY_DEAD:
        if failure.status == 402 or failure.code == "insufficient_quota" or "quota" in failure.message.lower():
            return result("no_quota", failure.message)
        return result("invalid_key", failure.message)
    if failure.kind is ErrorKind.RATE_LIMITED:
        # A check waits for nothing, so say what the provider asked, unclamped.
        asked = failure.retry_after_asked
        wait = f"; try again in {describe_seconds(asked)}" if asked else ""
        said = f": {detail}" if detail else ""
        return result("rate_limited", f"The key is valid but rate limited right now ({failure.status}{wait}){said}")
    if failure.status == 404:
        # A 404 is usually the model; a base URL missing its /v1 gives one too, so say both
        # unless the provider itself named the model.
        hint = "" if entry.model in detail else " (check the model name and the base URL)"
        said = f": {detail}" if detail else ""
        return result("unknown_model", f"Unknown model '{entry.model}' (404){said}{hint}")
    return result("error", failure.message)


async def _check_one(entry: KeyEntry, client_factory: ClientFactory, timeout: float) -> KeyCheck:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": CHECK_PROMPT}]
    started = time.monotonic()
    client: openai.AsyncOpenAI | None = None
    try:
        # The SDK's timeout is per connect/read; this deadline bounds the whole check, so a
        # server that trickles bytes cannot hold the check (and the UI waiting on it) forever.
        async with asyncio.timeout(timeout):
            client = client_factory(entry, timeout)
            params: dict[str, Any] = {"max_tokens": 1}
            try:
                response = await client.chat.completions.create(model=entry.model, messages=messages, **params)
            except openai.APIStatusError as exc:
                # Reasoning models refuse max_tokens with a 400; the key itself worked, so ask
                # once more the way the model wants (the engine's rule, not one of our own)
                # rather than report a good key as broken.
                fallback = param_fallback(classify(exc, [entry.api_key]), params)
                if fallback is None:
                    raise
                response = await client.chat.completions.create(model=entry.model, messages=messages, **fallback)
        elapsed = time.monotonic() - started
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every provider problem becomes a verdict, never an exception
        return _verdict(entry, exc, time.monotonic() - started, timeout)
    finally:
        if client is not None:
            try:
                await client.close()
            except Exception:  # closing a broken connection must not hide the verdict
                pass

    # The SDK hands back the body as text when a 200 is not JSON (a web page, a captive portal):
    # something answered at that URL, but not an OpenAI-compatible API.
    if not isinstance(getattr(response, "choices", None), list):
        return KeyCheck(
            entry.fingerprint, entry.masked, False, "error", "The base URL answered, but not like an OpenAI-compatible API: check the base URL", elapsed
        )
    return KeyCheck(entry.fingerprint, entry.masked, True, "ok", f"OK ({elapsed:.1f} s)", elapsed)


# --- Many keys --------------------------------------------------------------------------------


async def check_keys_async(
    keys: Sequence[KeyEntry], *, client_factory: ClientFactory = default_client_factory, timeout: float = C.KEY_CHECK_TIMEOUT_S
) -> list[KeyCheck]:
    """Check every key concurrently, each with one tiny request; results in the order of `keys`.
    Each check ends within `timeout` seconds."""
    return list(await asyncio.gather(*(_check_one(entry, client_factory, timeout) for entry in keys)))


def check_keys(keys: Sequence[KeyEntry], *, runner: Runner | None = None, timeout: float = C.KEY_CHECK_TIMEOUT_S) -> list[KeyCheck]:
    """Blocking form for the UI thread: runs the checks on the runner's loop, with the runner's
    client factory, and waits for them. Must not be called from that loop's own thread."""
    keys = list(keys)
    if not keys:
        return []
    if runner is None:
        from .runner import get_runner

        runner = get_runner()
    future = runner.submit(check_keys_async(keys, client_factory=runner.client_factory, timeout=timeout))
    try:
        return future.result(timeout + C.KEY_CHECK_LOOP_SLACK_S)
    except concurrent.futures.TimeoutError:
        # Only a stuck loop gets here: every check has its own deadline.
        future.cancel()
        message = f"No answer within {timeout:g} s: the engine is busy or stuck; try again"
        return [KeyCheck(e.fingerprint, e.masked, False, "unreachable", message, None) for e in keys]
