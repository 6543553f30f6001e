"""LLM Batch Studio: run a spreadsheet through a large language model.

pip install -r requirements.txt && streamlit run app.py
"""

from __future__ import annotations

import streamlit as st

from app_pages import gate
from app_pages.common import configure_outbound, follow_stored_batches, init_state, page_style, sidebar
from app_pages.i18n import t

st.set_page_config(page_title="LLM Batch Studio", page_icon=":material/table_chart:", layout="wide")

configure_outbound()  # before anything can call out: the Keys page's test, a run, a resume
page_style()
follow_stored_batches()  # server-side and once per process: before the gate, which only guards what a visitor sees
pages = [
    st.Page("app_pages/data.py", title=t("nav.data"), icon=":material/table:", url_path="data", default=True),
    st.Page("app_pages/prompt.py", title=t("nav.prompt"), icon=":material/edit_note:", url_path="prompt"),
    st.Page("app_pages/keys.py", title=t("nav.keys"), icon=":material/key:", url_path="keys"),
    st.Page("app_pages/run.py", title=t("nav.run"), icon=":material/play_circle:", url_path="run"),
    st.Page("app_pages/compare.py", title=t("nav.compare"), icon=":material/compare:", url_path="compare"),
    st.Page("app_pages/history.py", title=t("nav.history"), icon=":material/history:", url_path="history"),
]
# The gate first: with access on, nothing is read from the store (not even a ?run= link's table)
# until someone is signed in. With access off, the local default, it lets everyone in at once.
user = gate.signed_in_user()
# Registered behind the door too (hidden), so that a link to a page (/run?run=...) still leads
# there once signed in; no page runs before.
page = st.navigation(pages, position="sidebar" if user is not None else "hidden")
if user is None:
    st.stop()
gate.check_links(user)  # a link to a run or comparison this user may not see: said, and dropped
init_state()
sidebar(page.url_path)  # after st.navigation: its links need the pages registered
gate.user_box(user)
page.run()
