"""Prompt: the template with clickable column chips, system prompt, model parameters, output mode,
an optional label column, and a live preview of the first prompts."""

from __future__ import annotations

import functools

import streamlit as st

import core
from core import constants as C
from app_pages.common import dataset, plain, problem_text
from app_pages.i18n import language, t, t_in

KEEP = "session"  # widget values survive page switches
MODES = ("text", "json")  # a keyed widget keeps its value when format_func's words change language
NO_LABEL = "—"


def mode_label(mode: str, lang: str) -> str:
    return t_in(lang, f"prompt.mode.{mode}")

st.title(t("prompt.title"))
st.caption(t("prompt.intro"))

current = dataset()
columns: list[str] = [str(c) for c in current["table"].frame.columns] if current else []


def insert_column() -> None:
    column = st.session_state.get("column_chips")
    if column:
        st.session_state["template"] = (st.session_state["template"] or "") + "{" + column + "}"
        st.session_state["column_chips"] = None


editor, side = st.columns([3, 2], gap="large")
with editor:
    if columns:
        st.pills(t("prompt.columns"), columns, key="column_chips", on_change=insert_column, help=t("prompt.columns_help"))
    st.text_area(t("prompt.template"), key="template", height=200, persist_state=KEEP, help=t("prompt.template_help"))
    template = core.PromptTemplate(st.session_state["template"], st.session_state["system"] or None)
    problems = template.problems(columns) if columns else []
    for problem in problems:
        st.warning(plain(problem_text(problem)), icon=":material/warning:")
    with st.expander(t("prompt.system"), expanded=bool(st.session_state["system"]), icon=":material/settings_suggest:"):
        st.text_area(t("prompt.system"), key="system", height=100, persist_state=KEEP, label_visibility="collapsed", placeholder=t("prompt.system_placeholder"))

with side:
    st.subheader(t("prompt.output"))
    st.segmented_control(
        t("prompt.output_mode"), MODES, format_func=functools.partial(mode_label, lang=language()), key="output_mode", required=True, persist_state=KEEP
    )
    if st.session_state["output_mode"] == "json":
        st.text_input(t("prompt.json_fields"), key="json_fields", persist_state=KEEP, placeholder="reason, infer", help=t("prompt.json_fields_help"))
        st.checkbox(t("prompt.json_format"), key="json_format", persist_state=KEEP, help=t("prompt.json_format_help"))
    label_options = ["", *columns]  # "" is "no label": a None option would show as unselected
    if st.session_state["label_column"] not in label_options:
        st.session_state["label_column"] = ""
    st.selectbox(
        t("prompt.label_column"), label_options, format_func=lambda c: c or NO_LABEL, key="label_column", persist_state=KEEP, help=t("prompt.label_help")
    )
    st.subheader(t("prompt.parameters"))
    st.checkbox(t("prompt.set_temperature"), key="set_temperature", persist_state=KEEP, help=t("prompt.set_temperature_help"))
    if st.session_state["set_temperature"]:
        st.slider(t("prompt.temperature"), 0.0, 2.0, step=0.1, key="temperature", persist_state=KEEP)
    st.number_input(
        t("prompt.max_tokens"), min_value=0, max_value=C.FORM_MAX_TOKENS, step=64, key="max_tokens", persist_state=KEEP, help=t("prompt.max_tokens_help")
    )

st.subheader(t("prompt.preview"))
if not current:
    st.info(t("prompt.no_data"), icon=":material/table:")
elif not st.session_state["template"].strip():
    st.info(t("prompt.empty"), icon=":material/edit_note:")
else:
    previews = template.preview(current["table"].frame)
    cols = st.columns(max(len(previews), 1))
    for i, (col, text) in enumerate(zip(cols, previews)):
        with col.container(border=True, key=f"preview_{i}"):
            st.caption(t("prompt.row", n=i + 1))
            st.code(text, language=None, wrap_lines=True)
