"""History: past runs with their outcome (the user's own, and those shared with the team); open,
download, share or delete one; clear the response cache."""

from __future__ import annotations

import functools
import zlib

import pandas as pd
import streamlit as st

import core
from app_pages import compare_view
from app_pages.common import (
    TONE_COLOURS,
    fmt_money,
    input_error_text,
    outcome,
    outcome_label,
    owner_label,
    plain,
    runner,
    share_toggle,
    short,
    show_run,
    store,
    user,
)
from app_pages.i18n import t

st.title(t("history.title"))


def clear_cache() -> None:
    st.session_state["history_cache_answer"] = t("access.cache_cleared", n=core.clear_cache(store(), user()))


def cache_section() -> None:
    """The user's response cache: how big, and a way to forget it."""
    cached = core.cache_size(store(), user())
    answer = st.session_state.pop("history_cache_answer", None)
    if not cached and not answer:
        return
    row = st.container(horizontal=True, vertical_alignment="center", key="history_cache")
    row.caption(t("access.cache_line", n=cached))
    if cached:
        with row.popover(t("access.clear_cache"), icon=":material/delete_sweep:"):
            st.write(t("access.clear_cache_confirm", n=cached))
            st.button(t("access.clear_cache_yes"), key="history_clear_cache", type="primary", on_click=clear_cache)
    if answer:
        st.success(answer, icon=":material/delete_sweep:")


compare_view.history_section()  # comparisons first: each is a few of the runs below

records = core.visible_runs(store(), user())
hosted = not user().local  # with access on, whose each run is, and whether it is shared
if not records:
    st.info(t("history.empty"), icon=":material/history:")
    cache_section()
    st.stop()


def kind(r: core.RunRecord) -> str:
    return t("history.kind.test", n=r.n_rows, total=r.spec.test_of) if r.spec.test_of else t("history.kind.full", n=r.n_rows)


def model(r: core.RunRecord) -> str:
    return t("common.simulated_badge") if r.simulated else (r.keys[0].model if r.keys else "–")


outcomes = [outcome(r, core.effective_status(r, runner())) for r in records]
rows = [
    {
        t("history.col.date"): pd.Timestamp(r.created_at).tz_convert(None).strftime("%Y-%m-%d %H:%M"),
        t("history.col.file"): r.file_name,
        t("history.col.status"): outcome_label(result),
        t("history.col.succeeded"): r.ok / r.n_rows if r.n_rows else 0.0,
        t("history.col.failed"): r.failed + r.unparsed,
        t("history.col.kind"): kind(r),
        t("history.col.model"): model(r),
        t("history.col.prompt"): short(r.spec.template, 48),
        t("history.col.cost"): fmt_money(0.0 if r.simulated else r.cost),
        **({t("history.col.owner"): owner_label(r.owner), t("history.col.shared"): "✓" if r.shared else ""} if hosted else {}),
        t("history.col.id"): r.id,
    }
    for r, result in zip(records, outcomes)
]
tones = [result.tone for result in outcomes]


def colour(column: pd.Series) -> list[str]:
    return [f"color: {TONE_COLOURS[tone]}" if tone in ("warning", "error") else "" for tone in tones]


def pick(table_key: str) -> None:
    """Remember the run that was clicked by its id, read against the list the user saw: a row
    position would point at another run once a new run is added to the top of the list."""
    event = st.session_state.get(table_key)
    picked = event.selection.rows if event is not None else []
    shown = st.session_state.get("history_ids", [])
    st.session_state["history_selected"] = shown[picked[0]] if picked and picked[0] < len(shown) else None


def delete(run_id: str) -> None:
    try:
        core.remove_run(store(), run_id, user(), runner())  # with its cached answers; the owner's (or an admin's) to do
    except core.InputError as exc:
        st.session_state["history_answer"] = input_error_text(exc)
        return
    st.session_state["history_selected"] = None
    if st.session_state.get("run_id") == run_id:
        show_run(None)


status_col, failed_col = t("history.col.status"), t("history.col.failed")
table = pd.DataFrame(rows).style.apply(colour, subset=[status_col, failed_col])
ids = [r.id for r in records]
st.session_state["history_ids"] = ids
# A new key when the list changes, so no row stays ticked that now holds another run; the run
# picked is kept by its id and named below.
table_key = f"history_table_{zlib.crc32(' '.join(ids).encode()):08x}"
st.dataframe(
    table,
    hide_index=True,
    on_select=functools.partial(pick, table_key),
    selection_mode="single-row",
    key=table_key,
    column_config={
        t("history.col.date"): st.column_config.TextColumn(width=130),
        t("history.col.id"): st.column_config.TextColumn(width=175),
        t("history.col.prompt"): st.column_config.TextColumn(width=170),
        t("history.col.succeeded"): st.column_config.ProgressColumn(
            min_value=0.0, max_value=1.0, format="percent", width="small", help=t("history.succeeded_help")
        ),
    },
)
answer = st.session_state.pop("history_answer", None)
if answer:
    st.error(plain(answer), icon=":material/error:")
cache_section()
by_id = {r.id: r for r in records}
record = by_id.get(st.session_state.get("history_selected") or "")
if record is None:
    st.caption(t("history.pick"))
    st.stop()

st.subheader(plain(record.file_name or record.id))
st.caption(f"{t('run.run_id')}: `{record.id}` · {kind(record)} · {plain(model(record))} · {outcome_label(outcomes[records.index(record)])}")
c = st.container(horizontal=True)
if c.button(t("history.open"), key="history_open", icon=":material/open_in_new:", type="primary"):
    show_run(record.id)
    st.switch_page("app_pages/run.py")
c.download_button(
    t("run.download_csv"),
    data=lambda: core.export_bytes(store().results_table(record.id), "csv"),
    file_name=core.export_file_name(record.id, "csv"),
    mime=core.EXPORT_FORMATS["csv"][1],
    key="history_download",
    icon=":material/download:",
    on_click="ignore",
)
if core.may_act(user(), record):
    with c.popover(t("history.delete"), icon=":material/delete:"):
        st.write(t("history.delete_confirm", id=record.id, file=plain(record.file_name or "–")))
        st.button(t("history.delete_yes"), key="history_delete", type="primary", on_click=delete, args=(record.id,))
else:
    st.caption(t("access.read_only", owner=plain(owner_label(record.owner))))
share_toggle("run", record)
