"""History: past runs with their outcome; open, resume, download or delete one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core
from app_pages.common import TONE_COLOURS, fmt_money, outcome, outcome_label, plain, runner, show_run, store
from app_pages.i18n import t

st.title(t("history.title"))

records = store().list_runs()
if not records:
    st.info(t("history.empty"), icon=":material/history:")
    st.stop()

outcomes = [outcome(r, core.effective_status(r, runner())) for r in records]
rows = [
    {
        t("history.col.date"): pd.Timestamp(r.created_at).tz_convert(None).strftime("%Y-%m-%d %H:%M"),
        t("history.col.file"): r.file_name + (f" ({t('common.simulated_badge')})" if r.simulated else ""),
        t("history.col.rows"): f"{r.done:,} / {r.n_rows:,}",
        t("history.col.failed"): r.failed + r.unparsed,
        t("history.col.status"): outcome_label(result),
        t("history.col.tokens"): r.tokens_in + r.tokens_out,
        t("history.col.cost"): fmt_money(r.cost),
        t("history.col.id"): r.id,
    }
    for r, result in zip(records, outcomes)
]
tones = [result.tone for result in outcomes]
status_col = t("history.col.status")


def colour(column: pd.Series) -> list[str]:
    return [f"color: {TONE_COLOURS[tone]}" if tone in ("warning", "error") else "" for tone in tones]


table = pd.DataFrame(rows).style.apply(colour, subset=[status_col])
selection = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="history_table")
picked = selection.selection.rows if selection else []
if not picked:
    st.caption(t("history.pick"))
    st.stop()

record = records[picked[0]]
st.subheader(plain(record.file_name or record.id))
c = st.columns([1, 1, 1, 3])
if c[0].button(t("history.open"), key="history_open", icon=":material/open_in_new:", type="primary", width="stretch"):
    show_run(record.id)
    st.switch_page("app_pages/run.py")
ext, mime = core.EXPORT_FORMATS["csv"]
c[1].download_button(
    t("run.download_csv"), data=lambda: core.export_bytes(store().results_table(record.id), "csv"), file_name=f"results-{record.id}{ext}", mime=mime, key="history_download", icon=":material/download:", on_click="ignore", width="stretch"
)
with c[2].popover(t("history.delete"), icon=":material/delete:", width="stretch"):
    st.write(t("history.delete_confirm"))
    if st.button(t("history.delete_yes"), key="history_delete", type="primary"):
        if runner().get(record.id) is not None:
            st.error(t("history.delete_live"))
        else:
            store().delete_run(record.id)
            if st.session_state.get("run_id") == record.id:
                show_run(None)
            st.rerun()
