"""What a key check's verdict most likely means, for someone who is not a programmer: a cause
("this machine cannot reach api.openai.com", "wrong key", "model not found") that a page words
in its language with what to do, and the provider's own words kept apart.

    diagnose(check, entry.base_url, entry.model)    # KeyDiagnosis("dns", {"host": "api.openai.com"}, "...")

The checks themselves are core/keycheck.py's; this only reads their verdicts and messages.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from .addresses import REASONS
from .keycheck import KeyCheck
from .messages import explain

__all__ = ["KeyDiagnosis", "diagnose", "DIAGNOSES"]

# Every cause a diagnosis can name; a page has a sentence and a "what to do" for each.
DIAGNOSES = (
    "ok", "dns", "refused", "unreachable", "timeout", "wrong_key", "forbidden", "no_quota",
    "rate_limited", "wrong_url", "model_not_found", "url_or_model", "not_api", "error",
    *(f"blocked_{reason}" for reason in REASONS),  # hosted mode refused the base URL, for this reason
)  # fmt: skip

_DNS = re.compile(r"Name or service not known|nodename nor servname|getaddrinfo|name resolution|No address associated|Could not resolve|DNS", re.IGNORECASE)
_REFUSED = re.compile(r"Connect call failed|Connection refused|ECONNREFUSED|actively refused", re.IGNORECASE)
_UNREACHABLE = re.compile(r"The provider could not be reached at \S+: .*? \((?P<root>.*)\)$", re.DOTALL)
_NOT_FOUND_PAGE = re.compile(r"^\s*(404 )?(page )?not found\.?\s*$|<html|^\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class KeyDiagnosis:
    code: str  # one of DIAGNOSES
    params: dict[str, str] = field(default_factory=dict)  # host, model, seconds
    detail: str = ""  # the provider's or the network's own words, if any (keys redacted)


def _host(base_url: str) -> str:
    return urllib.parse.urlsplit(base_url).hostname or base_url


def _after(marker: str, text: str) -> str:
    return text.split(marker, 1)[1].strip() if marker in text else ""


def diagnose(check: KeyCheck, base_url: str, model: str) -> KeyDiagnosis:
    """The likely cause behind a key check's verdict."""
    params = {"host": _host(base_url), "model": model}
    message = check.message
    if check.ok:
        return KeyDiagnosis("ok", {**params, "seconds": f"{check.latency_s or 0:.1f}"})
    if check.verdict == "blocked":
        refusal = explain(message)
        reason = refusal.code.removeprefix("outbound_")
        if f"blocked_{reason}" in DIAGNOSES:
            return KeyDiagnosis(f"blocked_{reason}", {**params, **refusal.params})
        return KeyDiagnosis("error", params, message)
    if check.verdict == "unreachable":
        if message.startswith("No answer within"):
            return KeyDiagnosis("timeout", params)
        m = _UNREACHABLE.match(message)
        inner = m.group("root") if m else message
        if _DNS.search(inner):
            return KeyDiagnosis("dns", params, inner)
        if _REFUSED.search(inner):
            return KeyDiagnosis("refused", params, inner)
        return KeyDiagnosis("unreachable", params, inner)
    if check.verdict == "invalid_key":
        said = _after("): ", message)
        return KeyDiagnosis("forbidden" if "(403)" in message else "wrong_key", params, said)
    if check.verdict == "no_quota":
        return KeyDiagnosis("no_quota", params, _after("): ", message))
    if check.verdict == "rate_limited":
        return KeyDiagnosis("rate_limited", params, _after("): ", message))
    if check.verdict == "unknown_model":
        said = _after("(404): ", message).removesuffix("(check the model name and the base URL)").strip()
        if said and model in said:
            return KeyDiagnosis("model_not_found", params, said)
        if _NOT_FOUND_PAGE.search(said):
            return KeyDiagnosis("wrong_url", params, said)  # a web server's bare 404: no API lives there
        return KeyDiagnosis("url_or_model", params, said)
    if "not like an OpenAI-compatible API" in message:
        return KeyDiagnosis("not_api", params)
    return KeyDiagnosis("error", params, message)
