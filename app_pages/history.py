"""History: past runs with their outcome; open, resume, download or delete one."""

from __future__ import annotations

import functools
import zlib

import pandas as pd
import streamlit as st

import core
from app_pages.common import TONE_COLOURS, fmt_money, outcome, outcome_label, plain, runner, show_run, short, store
from app_pages import compare_view, leases_view
from app_pages.i18n import t

st.title(t("history.title"))
compare_view.history_section()  # comparisons first: each is a few of the runs below

records = store().list_runs()
if not records:
    st.info(t("history.empty"), icon=":material/history:")
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
    if runner().get(run_id) is not None:
        st.session_state["history_answer"] = t("history.delete_live")
        return
    lease = core.running_elsewhere(store(), run_id)
    if lease is not None:
        st.session_state["history_answer"] = t("replicas.delete_elsewhere", where=leases_view.where(lease))
        return
    store().delete_run(run_id)
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
    st.error(answer, icon=":material/error:")
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
with c.popover(t("history.delete"), icon=":material/delete:"):
    st.write(t("history.delete_confirm", id=record.id, file=plain(record.file_name or "–")))
    st.button(t("history.delete_yes"), key="history_delete", type="primary", on_click=delete, args=(record.id,))
