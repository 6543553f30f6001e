"""Run: limits, an estimate, start; then live progress, controls, results and downloads."""

from __future__ import annotations

import functools
import time

import pandas as pd
import streamlit as st

import core
from app_pages import charts, leases_view
from app_pages.common import (
    current_run_id,
    dataset,
    failure_summary,
    fmt_money,
    follow_batch,
    input_error_text,
    is_live,
    new_run_line,
    owner_label,
    plain,
    pool,
    progress_bar,
    run_line,
    runner,
    say,
    share_toggle,
    short,
    show_input_error,
    show_run,
    spec,
    store,
    template_problems,
    use_simulated_provider,
    user,
    worded_choice,
)
from app_pages.i18n import language, pace_text, t, t_in
from app_pages.results import shown_results
from core import RunStatus
from core import constants as C

KEEP = "session"
TABLE_ROWS = C.FORM_TABLE_ROWS  # rows drawn on the page; downloads always have every row

st.title(t("run.title"))


def start(first_rows: int | None) -> None:
    current = dataset()
    try:
        entries, _ = pool()
        batch = st.session_state.get("run_mode") == "batch" and bool(entries) and core.batch_supported(entries[0].provider)
        handle = core.start_run(
            store(),
            current["table"].frame,
            spec(entries).replace(batch=batch),
            entries,
            file_name=current["name"],
            first_rows=first_rows,
            runner=runner(),
            user=user(),
        )
    except core.InputError as exc:
        st.session_state["start_error"] = input_error_text(exc)
        return
    st.session_state.pop("start_error", None)
    st.session_state.pop("action_error", None)
    show_run(handle.run_id)


def mode_label(mode: str, lang: str) -> str:
    return t_in(lang, f"run.mode.{mode}")


def flash(key: str) -> str | None:
    """An answer to a click, shown once where the button is: the next rerun no longer has it."""
    return st.session_state.pop(key, None)


# --- settings and start ---------------------------------------------------------------------------

current = dataset()


def live_state(run_id: str | None) -> str | None:
    """The state of this tab's run if it is going in this process (paused counts), else None. A
    run of someone else's shared with the team is only looked at: it keeps no start button busy."""
    handle = runner().going(run_id) if run_id else None
    if handle is None:
        return None
    record = store().get_run(handle.run_id, counts=False)
    return handle.snapshot().state if record is not None and core.may_act(user(), record) else None


busy_state = live_state(st.session_state.get("run_id"))
with st.container(border=True, key="run_settings"):
    st.subheader(t("run.new_run"))
    try:
        entries, source = pool()
        pool_error = None
    except core.InputError as exc:  # said below, where the run would start
        entries, source, pool_error = [], "", exc
    # What a new run would use, in a line: the file, the provider and model, the keys and their
    # requests/min (set on the Keys page only), the cache. After a reload this is the run's own.
    st.caption(new_run_line(entries))
    s1, s2 = st.columns(2)
    s1.slider(t("run.concurrency"), 1, C.MAX_CONCURRENCY, key="concurrency", persist_state=KEEP, help=t("run.concurrency_help"))
    s1.checkbox(t("run.auto_concurrency"), key="auto_concurrency", persist_state=KEEP, help=t("run.auto_concurrency_help"))
    s2.slider(t("run.max_attempts"), 1, C.FORM_MAX_ATTEMPTS, key="max_attempts", persist_state=KEEP, help=t("run.max_attempts_help"))
    with st.expander(t("run.more_settings"), icon=":material/tune:"):
        p1, p2 = st.columns(2)
        known_in, known_out = core.MODEL_PRICES.get(entries[0].model if entries else st.session_state["model"], (0.0, 0.0))
        # Empty means the built-in price of the model; a number is the user's own.
        free = source == core.KeySource.SIMULATED  # the simulated provider costs nothing, whatever is typed here
        for box, name, known in ((p1, "price_in", known_in), (p2, "price_out", known_out)):
            box.number_input(
                t(f"run.{name}"), min_value=0.0, step=0.05, format="%.4f", key=name, placeholder=f"{known:.4f}", persist_state=KEEP,
                help=t("run.price_help"), disabled=free,
            )  # fmt: skip
        if free:
            st.caption(t("run.price_free"))
        st.checkbox(t("run.use_cache"), key="use_cache", persist_state=KEEP, help=t("run.use_cache_help"))

    ready = False
    problems = template_problems([str(c) for c in current["table"].frame.columns]) if current else []
    if current is None:
        st.info(t("run.no_data"), icon=":material/table:")
    elif problems:
        for text in problems:
            st.error(text, icon=":material/error:")
        st.page_link("app_pages/prompt.py", label=t("run.fix_prompt"), icon=":material/edit_note:")
    else:
        try:
            if pool_error is not None:
                raise pool_error
            run_spec = spec(entries)
            core.validate_run(current["table"].frame, run_spec, entries)
            ready = True
        except core.InputError as exc:
            show_input_error(exc)
            if exc.code == "needs_key":
                d = st.container(horizontal=True, vertical_alignment="center")
                d.page_link("app_pages/keys.py", label=t("run.go_to_keys"), icon=":material/key:")
                d.button(t("run.use_demo"), key="use_demo_provider", on_click=use_simulated_provider, icon=":material/science:")
    if ready:
        frame = current["table"].frame
        # Output tokens from what a test run of this prompt and model measured, if one ran.
        measured = core.measured_output(store(), run_spec, entries[0].model, [str(c) for c in frame.columns], user=user())
        est = core.estimate_run(frame, run_spec, entries, measured=measured)
        e1, e2, e3, e4 = st.columns(4)
        e1.metric(t("run.est_requests"), f"{est.requests:,}")
        e2.metric(t("run.est_tokens"), f"{est.tokens_in + est.tokens_out:,}", help=t("run.est_tokens_help", tin=est.tokens_in, tout=est.tokens_out))
        if source == core.KeySource.SIMULATED:  # nothing is paid: a $0 that could be read as a real price is not shown
            e3.metric(t("run.est_cost"), t("sim.cost_value"), t("sim.cost_note"), delta_color="off", delta_arrow="off", help=t("sim.cost_help"))
        else:
            e3.metric(t("run.est_cost"), fmt_money(est.cost), help=t("run.est_cost_help"))
        e4.metric(t("run.est_time"), core.clock(est.seconds), help=t(f"run.limited_by.{est.limited_by}", keys=len(entries)))
        st.caption(t(f"run.est_basis.{est.out_basis}", n=est.sample, per=est.out_per_row), help=t("run.est_basis_help"))
        if core.batch_supported(entries[0].provider):
            costs = core.batch_cost(est.cost)
            window = t(f"run.window.{costs.window}")
            # Worded in the page's language, keeping the choice across a switch (see worded_choice).
            worded_choice(
                st.radio, t("run.mode"), ["now", "batch"], format_func=functools.partial(mode_label, lang=language()), key="run_mode",
                horizontal=True, persist_state=KEEP, help=t("run.mode_help", window=window),
            )  # fmt: skip
            st.caption(t("run.batch_costs", now=fmt_money(costs.now), batch=fmt_money(costs.batch), window=window))
            if entries[0].provider not in core.PROVIDER_PRESETS and st.session_state.get("run_mode") == "batch":
                st.caption(t("run.mode_custom"))
        if source == core.KeySource.SIMULATED:
            st.caption(t("common.simulated_note"))
        # One run at a time from a tab: a second click must not pay for the same rows again.
        busy = busy_state is not None
        b1, b2, b3 = st.columns([1, 1, 2], vertical_alignment="bottom")
        first_n = b1.number_input(t("run.first_n"), min_value=1, max_value=max(1, est.requests), key="first_n", persist_state=KEEP)
        b2.button(
            t("run.test_first", n=int(first_n)), key="run_test", on_click=start, args=(int(first_n),), icon=":material/science:", width="stretch", disabled=busy
        )
        b3.button(
            t("run.run_all", n=est.requests),
            key="run_all",
            on_click=start,
            args=(None,),
            type="primary",
            icon=":material/play_arrow:",
            width="stretch",
            disabled=busy,
        )
        if busy:
            st.caption(t("run.busy_paused" if busy_state == RunStatus.PAUSED else "run.busy"))
        st.page_link("app_pages/compare.py", label=t("run.compare_link"), icon=":material/compare:")
    start_error = flash("start_error")
    if start_error:
        st.error(plain(start_error), icon=":material/error:")

# --- the current run ------------------------------------------------------------------------------

run_id = current_run_id()
if not run_id:
    st.stop()
record = core.visible_run(store(), run_id, user())
if record is None:
    show_run(None)
    st.stop()
mine = core.may_act(user(), record)  # else a run shared with the team: read-only here, and in core

follow_batch(record)  # a batch run nobody follows since a restart is followed again, without Resume
live = is_live(run_id)
elsewhere = not live and core.running_elsewhere(store(), run_id) is not None  # another process runs it: polled from the store
st.divider()
head, badge = st.columns([4, 1], vertical_alignment="center")
head.subheader(t("run.current", name=plain(record.file_name or "–")))
head.caption(f"{t('run.run_id')}: `{run_id}`")
st.caption(t("run.made_with", line=run_line(record), prompt=plain(short(record.spec.template))))
if record.simulated:
    badge.badge(t("common.simulated_badge"), icon=":material/science:", color="orange")
if not mine:
    st.info(t("access.read_only", owner=plain(owner_label(record.owner))), icon=":material/visibility:")
share_toggle("run", record)


def act(action, *args: object) -> None:  # type: ignore[no-untyped-def]
    """A button's action on the run through core, which checks who may; a refusal is said."""
    try:
        action(store(), run_id, user(), runner(), *args)
    except core.InputError as exc:
        st.session_state["action_error"] = {"run_id": run_id, "text": input_error_text(exc), "live": True}


@st.fragment(run_every=1.0 if live or elsewhere else None)
def progress_panel() -> None:
    snap = core.run_progress(store(), run_id, runner())
    if snap is None:
        return
    if elsewhere and not snap.elsewhere:
        st.rerun()  # the other process let go of it: draw the page once more, with its buttons, without polling
    handle = runner().going(run_id)
    if handle is not None and (not live or (mine and (snap.state == RunStatus.PAUSED) != (busy_state == RunStatus.PAUSED))):
        # Resume or Pause was clicked in this fragment, which only reruns itself: redraw the
        # whole page so that polling starts and the note by the start buttons says the truth
        # (a run shared by someone else keeps no start button busy: see live_state).
        st.rerun()
    if live and (handle is None or snap.finished):
        # The run ended: redraw the whole page once, before anything says so, so that the bar,
        # the note by the start buttons and the downloads change together; polling stops.
        st.rerun()
    result = progress_bar(snap, "run_bar")
    if record.spec.batch:
        batch_panel()
    if result.problems:
        causes = core.failure_causes(store(), run_id)
        if causes:
            lines = "\n".join(f"- {plain(line)}" for line in failure_summary(causes))
            (st.error if result.tone == "error" else st.warning)(f"**{t('run.failures_by_cause', n=result.problems)}**\n{lines}", icon=":material/report:")
    m = st.columns(6)
    columns_run = bool(record.spec.columns)  # with output columns, a row answered is valid or invalid
    m[0].metric(t("run.valid" if columns_run else "run.ok"), f"{snap.ok:,}")
    m[1].metric(t("run.failed"), f"{snap.failed if columns_run else snap.failed + snap.unparsed:,}")
    m[2].metric(t("run.pending"), f"{snap.pending:,}")
    moving = handle is not None and snap.state == RunStatus.RUNNING and snap.rows_per_s > 0
    m[3].metric(t("run.speed"), f"{snap.rows_per_s:.1f}/s" if moving else "–", help=t("run.speed_help"))
    m[4].metric(t("run.eta"), core.clock(snap.eta_s) if moving else "–")
    free = snap.simulated or record.simulated  # runs from before the simulator was priced at $0 too
    m[5].metric(t("run.cost"), fmt_money(0.0 if free else snap.cost), help=t("run.projected", cost=fmt_money(0.0 if free else snap.projected_cost)))
    n = st.columns(6)
    n[0].metric(t("run.in_flight"), f"{snap.in_flight:,}")
    n[1].metric(t("run.tokens"), f"{snap.tokens_in + snap.tokens_out:,}")
    n[2].metric(t("run.cached"), f"{snap.cached:,}")
    n[3].metric(t("run.timeouts"), f"{snap.timeouts:,}")
    n[4].metric(t("run.retries"), f"{snap.retries:,}")
    n[5].metric(t("run.accuracy"), f"{snap.accuracy:.1%}" if snap.accuracy is not None else "–")
    if columns_run:
        v = st.columns(6)
        v[0].metric(t("run.invalid"), f"{snap.unparsed:,}")
        v[1].metric(t("run.reasked"), f"{snap.reasked:,}", help=t("run.reasked_help", n=snap.reasks))
    if snap.message and snap.state in (RunStatus.WAITING_FOR_KEYS, RunStatus.FAILED, RunStatus.PAUSED, RunStatus.CANCELLED, RunStatus.FINISHING):
        (st.warning if snap.state != RunStatus.FAILED else st.error)(plain(say(snap.message)))
    if any(k.pace is not None and k.pace.shared == "alone" for k in snap.keys):
        st.warning(t("replicas.redis_down"), icon=":material/cloud_off:")

    c = st.container(horizontal=True, key="run_actions")
    lease = core.running_elsewhere(store(), run_id) if snap.elsewhere else None
    if lease is not None:
        with st.container(key="run_elsewhere"):
            st.info(t("replicas.elsewhere", where=plain(leases_view.where(lease))), icon=":material/dns:")
    elif not mine:
        pass  # looked at, not steered: no buttons (and core refuses the actions anyway)
    elif handle is not None:
        if snap.state in (RunStatus.PAUSED, RunStatus.FINISHING):  # resuming while finishing undoes the cancel
            c.button(t("run.resume"), key="resume_live", on_click=act, args=(core.continue_run,), icon=":material/play_arrow:")
        else:
            c.button(t("run.pause"), key="pause", on_click=act, args=(core.pause_run,), icon=":material/pause:")
        c.button(t("run.cancel"), key="cancel", on_click=act, args=(core.cancel_run,), icon=":material/stop:")
    else:
        if snap.pending:
            c.button(t("run.resume"), key="resume_stored", on_click=resume, icon=":material/play_arrow:")
        if snap.failed and record.spec.batch:
            c.button(t("batch.retry_batch"), key="retry_failed", on_click=resume, args=(True,), icon=":material/replay:")
            c.button(t("batch.retry_now"), key="retry_failed_now", on_click=resume, args=(True, False, True), icon=":material/bolt:")
        elif snap.failed:
            c.button(t("run.retry_failed"), key="retry_failed", on_click=resume, args=(True,), icon=":material/replay:")

    answer = flash("action_error")
    if answer and answer["run_id"] == run_id and (handle is None or answer.get("live")):
        with st.container(key="run_action_answer"):
            st.error(plain(answer["text"]), icon=":material/error:")
            if answer.get("keys"):
                st.page_link("app_pages/keys.py", label=t("run.go_to_keys"), icon=":material/key:")
            if answer.get("other_model"):  # switching model mid-run is a choice, made here and recorded
                st.button(
                    t("run.switch_model"), key="switch_model", on_click=resume, args=(answer.get("retry_failed", False), True), icon=":material/swap_horiz:"
                )
    if snap.keys:
        rows = []
        for k in snap.keys:
            state = k.state
            if state == "cooling" and k.cool_until:
                state = t("run.key_cooling", s=max(0.0, k.cool_until - time.time()))
            else:
                state = t(f"run.key_state.{state}")
            reason = say(k.dead_reason or "") if k.state == "dead" else ""
            rows.append({
                t("keys.col.key"): k.masked, t("keys.col.model"): k.model, t("run.key_state"): state, t("keys.col.pace"): pace_text(k.pace) if k.pace else "",
                t("run.requests"): k.requests, "429": k.rate_limited, t("run.errors"): k.errors, t("run.reason"): reason,
            })  # fmt: skip
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="key_status")
    if snap.recent_errors:
        with st.expander(t("run.recent_errors", n=len(snap.recent_errors)), icon=":material/report:"):
            st.text("\n".join(say(e) for e in snap.recent_errors))


def batch_panel() -> None:
    """The provider's own stages of each batch, from the store: the same in every tab and after a restart."""
    jobs = core.batch_jobs(store(), run_id)
    if not jobs:
        return
    with st.container(border=True, key="batch_panel"):
        st.markdown(f"**{t('batch.title')}**")
        for job in jobs:
            if job.batch_id is None:
                st.caption(t("batch.line_intent", part=job.part + 1, total=len(job.rows)))
                continue
            st.markdown(
                t(
                    "batch.line",
                    part=job.part + 1,
                    state=t(f"batch.state.{job.state}"),
                    done=job.completed,
                    total=job.total,
                    failed=job.failed,
                    batch=job.batch_id,
                )
            )
        polled = max((j.polled_at for j in jobs if j.polled_at), default=None)
        if polled and any(not j.finished for j in jobs):
            # Nobody polls a batch whose run is not going in this app (after a restart, say): no promise of polling then.
            st.caption(t("batch.polled" if live else "batch.polled_idle", at=polled[:19].replace("T", " ")))


def resume(retry_failed: bool = False, switch_model: bool = False, now: bool = False) -> None:
    try:
        try:
            entries: list[core.KeyEntry] | None = pool()[0]
        except core.InputError:
            entries = None  # no keys: resume_run says what is missing
        keys = core.resume_keys(record, entries)  # which keys may continue this run is core's rule
        core.resume_run(store(), run_id, keys, retry_failed=retry_failed, switch_model=switch_model, runner=runner(), now=now, user=user())
    except core.InputError as exc:
        # Said under the button that was pressed (this runs in the fragment that drew it), once:
        # a later visit to the page does not find a stale answer.
        st.session_state["action_error"] = {
            "run_id": run_id, "text": input_error_text(exc), "keys": exc.code in ("keys_again", "no_keys", "needs_key"),
            "other_model": exc.code == "other_model", "retry_failed": retry_failed,
        }  # fmt: skip
        return
    st.session_state.pop("action_error", None)


progress_panel()


@st.fragment(run_every=3.0 if live or elsewhere else None)
def results_panel() -> None:
    if record.simulated:
        st.badge(t("sim.results_badge"), icon=":material/science:", color="orange")
        st.caption(t("sim.results_note"))
    table = store().results_table(run_id, limit=TABLE_ROWS)
    shown, columns = shown_results(table, record)
    st.dataframe(shown, hide_index=True, height=420 if len(table) > 10 else "auto", key="results_table", column_config=columns)
    if record.n_rows > TABLE_ROWS:
        st.caption(t("run.table_note", n=TABLE_ROWS, total=record.n_rows))


@st.fragment(run_every=3.0 if live or elsewhere else None)
def charts_panel() -> None:
    report = core.run_report(store(), run_id)
    batch = record.spec.batch
    if report is None or not ((report.throughput and not batch) or report.causes or report.judged):
        return
    st.subheader(t("charts.title"))
    charts.draw(report, core.run_progress(store(), run_id, runner()), batch=batch)  # a run of this process knows its keys' pace


charts_panel()
st.subheader(t("run.results"))
results_panel()

d = st.columns(4)
for col, (fmt, label) in zip(
    d, [("csv", "run.download_csv"), ("xlsx", "run.download_xlsx"), ("jsonl", "run.download_jsonl"), ("csv-utf8", "run.download_csv_plain")]
):
    mime = core.EXPORT_FORMATS[fmt][1]
    col.download_button(
        t(label),
        data=lambda fmt=fmt: core.export_bytes(store().results_table(run_id), fmt),
        file_name=core.export_file_name(run_id, fmt),
        mime=mime,
        key=f"download_{fmt}",
        icon=":material/download:",
        width="stretch",
        on_click="ignore",
    )
