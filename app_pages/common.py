"""What every page shares: this tab's session state (data, prompt, keys, current run), the
user it acts for (app_pages/gate.py signs them in), the sidebar, and small drawing helpers. Pages read widgets, call one core function,
and draw; what is decided (the run's settings, which keys, the resume rule) is core's."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

import streamlit as st

import core
from app_pages.gate import access_config, current_user, secret_section
from app_pages.i18n import STRINGS, language, language_picker, t, t_in
from app_pages.messages import cause_text, failure_summary, say  # noqa: F401 - the pages take them from here
from core import InputError, KeyEntry, LoadedTable, RunSpec, RunStore, TableInfo, TemplateProblem
from core import constants as C

DEMO_FILE = core.DEMO_SHEETS["arithmetic"].path  # the classic experiment's sheet (the Compare page's demo)
DEMO_TEMPLATE = core.DEMO_SHEETS["arithmetic"].template


# --- process-wide -------------------------------------------------------------------------------
# Held by core (module singletons behind core.get_runner / core.get_store), not st.cache_resource:
# the runner's one event loop and its key gates must be the same object for every caller in the
# process, core's own defaults (start_run(runner=None)) included, or two runs sharing a key would
# each pace it alone; and a cache that "Clear cache" can empty must not hold the loop live runs
# are on. One holder, so the pages and core can never disagree about which runner is the one.


def store() -> RunStore:
    return core.get_store()


def runner() -> core.Runner:
    return core.get_runner()


def follow_stored_batches() -> None:
    """At the app's start: the batches a restart left unfollowed are polled again (core decides
    which, and with which keys: the server's preset ones, or none for a demo run)."""
    _follow_stored_batches(str(store().data_dir))


# Once per process and data folder: st.cache_resource only guards the call here, it holds nothing
# (the runner and the store stay core's). After "Clear cache" it runs again, which is harmless:
# a run already followed is left alone.
@st.cache_resource(show_spinner=False)
def _follow_stored_batches(data_dir: str) -> int:
    return len(core.follow_batches(store(), runner(), core.server_pool(secret_section("provider"))))


def follow_batch(record: core.RunRecord) -> None:
    """A page opening a batch run that this process does not follow (the app restarted): it is
    followed again, with this tab's keys if it was made with them."""
    if not record.spec.batch or record.status not in (core.RunStatus.RUNNING, core.RunStatus.WAITING_FOR_KEYS):
        return
    if not core.may_act(user(), record):
        return  # someone else's run, shared to look at: its owner's tab (or the server) follows it
    try:
        keys: list[KeyEntry] = pool()[0]
    except InputError:
        keys = []
    core.follow_batches(store(), runner(), keys, run_id=record.id)


def user() -> core.User:
    """Who this session acts for: every core action that changes a run is given it."""
    return current_user()


# --- this tab -----------------------------------------------------------------------------------


def init_state() -> None:
    """Defaults for this tab, set once. Widgets keep their values across pages with
    persist_state="session"; these are the values before the user touched anything."""
    defaults = {
        "template": DEMO_TEMPLATE,
        "system": "",
        "output_mode": "text",
        "output_columns": [],  # the editor's rows: name, type, description, required, choices
        "max_reasks": C.DEFAULT_MAX_REASKS,
        "label_field": "",
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
        "concurrency": C.DEFAULT_CONCURRENCY,
        "auto_concurrency": True,
        "max_attempts": C.DEFAULT_MAX_ATTEMPTS,
        "first_n": C.FORM_FIRST_ROWS,
        "use_cache": True,
        "price_in": None,
        "price_out": None,
        "user_keys": [],
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    migrate_output_settings(st.session_state)
    if "lang" not in st.session_state:
        st.session_state["lang"] = language()  # from ?lang=, so a shared link keeps its language
    if "dataset" not in st.session_state and not restore_from_run(st.query_params.get("run")):
        use_demo_dataset()


def migrate_output_settings(s) -> None:  # type: ignore[no-untyped-def]
    """A tab (or a link) from before output columns: its JSON mode is columns mode now, its
    comma-separated fields text columns in the editor."""
    if s.get("output_mode") == "json":
        fields = [f.strip() for f in str(s.get("json_fields") or "").split(",") if f.strip()]
        if not s.get("output_columns"):
            s["output_columns"] = [{"name": f, "type": "text", "required": True} for f in fields]
        s["output_mode"] = "columns"
    for old in ("json_fields", "json_format"):
        s.pop(old, None)


def restore_from_run(run_id: str | None) -> bool:
    """A reloaded page (a new session) on ?run=... gets that run's table and prompt back, so
    what it shows and what it would run again agree. Keys are never stored, so not those. Only
    the run's owner's (or an admin's): a run shared with the team is looked at, not taken."""
    record = core.visible_run(store(), run_id, user()) if run_id else None
    if record is None or not core.may_act(user(), record):
        return False
    frame = store().load_inputs(record.id)
    info = TableInfo("stored", None, None, None, (), len(frame), len(frame.columns), ())
    set_dataset(LoadedTable(frame, info), record.file_name or record.id)
    st.session_state.update(record.spec.to_settings())
    if record.keys:  # the provider, model and limits the run was made with (never its keys)
        st.session_state.update(core.key_settings(record.keys[0]))
    return True


def use_demo_dataset(sheet: str = "arithmetic") -> None:
    """A demo sheet (core.DEMO_SHEETS: "arithmetic" or "reviews") with the prompt that fits it."""
    chosen = core.demo_sheet(sheet)
    set_dataset(core.load_table(chosen.path.read_bytes(), chosen.file_name), chosen.file_name, demo=chosen.key)
    # The demo's whole prompt, not half of it: a JSON mode or a system prompt left from another
    # table would make its plain answers fail to parse.
    s = st.session_state
    s["template"], s["system"], s["label_column"] = chosen.template_in(language()), "", chosen.label_column
    s["output_mode"], s["output_columns"], s["label_field"] = "text", [], ""


def set_dataset(table: LoadedTable, name: str, *, demo: str | bool = False) -> None:
    """`demo` is the demo sheet's key (core.DEMO_SHEETS), False for the user's own table."""
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
    return RunSpec.from_settings(st.session_state, free=bool(entries) and all(e.simulated for e in entries))


def presets_usable() -> bool:
    """Keys preset on the server are spent only by signed-in users: with access off, anyone who
    can reach the page could spend them, so they are not used at all."""
    try:
        return access_config().on and not user().local
    except core.InputError:
        return False


def configure_outbound() -> None:
    """Hosted mode's outbound check, from [hosting] in secrets.toml and the environment (core reads
    them). A broken allow list is said on every page, and the check stays on with nothing allowed:
    a typo must not open the server's network to its visitors."""
    try:
        core.configure_outbound(core.policy_from_settings(secret_section("hosting"), os.environ))
    except InputError as exc:
        core.configure_outbound(core.OutboundPolicy(check_urls=True))
        show_input_error(exc)


def preset_pool() -> list[KeyEntry]:
    """Keys preset by the server, usable once signed in (never with access off)."""
    return server_keys() if presets_usable() else []


def server_keys() -> list[KeyEntry]:
    """Keys preset by the server (secrets.toml or environment), so a demo never shows one."""
    s = st.session_state
    return core.server_pool(secret_section("provider"), rpm=s.get("rpm"), shared_limit=bool(s.get("shared_limit")))


def pool() -> tuple[list[KeyEntry], core.KeySource]:
    """The keys a run will use and where they come from (core.pool_from_settings decides). A
    provider that needs a key, with none given, is an InputError the Run page says, offering the
    demo as a choice of its own."""
    return core.pool_from_settings(st.session_state, preset=preset_pool)


def use_simulated_provider() -> None:
    """The demo, chosen: the simulated provider with its own limits."""
    preset = core.PROVIDER_PRESETS[core.SIMULATED_PROVIDER]
    st.session_state["provider"], st.session_state["base_url"], st.session_state["model"] = preset.label, preset.base_url, preset.model
    st.session_state["rpm"] = None  # Auto: the simulator says its limits in headers, as OpenAI does


# --- the current run ------------------------------------------------------------------------------


def current_run_id() -> str | None:
    """The run this tab shows: from the URL (?run=...) so that a reload or another tab finds it;
    only one this user may see (its owner unshared it meanwhile: it is no longer shown)."""
    from_url = st.query_params.get("run")
    if from_url and from_url != st.session_state.get("run_id"):
        if core.visible_run(store(), from_url, user()) is not None:
            st.session_state["run_id"] = from_url
    run_id = st.session_state.get("run_id")
    if run_id and not user().admin and core.visible_run(store(), run_id, user()) is None:
        run_id = st.session_state["run_id"] = None
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
    return settings_line(
        current["name"] if current else None, rows, provider, model, len(entries), entries[0].rpm if entries else s["rpm"], bool(s["use_cache"])
    )


def run_line(record: core.RunRecord) -> str:
    """What a stored run was made with."""
    key = record.keys[0] if record.keys else None
    provider = (core.SIMULATED_PROVIDER if key.simulated else key.provider) if key else "–"
    return settings_line(None, record.n_rows, provider, key.model if key else "–", len(record.keys), key.rpm if key else 0, record.spec.use_cache)


def owner_label(owner: str) -> str:
    """Whose a run is, as History shows it: the user's id, or "local user" (text: plain() it for Markdown)."""
    return owner or t("access.owner_local")


def share_toggle(kind: str, item: core.RunRecord | core.ComparisonRecord) -> None:
    """The owner's "Share with the team" switch (only with access on: alone, there is no team)."""
    if user().local or not core.may_act(user(), item):
        return

    def changed() -> None:
        share = core.share_run if kind == "run" else core.share_comparison
        share(store(), item.id, bool(st.session_state[f"share_{kind}_{item.id}"]), user())

    st.toggle(t("access.share"), value=item.shared, key=f"share_{kind}_{item.id}", on_change=changed, help=t("access.share_help"))


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
    if language() == "en":
        return str(exc)
    params = dict(exc.params)
    variant = params.pop("variant", None)  # a Compare variant's own error: said with its name
    key = f"error.{exc.code}"
    if exc.code == "template":
        text = " ".join(problem_text(p) for p in params.get("problems", ()))
    elif exc.code and key in STRINGS:
        text = t(key, **params)
    else:
        return str(exc)
    return f"{variant}：{text}" if variant else text


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
        language_picker()
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
