"""LLM Batch Studio: run a spreadsheet through a large language model.

    pip install -r requirements.txt && streamlit run app.py
"""

from __future__ import annotations

import streamlit as st

from app_pages.common import configure_outbound, follow_stored_batches, init_state, page_style, password_gate, sidebar
from app_pages.i18n import t

st.set_page_config(page_title="LLM Batch Studio", page_icon=":material/table_chart:", layout="wide")

configure_outbound()  # before anything can call out: the Keys page's test, a run, a resume
init_state()
page_style()
follow_stored_batches()  # server-side and once per process: before the gate, which only guards what a visitor sees
if not password_gate():
    st.stop()

pages = [
    st.Page("app_pages/data.py", title=t("nav.data"), icon=":material/table:", url_path="data", default=True),
    st.Page("app_pages/prompt.py", title=t("nav.prompt"), icon=":material/edit_note:", url_path="prompt"),
    st.Page("app_pages/keys.py", title=t("nav.keys"), icon=":material/key:", url_path="keys"),
    st.Page("app_pages/run.py", title=t("nav.run"), icon=":material/play_circle:", url_path="run"),
    st.Page("app_pages/compare.py", title=t("nav.compare"), icon=":material/compare:", url_path="compare"),
    st.Page("app_pages/history.py", title=t("nav.history"), icon=":material/history:", url_path="history"),
]
page = st.navigation(pages, position="sidebar")
sidebar(page.url_path)  # after st.navigation: its links need the pages registered
page.run()
