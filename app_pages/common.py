"""What every page shares: process-wide resources, this tab's data, prompt, keys and run, the
sidebar, and small formatting helpers. Pages read widgets, call one core function, and draw."""

from __future__ import annotations

import hmac
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

import core
from app_pages.i18n import LANGUAGES, STRINGS, language, t, t_in
from app_pages.messages import cause_text, failure_summary, say  # noqa: F401 - the pages take them from here
from core import (
    InputError,
    KeyEntry,
    LoadedTable,
    RunSpec,
    RunStore,
    TableInfo,
    TemplateProblem,
)

DEMO_FILE = Path(__file__).resolve().parent.parent / "core" / "data" / "demo_arithmetic.csv"
DEMO_TEMPLATE = "Compute {question}. Reply with the number only."
DEMO_KEYS = 4


# --- process-wide -------------------------------------------------------------------------------


@st.cache_resource
def store() -> RunStore:
    return RunStore(os.environ.get("LLM_BATCH_DATA_DIR") or None)


@st.cache_resource
def runner() -> core.Runner:
    return core.get_runner()


# --- this tab -----------------------------------------------------------------------------------


def init_state() -> None:
    """Defaults for this tab, set once. Widgets keep their values across pages with
    persist_state="session"; these are the values before the user touched anything."""
    defaults = {
        "template": DEMO_TEMPLATE,
        "system": "",
        "output_mode": "text",
        "json_fields": "",
        "json_format": False,
        "label_column": "",
        "set_temperature": False,  # "provider default": reasoning models accept no other
        "temperature": 0.0,
        "max_tokens": 0,
        "provider": core.SIMULATED_PROVIDER,
        "base_url": core.PROVIDER_PRESETS[core.SIMULATED_PROVIDER].base_url,
        "model": "simulated",
        "rpm": None,  # Auto: each key's pace is learnt from the provider
        "tpm": 0,
        "shared_limit": False,
        "concurrency": 16,
        "auto_concurrency": True,
        "max_attempts": 4,
        "first_n": 10,
        "use_cache": True,
        "price_in": None,
        "price_out": None,
        "user_keys": [],
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if "lang" not in st.session_state:
        st.session_state["lang"] = language()  # from ?lang=, so a shared link keeps its language
    if "dataset" not in st.session_state and not restore_from_run(st.query_params.get("run")):
        use_demo_dataset()


def restore_from_run(run_id: str | None) -> bool:
    """A reloaded page (a new session) on ?run=... gets that run's table and prompt back, so
    what it shows and what it would run again agree. Keys are never stored, so not those."""
    record = store().get_run(run_id, counts=False) if run_id else None
    if record is None:
        return False
    frame = store().load_inputs(record.id)
    info = TableInfo("stored", None, None, None, (), len(frame), len(frame.columns), ())
    set_dataset(LoadedTable(frame, info), record.file_name or record.id)
    s, spec_ = st.session_state, record.spec
    s["template"], s["system"] = spec_.template, spec_.system or ""
    s["output_mode"] = "json" if spec_.json_fields else "text"
    s["json_fields"], s["json_format"] = ", ".join(spec_.json_fields), spec_.json_response_format
    s["label_column"] = spec_.label_column or ""
    s["set_temperature"] = spec_.temperature is not None
    s["temperature"], s["max_tokens"] = spec_.temperature or 0.0, spec_.max_tokens or 0
    s["concurrency"], s["max_attempts"] = spec_.concurrency, spec_.max_attempts
    s["auto_concurrency"] = spec_.auto_concurrency
    s["use_cache"], s["price_in"], s["price_out"] = spec_.use_cache, spec_.price_in, spec_.price_out
    if record.keys:  # the provider, model and limits the run was made with (never its keys)
        key = record.keys[0]
        s["provider"] = provider_of(key)
        s["base_url"], s["model"], s["rpm"], s["tpm"] = key.base_url, key.model, key.rpm, key.tpm or 0
    return True


def provider_of(key: core.KeyInfo) -> str:
    """The provider preset a stored key belongs to: by name, else by base URL, else OpenAI's
    (whose base URL and model boxes then hold the run's own)."""
    if key.simulated:
        return core.SIMULATED_PROVIDER
    if key.provider in core.PROVIDER_PRESETS:
        return key.provider
    same_url = [p.label for p in core.PROVIDER_PRESETS.values() if p.base_url.rstrip("/") == key.base_url.rstrip("/")]
    return same_url[0] if same_url else "OpenAI"


def use_demo_dataset() -> None:
    data = DEMO_FILE.read_bytes()
    set_dataset(core.load_table(data, DEMO_FILE.name), DEMO_FILE.name, demo=True)
    # The demo's whole prompt, not half of it: a JSON mode or a system prompt left from another
    # table would make its plain-number answers fail to parse.
    s = st.session_state
    s["template"], s["system"], s["label_column"] = DEMO_TEMPLATE, "", "answer"
    s["output_mode"], s["json_fields"], s["json_format"] = "text", "", False


def set_dataset(table: LoadedTable, name: str, *, demo: bool = False) -> None:
    st.session_state["dataset"] = {"table": table, "name": name, "demo": demo}
    # A label column the new table does not have would block the Run page with an error.
    if st.session_state.get("label_column") not in table.frame.columns:
        st.session_state["label_column"] = ""


def dataset() -> dict | None:
    return st.session_state.get("dataset")


def worded_choice(widget, label: str, options: list[str], *, key: str, format_func, on_change=None, **kwargs):  # type: ignore[no-untyped-def]
    """A selectbox whose words follow the language without losing the choice. A selectbox sends
    its choice back as the shown label, so each language has a widget of its own (English keeps
    the plain `key`), started from the choice kept under `key`. A choice made in the widget is
    copied to `key` before any callback runs; a choice set under `key` by code is shown."""
    own = key if language() == "en" else f"{key}__{language()}"
    if own != key:
        kept = st.session_state.get(key)
        if kept in options and st.session_state.get(own) != kept:
            st.session_state[own] = kept

    def changed() -> None:
        st.session_state[key] = st.session_state[own]
        if on_change is not None:
            on_change()

    value = widget(label, options, format_func=format_func, key=own, on_change=changed, **kwargs)
    if own != key:
        st.session_state[key] = value
    return value


def problem_text(problem: TemplateProblem) -> str:
    """A template problem in the page's language (core words it in English)."""
    if language() == "en" or problem.kind not in ("unknown", "literal", "empty"):
        return problem.message
    name = "{" + problem.placeholder + "}"
    if problem.kind == "empty":
        return t("prompt.problem.empty")
    if problem.kind == "literal":
        return t("prompt.problem.literal", name=name)
    if problem.suggestion:
        return t("prompt.problem.suggest", name=name, suggestion="{" + problem.suggestion + "}")
    return t("prompt.problem.unknown", name=name)


def template_problems(columns: list[str]) -> list[str]:
    s = st.session_state
    template = core.PromptTemplate(s["template"], s["system"] or None)
    return [plain(problem_text(p)) for p in template.problems(columns)]


def spec(entries: Sequence[KeyEntry] = ()) -> RunSpec:
    """The run settings from the Prompt and Run pages; InputError if they are not usable. On
    the simulated provider (`entries` all simulated) nothing is paid, whatever price was set."""
    s = st.session_state
    free = bool(entries) and all(e.simulated for e in entries)
    json_fields = tuple(f.strip() for f in (s["json_fields"] or "").split(",") if f.strip()) if s["output_mode"] == "json" else ()
    return RunSpec(
        template=s["template"],
        system=s["system"] or None,
        temperature=s["temperature"] if s["set_temperature"] else None,
        max_tokens=s["max_tokens"] or None,
        json_fields=json_fields,
        json_response_format=bool(s["json_format"]) and bool(json_fields),
        label_column=s["label_column"] or None,
        concurrency=int(s["concurrency"]),
        auto_concurrency=bool(s["auto_concurrency"]),
        max_attempts=int(s["max_attempts"]),
        use_cache=bool(s["use_cache"]),
        price_in=None if free else s["price_in"],
        price_out=None if free else s["price_out"],
    )


def _secret(section: str) -> dict | None:
    try:
        value = st.secrets.get(section) if len(st.secrets) else None
    except Exception:  # no secrets.toml at all is the normal case
        return None
    return dict(value) if value else None


def app_password() -> str | None:
    """The password that guards preset keys: `[auth] password` in secrets, or LLM_BATCH_PASSWORD."""
    auth = _secret("auth") or {}
    return auth.get("password") or os.environ.get("LLM_BATCH_PASSWORD") or None


def password_gate() -> bool:
    """With keys preset on the server, anyone who can reach the page could spend them: ask for
    the password first. Without presets there is nothing to protect and no password."""
    if not server_keys() or st.session_state.get("authenticated"):
        return True
    password = app_password()
    if password is None:
        return True  # presets are then not used at all: see pool()
    st.title("LLM Batch Studio")
    with st.form("login", border=True):
        st.write(t("auth.prompt"))
        given = st.text_input(t("auth.password"), type="password", key="password_input")
        if st.form_submit_button(t("auth.enter"), type="primary"):
            if hmac.compare_digest(given.encode(), password.encode()):
                st.session_state["authenticated"] = True
                st.rerun()
            st.error(t("auth.wrong"))
    return False


def preset_pool() -> list[KeyEntry]:
    """Keys preset by the server, usable once the password was given (never without one)."""
    if app_password() is None or not st.session_state.get("authenticated"):
        return []
    return server_keys()


def server_keys() -> list[KeyEntry]:
    """Keys preset by the server (secrets.toml or environment), so a demo never shows one."""
    rpm = st.session_state.get("rpm")
    shared = bool(st.session_state.get("shared_limit"))
    cfg = _secret("provider")
    if cfg and cfg.get("keys"):
        preset = core.PROVIDER_PRESETS.get(cfg.get("name", ""))
        return core.make_pool(
            list(cfg["keys"]),
            provider=cfg.get("name", "Custom"),
            base_url=cfg.get("base_url") or (preset.base_url if preset else ""),
            model=cfg.get("model") or (preset.model if preset else ""),
            rpm=int(cfg["rpm"]) if cfg.get("rpm") else rpm,
            tpm=cfg.get("tpm"),
            shared_limit=bool(cfg.get("shared_limit", shared)),
        )
    return core.pool_from_env(rpm=rpm, shared_limit=shared)


def pool() -> tuple[list[KeyEntry], str]:
    """The keys a run will use and where they come from: 'user', 'preset' or 'simulated'."""
    s = st.session_state
    rpm, tpm = (int(s["rpm"]) if s["rpm"] else None), int(s["tpm"] or 0) or None  # an empty rpm is Auto
    shared = bool(s.get("shared_limit"))
    if s["user_keys"]:
        return core.make_pool(s["user_keys"], provider=s["provider"], base_url=s["base_url"], model=s["model"], rpm=rpm, tpm=tpm, shared_limit=shared), "user"
    if s["provider"] != core.SIMULATED_PROVIDER and not core.PROVIDER_PRESETS.get(s["provider"], core.PROVIDER_PRESETS["OpenAI"]).needs_key:
        return core.make_pool([], provider=s["provider"], base_url=s["base_url"], model=s["model"], rpm=rpm, tpm=tpm), "user"
    preset = preset_pool()
    if preset:
        return preset, "preset"
    if s["provider"] == core.SIMULATED_PROVIDER:
        return core.demo_pool(DEMO_KEYS, rpm=rpm, tpm=tpm), "simulated"
    # A provider that needs a key, and none given: never run on the simulator behind the user's
    # back. The Run page says so and offers the demo as a choice of its own.
    raise InputError(f"{s['provider']} needs an API key: paste one on the Keys & limits page, or use the simulated provider for a demo.", "needs_key", provider=s["provider"])


def use_simulated_provider() -> None:
    """The demo, chosen: the simulated provider with its own limits."""
    preset = core.PROVIDER_PRESETS[core.SIMULATED_PROVIDER]
    st.session_state["provider"], st.session_state["base_url"], st.session_state["model"] = preset.label, preset.base_url, preset.model
    st.session_state["rpm"] = None  # Auto: the simulator says its limits in headers, as OpenAI does


# --- the current run ------------------------------------------------------------------------------


def current_run_id() -> str | None:
    """The run this tab shows: from the URL (?run=...) so that a reload or another tab finds it."""
    from_url = st.query_params.get("run")
    if from_url and from_url != st.session_state.get("run_id"):
        if store().get_run(from_url, counts=False) is not None:
            st.session_state["run_id"] = from_url
    run_id = st.session_state.get("run_id")
    if run_id and st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id
    return run_id


def show_run(run_id: str | None) -> None:
    st.session_state["run_id"] = run_id
    if run_id:
        st.query_params["run"] = run_id
    elif "run" in st.query_params:
        del st.query_params["run"]


def is_live(run_id: str | None) -> bool:
    return bool(run_id) and runner().going(run_id) is not None


# --- drawing helpers ------------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds == float("inf"):
        return "–"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02}:{s:02}" if h else f"{m}:{s:02}"


def short(text: str, n: int = 60) -> str:
    """The start of a text, on one line."""
    line = " ".join(str(text).split())
    return line if len(line) <= n else line[: n - 1] + "…"


def provider_label(name: str, lang: str | None = None) -> str:
    """A provider's name as shown: the presets are names, but the simulated one (and "local") are words."""
    if name == core.SIMULATED_PROVIDER:
        return t_in(lang or language(), "common.simulated_provider")
    return name.replace(" (local)", t_in(lang or language(), "common.local")) if name.endswith(" (local)") else name


def settings_line(file: str | None, rows: int, provider: str, model: str, n_keys: int, rpm: int, use_cache: bool) -> str:
    """A run's settings in one line: file · rows · provider · model · keys × requests/min · cache."""
    parts = [plain(file)] if file else []
    if rows:
        parts.append(t("run.line.rows", n=rows))
    parts += [plain(provider_label(provider)), t("run.line.model", model=plain(model))]
    if rpm is None:  # Auto: the pace is learnt from the provider
        parts.append(t("run.line.keys_auto", n=n_keys) if n_keys else t("run.line.no_keys_auto"))
    else:
        parts.append(t("run.line.keys", n=n_keys, rpm=int(rpm)) if n_keys else t("run.line.no_keys", rpm=int(rpm)))
    parts.append(t("run.line.cache_on" if use_cache else "run.line.cache_off"))
    return " · ".join(parts)


def new_run_line(entries: Sequence[core.KeyEntry]) -> str:
    """What a new run would use: this tab's table, provider, model, keys and limits."""
    s, current = st.session_state, dataset()
    provider, model = (entries[0].provider, entries[0].model) if entries else (s["provider"], s["model"])
    rows = len(current["table"].frame) if current else 0
    return settings_line(current["name"] if current else None, rows, provider, model, len(entries), entries[0].rpm if entries else s["rpm"], bool(s["use_cache"]))


def run_line(record: core.RunRecord) -> str:
    """What a stored run was made with."""
    key = record.keys[0] if record.keys else None
    provider = (core.SIMULATED_PROVIDER if key.simulated else key.provider) if key else "–"
    return settings_line(None, record.n_rows, provider, key.model if key else "–", len(record.keys), key.rpm if key else 0, record.spec.use_cache)


def fmt_money(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def state_label(state: str) -> str:
    return t(f"state.{state}")


def outcome(snap: core.ProgressSnapshot | core.RunRecord, state: str | None = None) -> core.RunOutcome:
    """How a run stands, honestly: "done" only when every row succeeded."""
    return core.run_outcome(state or snap.state, failed=snap.failed, unparsed=snap.unparsed)


def outcome_label(result: core.RunOutcome) -> str:
    if result.code == "done_with_failures":
        return t("state.done_with_failures", n=result.problems)
    return state_label(result.code)


def percent(done: int, total: int) -> str:
    """Rounded down, so that 99.6% never reads as 100% while a row is still pending."""
    return f"{math.floor(100 * done / total) if total else 100}%"


def progress_line(snap: core.ProgressSnapshot, result: core.RunOutcome) -> str:
    """The one text every progress bar of a run shows: the sidebar's and the Run page's."""
    return f"{percent(snap.done, snap.total)} · {snap.done:,} / {snap.total:,} · {outcome_label(result)}"


def progress_bar(snap: core.ProgressSnapshot, key: str) -> core.RunOutcome:
    """A run's bar, coloured by how it stands (warning when rows failed). Keyed by run, so a new
    run's bar is a new bar rather than the last one sliding back."""
    result = outcome(snap)
    with st.container(key=f"{key}-{result.tone}-{snap.run_id}"):
        st.progress(snap.fraction, text=progress_line(snap, result))
    return result


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def plain(text: str) -> str:
    """Text from outside (a provider's message, a file or column name) as text: st.error,
    st.warning and friends render Markdown, so a link, an image or an icon code in it must not
    become one."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def input_error_text(exc: InputError) -> str:
    """Core words its errors in English; the ones a user meets most have a translation."""
    key = f"error.{exc.code}"
    if exc.code and key in STRINGS and language() != "en":
        return t(key, **exc.params)
    return str(exc)


def show_input_error(exc: InputError) -> None:
    st.error(plain(input_error_text(exc)), icon=":material/error:")


TONE_COLOURS = {"ok": "#21a366", "warning": "#e8912d", "error": "#d64545"}


def page_style() -> None:
    """The few looks Streamlit has no parameter for: a progress bar coloured by how its run stands
    (its container's key ends in the tone), and no sliding, so a bar shows this tick's value."""
    rules = ["[data-testid=stProgressBarTrack] > div { transition: none !important; }"]
    if language() != "en":
        # Streamlit words its file uploader in English only: hide its words (hidden text is not
        # even in the page's text) and show ours in their place.
        for selector, text in (
            ("[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p", t("data.uploader_button")),
            ("[data-testid=stFileUploaderDropzoneInstructions] span", t("data.uploader_limit", mb=core.MAX_UPLOAD_MB)),
        ):
            rules.append(f"{selector} {{ visibility: hidden; font-size: 0 !important; }}")
            rules.append(f'{selector}::after {{ content: "{text}"; visibility: visible; font-size: 0.875rem; }}')
    for tone, colour in TONE_COLOURS.items():
        rules.append(f'[class*="_bar-{tone}-"] [data-testid=stProgressBarTrack] > div {{ background-color: {colour} !important; }}')
    st.html("<style>" + "\n".join(rules) + "</style>")


def sidebar(page: str = "") -> None:
    with st.sidebar:
        st.segmented_control(
            t("sidebar.language"), options=list(LANGUAGES), format_func=LANGUAGES.get, key="lang", required=True, persist_state="session"
        )
        # The language lives in the URL as its code (?lang=zh), so a shared link opens in it.
        if st.query_params.get("lang") != st.session_state["lang"]:
            st.query_params["lang"] = st.session_state["lang"]
        if page != "run":  # the Run page shows the run itself: one bar, one tick, no disagreement
            sidebar_progress()


def sidebar_progress() -> None:
    run_id = current_run_id()
    if not run_id:
        return
    live = is_live(run_id)

    @st.fragment(run_every=1.0 if live else None)
    def mini() -> None:
        snap = core.run_progress(store(), run_id, runner())
        if snap is None:
            return
        with st.container(border=True, key="sidebar_run"):
            st.caption(t("sidebar.current_run"))
            progress_bar(snap, "sidebar_bar")
            if snap.simulated:
                st.caption(t("common.simulated_badge"))
            st.page_link("app_pages/run.py", label=t("sidebar.open_run"), icon=":material/play_circle:")

    mini()
