"""Compare: several prompts and models on the same rows, side by side. Pick the rows, add
variants, run them at once on the shared keys; then one column per variant, the winner, accuracy
against cost, the rows where they differ, and the downloads."""

from __future__ import annotations

import functools
import secrets

import streamlit as st

import core
from app_pages import compare_keys as keys_of_page
from app_pages import compare_view as view
from app_pages import leases_view
from app_pages.common import (
    DEMO_FILE,
    dataset,
    fmt_money,
    input_error_text,
    owner_label,
    plain,
    runner,
    share_toggle,
    show_input_error,
    store,
    user,
    worded_choice,
)
from app_pages.i18n import t

KEEP = "session"
TERSE = "Compute {question}. Reply with the number only."
CAREFUL = "Compute {question} carefully, step by step, and check your result. Reply with the number only."

st.title(t("compare.title"))
st.caption(t("compare.intro"))


# --- the keys: each variant is sent with those of its own provider (app_pages/compare_keys.py) -------

keys_of_page.drop_pasted_keys_of_ended_comparison()
KEYS, KEYS_PAGE_URLS, SOURCE, POOL_ERROR = keys_of_page.compare_keys()
CHOICES = {c.id: c for c in core.provider_choices(KEYS, offer=True)}
DEFAULT_PROVIDER = next(iter(CHOICES))


def choice_label(choice_id: str) -> str:
    return keys_of_page.choice_label(CHOICES[choice_id])


def own_keys_box(prefix: str, choice: core.ProviderChoice) -> None:
    keys_of_page.own_keys_box(prefix, choice, KEYS_PAGE_URLS)


def pasted() -> dict[str, list[str]]:
    return keys_of_page.pasted()


def provider_changed(uid: str) -> None:
    """Another provider: its keys' model, as the Keys page's preset does."""
    s = st.session_state
    s[f"cmp_{uid}_model"] = CHOICES[s[f"cmp_{uid}_provider"]].model


# --- this tab's comparison and variants -------------------------------------------------------------


def current_comparison() -> str | None:
    """The comparison this tab shows: from the URL (?compare=...) so a reload or a second tab finds
    it; only one this user may see (their own, or one shared with the team)."""
    from_url = st.query_params.get("compare")
    if from_url and from_url != st.session_state.get("compare_id") and core.visible_comparison(store(), from_url, user()) is not None:
        st.session_state["compare_id"] = from_url
    cid = st.session_state.get("compare_id")
    if cid and core.visible_comparison(store(), cid, user()) is None:
        cid = st.session_state["compare_id"] = None
    if cid and st.query_params.get("compare") != cid:
        st.query_params["compare"] = cid
    return cid


def show(cid: str | None) -> None:
    st.session_state["compare_id"] = cid
    st.session_state.pop("cmp_rescore", None)  # the next one's own scoring, not this one's
    if cid:
        st.query_params["compare"] = cid


def new_variant(
    template: str, system: str = "", model: str | None = None, name: str | None = None, fields: str = "", provider: str | None = None,
    columns: list | None = None,
) -> str:  # fmt: skip
    """A variant's widgets live under its own id, so removing one never shifts the others."""
    uid = secrets.token_hex(3)
    s = st.session_state
    ids = s.setdefault("cmp_ids", [])
    s[f"cmp_{uid}_name"] = name or chr(ord("A") + len(ids) % 26)
    s[f"cmp_{uid}_template"], s[f"cmp_{uid}_system"] = template, system
    s[f"cmp_{uid}_provider"] = provider if provider in CHOICES else DEFAULT_PROVIDER
    s[f"cmp_{uid}_model"] = model or CHOICES[s[f"cmp_{uid}_provider"]].model
    s[f"cmp_{uid}_set_temperature"], s[f"cmp_{uid}_temperature"], s[f"cmp_{uid}_max_tokens"] = False, 0.0, 0
    s[f"cmp_{uid}_fields"] = fields
    s[f"cmp_{uid}_columns"] = list(columns or [])  # the Prompt page's output columns, typed, when it started from them
    ids.append(uid)
    return uid


def copy_variant(uid: str) -> None:
    s = st.session_state
    new_variant(
        s[f"cmp_{uid}_template"], s[f"cmp_{uid}_system"], s[f"cmp_{uid}_model"], fields=s.get(f"cmp_{uid}_fields", ""), provider=s.get(f"cmp_{uid}_provider"),
        columns=s.get(f"cmp_{uid}_columns"),
    )  # fmt: skip


def remove_variant(uid: str) -> None:
    st.session_state["cmp_ids"] = [i for i in st.session_state["cmp_ids"] if i != uid]


def make_grid() -> None:
    s = st.session_state
    templates = [p.strip() for p in (s.get("cmp_grid_templates") or "").split("\n---\n") if p.strip()]
    models = [m.strip() for m in (s.get("cmp_grid_models") or "").replace("\n", ",").split(",") if m.strip()]
    if not templates:
        s["cmp_answer"] = t("compare.grid_empty")
        return
    provider = s.get("cmp_grid_provider") if s.get("cmp_grid_provider") in CHOICES else DEFAULT_PROVIDER
    s["cmp_ids"] = []
    for v in core.grid(templates, models or [CHOICES[provider].model]):
        new_variant(v.template, "", v.model, v.name, provider=provider)


for _uid in st.session_state.get("cmp_ids", []):
    if st.session_state.get(f"cmp_{_uid}_provider") not in CHOICES:  # its keys were removed on the Keys page
        st.session_state[f"cmp_{_uid}_provider"] = DEFAULT_PROVIDER
        provider_changed(_uid)

if not st.session_state.get("cmp_ids"):
    # Start from the Prompt page's prompt, as the Run page's "compare" link promises.
    s0 = st.session_state
    new_variant(s0.get("template") or TERSE, s0.get("system") or "", columns=s0.get("output_columns") if s0.get("output_mode") == "columns" else None)


def variants() -> list[core.Variant]:
    s = st.session_state
    out = []
    for uid in s["cmp_ids"]:
        c = CHOICES[s[f"cmp_{uid}_provider"]]
        out.append(core.Variant(
            name=s[f"cmp_{uid}_name"], template=s[f"cmp_{uid}_template"], system=s[f"cmp_{uid}_system"] or None, provider=c.provider, base_url=c.base_url,
            model=s[f"cmp_{uid}_model"] or "simulated", temperature=s[f"cmp_{uid}_temperature"] if s[f"cmp_{uid}_set_temperature"] else None,
            max_tokens=int(s[f"cmp_{uid}_max_tokens"]) or None, columns=core.columns_from_rows(s.get(f"cmp_{uid}_columns") or []),
            json_fields=() if s.get(f"cmp_{uid}_columns") else tuple(f.strip() for f in (s.get(f"cmp_{uid}_fields") or "").split(",")),
        ))  # fmt: skip
    return out


def scoring() -> core.Scoring:
    s = st.session_state
    mode = s.get("cmp_score_mode", "exact")
    if mode == "numeric":
        return core.Scoring("numeric", tolerance=float(s.get("cmp_tolerance") or 0.0))
    if mode == "oneof":
        return core.Scoring("oneof", classes=tuple((s.get("cmp_classes") or "").split(",")))
    if mode == "regex":
        return core.Scoring("regex", pattern=s.get("cmp_pattern") or "", case_sensitive=bool(s.get("cmp_case")))
    return core.Scoring(mode, case_sensitive=bool(s.get("cmp_case")))


def judge_choice() -> core.ProviderChoice:
    s = st.session_state
    if s.get("cmp_judge_provider") not in CHOICES:
        s["cmp_judge_provider"] = DEFAULT_PROVIDER
        s["cmp_judge_model"] = CHOICES[DEFAULT_PROVIDER].model
    return CHOICES[s["cmp_judge_provider"]]


def judge_provider_changed() -> None:
    st.session_state["cmp_judge_model"] = CHOICES[st.session_state["cmp_judge_provider"]].model


def judge() -> core.Judge | None:
    """The judge of a comparison scored by one: its provider, model and rubric (never its keys)."""
    s = st.session_state
    if s.get("cmp_score_mode") != "judge":
        return None
    c = judge_choice()
    return core.Judge(c.provider, c.base_url, "simulated" if c.simulated else s.get("cmp_judge_model") or "", s.get("cmp_judge_rubric") or "")


def base_spec(label: str | None, free: bool) -> core.RunSpec:
    s = st.session_state
    return core.RunSpec(
        template="-", label_column=label or None, concurrency=int(s["concurrency"]), auto_concurrency=bool(s["auto_concurrency"]),
        max_attempts=int(s["max_attempts"]), use_cache=bool(s["use_cache"]),
        price_in=None if free else s["price_in"], price_out=None if free else s["price_out"],
    )  # fmt: skip


def selection() -> core.RowSelection:
    s = st.session_state
    mode = s.get("cmp_rows_mode", "all")
    return core.RowSelection(mode, int(s.get("cmp_rows_n") or 1) if mode != "all" else None, int(s.get("cmp_seed") or 0))


def start(frame, file_name: str, chosen: list[core.Variant], keys, base: core.RunSpec) -> None:  # type: ignore[no-untyped-def]
    try:
        record = core.start_comparison(
            store(),
            frame,
            chosen,
            keys,
            base=base,
            selection=selection(),
            scoring=scoring(),
            file_name=file_name,
            judge=judge(),
            runner=runner(),
            user=user(),
        )
    except core.InputError as exc:
        st.session_state["cmp_answer"] = input_error_text(exc)
        return
    st.session_state.pop("cmp_answer", None)
    if pasted():
        st.session_state["cmp_keys_for"] = record.id  # the pasted keys are this comparison's: dropped when it ends
    show(record.id)


def classic_experiment() -> None:
    """The seed article's experiment on the simulated provider: a terse prompt and a careful one."""
    table = core.load_table(DEMO_FILE.read_bytes(), DEMO_FILE.name)
    chosen = [core.Variant(t("compare.demo.terse_name"), TERSE), core.Variant(t("compare.demo.careful_name"), CAREFUL)]
    base = core.RunSpec(template="-", label_column="answer", concurrency=16, auto_concurrency=True)
    record = core.start_comparison(
        store(), table.frame, chosen, core.demo_pool(4), base=base, name=t("compare.demo.name"), file_name=DEMO_FILE.name, runner=runner(), user=user()
    )
    show(record.id)


# --- the comparison shown ---------------------------------------------------------------------------

cid = current_comparison()
shown_progress = core.comparison_progress(store(), cid, runner()) if cid else None
live = bool(shown_progress and shown_progress.live)
elsewhere = bool(shown_progress and shown_progress.elsewhere)  # another process runs it: polled from the store
with st.container(border=True, key="cmp_demo"):
    d1, d2 = st.columns([5, 2], vertical_alignment="center")
    d1.markdown(f"**{t('compare.demo.title')}**")
    d1.caption(t("compare.demo.text"))
    d2.button(
        t("compare.demo.button"),
        key="cmp_classic",
        on_click=classic_experiment,
        icon=":material/science:",
        type="primary" if cid is None else "secondary",
        width="stretch",
        disabled=live,
    )
    d2.badge(t("common.simulated_badge"), icon=":material/science:", color="orange")

if cid:
    record = core.visible_comparison(store(), cid, user())
    assert record is not None
    mine = core.may_act(user(), record)  # else shared with the team: looked at, not steered (core refuses too)
    st.subheader(t("compare.current", name=plain(record.name or record.file_name or cid)))
    st.caption(t("compare.current_line", id=cid, n=record.n_rows, variants=len(record.variants), score=plain(record.scoring.describe())))
    if record.simulated:
        st.caption(t("compare.simulated_note"))
    if not mine:
        st.info(t("access.read_only", owner=plain(owner_label(record.owner))), icon=":material/visibility:")
    share_toggle("comparison", record)

    def act(action) -> None:  # type: ignore[no-untyped-def]
        try:
            action(store(), cid, runner(), user())
        except core.InputError as exc:
            st.session_state["cmp_action_answer"] = input_error_text(exc)

    @st.fragment(run_every=1.0 if live or elsewhere else None)
    def live_panel() -> None:
        progress = core.comparison_progress(store(), cid, runner())
        if progress is None:
            return
        data = core.compare_table(store(), cid, runner=runner())
        st.progress(progress.fraction, text=f"{progress.done:,} / {progress.total:,} · {t('state.' + progress.state)}")
        view.verdict_line(data, not progress.live)
        view.variant_columns(data, progress, record.simulated)
        if record.judge is not None:
            view.judge_panel(data, progress)
        c = st.container(horizontal=True, key="cmp_actions")
        lease = next((le for r in record.run_ids if (le := core.running_elsewhere(store(), r)) is not None), None) if progress.elsewhere else None
        if lease is not None:
            st.info(t("replicas.compare_elsewhere", where=plain(leases_view.where(lease))), icon=":material/dns:")
        elif not mine:
            pass
        elif progress.live:
            if progress.state == "paused":
                c.button(t("run.resume"), key="cmp_continue", on_click=act, args=(core.continue_comparison,), icon=":material/play_arrow:")
            else:
                c.button(t("run.pause"), key="cmp_pause", on_click=act, args=(core.pause_comparison,), icon=":material/pause:")
            c.button(t("run.cancel"), key="cmp_cancel", on_click=act, args=(core.cancel_comparison,), icon=":material/stop:")
        else:
            if progress.pending:
                c.button(t("run.resume"), key="cmp_resume", on_click=resume, icon=":material/play_arrow:")
            if progress.failed:
                c.button(t("run.retry_failed"), key="cmp_retry", on_click=resume, args=(True,), icon=":material/replay:")
        answer = st.session_state.pop("cmp_action_answer", None)
        if answer:
            st.error(plain(answer), icon=":material/error:")
        view.charts(data, record.simulated)
        if (live and not progress.live) or (elsewhere and not progress.elsewhere):
            st.rerun()  # it ended: draw the page once more, without polling

    def resume(retry_failed: bool = False) -> None:
        # The keys as they are now: some may have been pasted since the page was drawn.
        real = [k for k in keys_of_page.compare_keys()[0] if not k.simulated]  # the simulated variants need none
        try:
            core.resume_comparison(store(), cid, real or None, retry_failed=retry_failed, runner=runner(), user=user())
        except core.InputError as exc:
            st.session_state["cmp_action_answer"] = input_error_text(exc)
            return
        if pasted():
            st.session_state["cmp_keys_for"] = cid

    def rescore() -> None:
        try:
            core.rescore_comparison(store(), cid, core.Scoring.parse(st.session_state.get("cmp_rescore") or "exact"), user())
        except core.InputError as exc:
            st.session_state["cmp_rescore_answer"] = input_error_text(exc)

    live_panel()

    # Keys are never kept: to resume, the providers this tab has no keys for are asked for them.
    stopped = None if live else core.comparison_progress(store(), cid, runner())
    if mine and stopped is not None and (stopped.pending or stopped.failed):
        for i, choice in enumerate(keys_of_page.keyless_providers(record, KEYS, CHOICES)):
            own_keys_box(f"cmp_resume_{i}", choice)

    @st.fragment(run_every=3.0 if live or elsewhere else None)
    def rows_panel() -> None:
        st.subheader(t("compare.rows_title"))
        view.row_view(core.compare_table(store(), cid, runner=runner()))

    rows_panel()
    view.downloads(cid)
    if mine:  # scoring another way changes what the owner's comparison says
        with st.expander(t("compare.rescore", score=plain(record.scoring.describe())), icon=":material/rule:"):
            st.session_state.setdefault("cmp_rescore", record.scoring.describe())
            st.text_input(t("compare.rescore_as"), key="cmp_rescore", help=t("compare.rescore_help"))
            st.button(t("compare.rescore_button"), key="cmp_rescore_go", on_click=rescore, icon=":material/rule:")
            rescore_answer = st.session_state.pop("cmp_rescore_answer", None)
            if rescore_answer:
                st.error(plain(rescore_answer), icon=":material/error:")
    st.divider()

# --- a new comparison -------------------------------------------------------------------------------

with st.expander(t("compare.new"), expanded=cid is None, icon=":material/add_circle:"):
    current = dataset()
    if current is None:
        st.info(t("run.no_data"), icon=":material/table:")
        st.stop()
    frame = current["table"].frame
    columns = [str(c) for c in frame.columns]
    keys, source = KEYS, SOURCE
    keyed = [choice_label(c) for c, choice in CHOICES.items() if choice.n_keys or choice.simulated]
    st.caption(t("compare.data_line", file=plain(current["name"]), rows=len(frame), providers=plain(", ".join(keyed))))
    if POOL_ERROR is not None:  # the Keys page's provider has no key yet: the simulated provider still works
        st.warning(t("compare.keys_missing", problem=plain(input_error_text(POOL_ERROR))), icon=":material/key:")

    r1, r2, r3 = st.columns([2, 1, 1])
    modes = list(core.SELECTION_MODES)
    worded_choice(r1.selectbox, t("compare.rows"), modes, key="cmp_rows_mode", format_func=lambda m: t(f"compare.rows.{m}"))
    st.session_state.setdefault("cmp_rows_n", min(50, len(frame)))
    r2.number_input(
        t("compare.rows_n"),
        min_value=1,
        max_value=max(1, len(frame)),
        key="cmp_rows_n",
        persist_state=KEEP,
        disabled=st.session_state["cmp_rows_mode"] == "all",
    )
    st.session_state.setdefault("cmp_seed", 0)
    r3.number_input(
        t("compare.seed"),
        min_value=0,
        step=1,
        key="cmp_seed",
        persist_state=KEEP,
        disabled=st.session_state["cmp_rows_mode"] != "random",
        help=t("compare.seed_help"),
    )

    g1, g2 = st.columns([1, 2])
    label_options = [""] + columns
    if st.session_state.get("cmp_label") not in label_options:
        st.session_state["cmp_label"] = "answer" if "answer" in columns else (st.session_state.get("label_column") or "")
    g1.selectbox(t("compare.label"), label_options, key="cmp_label", format_func=lambda c: c or t("compare.no_label"), persist_state=KEEP)
    score_modes = list(core.SCORING_MODES)
    with g2:
        s1, s2 = st.columns(2)
        mode = worded_choice(s1.selectbox, t("compare.score"), score_modes, key="cmp_score_mode", format_func=lambda m: t(f"compare.score.{m}"))
        if mode == "numeric":
            st.session_state.setdefault("cmp_tolerance", 0.0)
            s2.number_input(t("compare.tolerance"), min_value=0.0, step=0.01, format="%.4f", key="cmp_tolerance", persist_state=KEEP)
        elif mode == "oneof":
            s2.text_input(t("compare.classes"), key="cmp_classes", placeholder="positive, negative, neutral", persist_state=KEEP)
        elif mode == "regex":
            s2.text_input(t("compare.pattern"), key="cmp_pattern", placeholder="answer: *{label}", persist_state=KEEP, help=t("compare.pattern_help"))
        if mode in ("exact", "contains", "regex"):
            s2.checkbox(t("compare.case"), key="cmp_case", persist_state=KEEP)
    if mode == "judge":
        with st.container(border=True, key="cmp_judge"):
            st.markdown(f"**{t('compare.judge.title')}**")
            st.caption(t("compare.judge.caption"))
            picked_judge = judge_choice()
            j1, j2 = st.columns([1, 2])
            worded_choice(
                j1.selectbox, t("keys.provider"), list(CHOICES), key="cmp_judge_provider", format_func=choice_label, on_change=judge_provider_changed,
                persist_state=KEEP,
            )  # fmt: skip
            picked_judge = judge_choice()
            j2.text_input(
                t("compare.judge.model"), key="cmp_judge_model", persist_state=KEEP, disabled=picked_judge.simulated,
                help=t("compare.models_help", models=", ".join(picked_judge.models)) if picked_judge.models and not picked_judge.simulated else None,
            )  # fmt: skip
            st.text_area(
                t("compare.judge.rubric"), key="cmp_judge_rubric", height=80, persist_state=KEEP, placeholder=t("compare.judge.rubric_placeholder"),
                help=t("compare.judge.rubric_help"),
            )  # fmt: skip
            own_keys_box("cmp_judge", picked_judge)

    st.markdown(f"**{t('compare.variants')}**")
    ids = list(st.session_state["cmp_ids"])
    for start_at in range(0, len(ids), 2):
        cols = st.columns(2)
        for col, uid in zip(cols, ids[start_at : start_at + 2]):
            with col.container(border=True, key=f"cmp_edit_{uid}"):
                n1, n2 = st.columns([1, 2])
                n1.text_input(t("compare.variant_name"), key=f"cmp_{uid}_name", persist_state=KEEP)
                worded_choice(  # its words follow the language (a plain selectbox kept the first language's)
                    n2.selectbox, t("keys.provider"), list(CHOICES), key=f"cmp_{uid}_provider", format_func=choice_label,
                    on_change=functools.partial(provider_changed, uid), persist_state=KEEP,
                )  # fmt: skip
                picked = CHOICES[st.session_state[f"cmp_{uid}_provider"]]
                st.text_input(
                    t("keys.col.model"), key=f"cmp_{uid}_model", persist_state=KEEP, disabled=picked.simulated,
                    help=t("compare.models_help", models=", ".join(picked.models)) if picked.models and not picked.simulated else None,
                )  # fmt: skip
                own_keys_box(f"cmp_{uid}", picked)
                st.text_area(t("prompt.template"), key=f"cmp_{uid}_template", height=110, persist_state=KEEP)
                st.text_input(t("prompt.system"), key=f"cmp_{uid}_system", persist_state=KEEP, placeholder=t("prompt.system_placeholder"))
                typed = st.session_state.get(f"cmp_{uid}_columns") or []
                if typed:  # the Prompt page's columns, with their types: named here, edited there
                    st.caption(t("compare.columns_from_prompt", names=", ".join(str(r.get("name")) for r in typed)))
                else:
                    st.text_input(t("compare.fields"), key=f"cmp_{uid}_fields", persist_state=KEEP, placeholder="reason, answer", help=t("compare.fields_help"))
                m1, m2, m3 = st.columns([1, 1, 1], vertical_alignment="bottom")
                m1.checkbox(t("compare.set_temperature"), key=f"cmp_{uid}_set_temperature", persist_state=KEEP)
                m2.number_input(
                    t("compare.temperature"),
                    0.0,
                    2.0,
                    step=0.1,
                    key=f"cmp_{uid}_temperature",
                    persist_state=KEEP,
                    disabled=not st.session_state[f"cmp_{uid}_set_temperature"],
                )
                m3.number_input(
                    t("compare.max_tokens"), 0, 100_000, step=50, key=f"cmp_{uid}_max_tokens", persist_state=KEEP, help=t("compare.max_tokens_help")
                )
                b = st.container(horizontal=True)
                b.button(t("compare.copy"), key=f"cmp_copy_{uid}", on_click=copy_variant, args=(uid,), icon=":material/content_copy:")
                if len(ids) > 1:
                    b.button(t("compare.remove"), key=f"cmp_remove_{uid}", on_click=remove_variant, args=(uid,), icon=":material/delete:")
    with st.popover(t("compare.grid"), icon=":material/grid_on:"):
        st.text_area(t("compare.grid_templates"), key="cmp_grid_templates", height=150, help=t("compare.grid_templates_help"))
        if st.session_state.get("cmp_grid_provider") not in CHOICES:
            st.session_state["cmp_grid_provider"] = DEFAULT_PROVIDER
        worded_choice(st.selectbox, t("compare.grid_provider"), list(CHOICES), key="cmp_grid_provider", format_func=choice_label, persist_state=KEEP)
        st.text_input(t("compare.grid_models"), key="cmp_grid_models", placeholder="gpt-4o-mini, gpt-4o")
        st.button(t("compare.grid_make"), key="cmp_make_grid", on_click=make_grid, icon=":material/grid_on:")

    try:
        chosen = variants()
        base = base_spec(st.session_state.get("cmp_label"), source == "simulated")
        score = scoring()
        grader = judge()
        rows, part = core.select_rows(frame, selection())
        core.validate_comparison(part, chosen, keys, base, score, grader)
        ready = True
    except core.InputError as exc:
        show_input_error(exc)
        ready = False
    if ready:
        est = core.estimate_comparison(part, chosen, keys, base, grader)
        e = st.columns(4)
        e[0].metric(t("run.est_requests"), f"{est.requests:,}", help=t("compare.est_requests_help", n=len(chosen), rows=len(rows)))
        e[1].metric(t("run.est_tokens"), f"{est.tokens_in + est.tokens_out:,}", help=t("run.est_tokens_help", tin=est.tokens_in, tout=est.tokens_out))
        e[2].metric(t("run.est_cost"), fmt_money(est.cost), help=t("run.est_cost_help"))  # the simulated variants' is 0
        e[3].metric(t("run.est_time"), core.clock(est.seconds), help=t("compare.est_time_help"))
        if est.judge is not None and grader is not None:
            judge_cost = fmt_money(0.0 if grader.simulated else est.judge.cost)
            st.caption(t("compare.est_judge", requests=est.judge.requests, tokens=est.judge.tokens_in + est.judge.tokens_out, cost=judge_cost))
        if any(v.simulated for v in chosen) or (grader is not None and grader.simulated):
            st.caption(t("common.simulated_note"))
        st.button(
            t("compare.run", n=len(chosen), rows=len(rows)), key="cmp_run", type="primary", icon=":material/play_arrow:",
            on_click=start, args=(frame, current["name"], chosen, keys, base), disabled=bool(cid and live),
        )  # fmt: skip
    answer = st.session_state.pop("cmp_answer", None)
    if answer:
        st.error(plain(answer), icon=":material/error:")
