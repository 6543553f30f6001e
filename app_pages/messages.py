"""Core's English sentences in the page's language: row errors, run messages, notes about a
file, and failure causes in a few words. Core keeps English in the store and the downloads;
core.explain reads a sentence back as a code and values, and these word it."""

from __future__ import annotations

import core
from app_pages.i18n import STRINGS, language, t


def say(text: str | None) -> str:
    """One of core's English sentences (a row error, a run message, a note about a file) in the
    page's language. Core keeps English in the store and the downloads; this is for display."""
    if not text:
        return ""
    if language() == "en":
        return text
    return _say(core.explain(text))


def _say(said: core.Explained) -> str:
    code, params = said.code, dict(said.params)
    if not code or f"msg.{code}" not in STRINGS:
        return said.text
    if code == "http":
        status = params.get("status", "")
        head = t(f"cause.http.{status}") if f"cause.http.{status}" in STRINGS else t("cause.http", status=status)
        return head + (t("msg.provider_said", detail=params["detail"]) if params.get("detail") else "")
    if code == "finished":
        parts = [t(f"msg.finished.{k}", n=params[k]) for k in ("ok", "unparsed", "failed", "from_cache") if k in params]
        return t("msg.finished", parts="，".join(parts))
    if code in ("too_large_tpm",):
        params["per"] = t(f"msg.per.{params['per']}") if f"msg.per.{params['per']}" in STRINGS else params["per"]
    if code == "invalid_answer" and "n" not in params:
        return t("msg.invalid_answer.now", inner="；".join(_say(i) for i in said.inner))
    if code == "col_ambiguous_date":
        params["options"] = params.get("options", "").replace(" or ", " 或 ")
    if code == "all_keys_dead" and not said.inner:
        return t("msg.all_keys_dead.plain")
    if code == "dropped_rows":
        params["where"] = t(f"msg.where.{params['where']}")
    if code == "dropped_columns":
        params["side"] = t(f"msg.side.{params['side']}")
    try:
        return t(f"msg.{code}", inner="；".join(_say(i) for i in said.inner), **params)
    except (KeyError, IndexError, TypeError):  # a sentence whose values do not fit: as it is
        return said.text


def cause_text(cause: core.FailureCause) -> str:
    """A failure cause in a few words: "could not reach api.openai.com"."""
    code, params = cause.code, cause.params
    if code == "http":
        status = params.get("status", "")
        return t(f"cause.http.{status}") if f"cause.http.{status}" in STRINGS else t("cause.http", status=status)
    if code == "too_large_tpm":
        per = params.get("per", "")
        params = {"per": t(f"msg.per.{per}") if f"msg.per.{per}" in STRINGS else per}
    if code == "invalid_answer":
        return t("cause.invalid_answer", name=params["name"]) if params.get("name") else t("cause.invalid_not_json")
    if code and f"cause.{code}" in STRINGS:
        return t(f"cause.{code}", **params)
    return say(core.root_cause(cause.example).text)


def failure_summary(causes: list[core.FailureCause], limit: int = 4) -> list[str]:
    """ "10 × could not reach api.openai.com", most common cause first."""
    lines = [f"{c.count:,} × {cause_text(c)}" for c in causes[:limit]]
    rest = sum(c.count for c in causes[limit:])
    if rest:
        lines.append(t("run.other_causes", n=rest))
    return lines
