"""Prompt: the template with clickable column chips, system prompt, model parameters, output (plain
text, or output columns in a small table editor), an optional label column, and a live preview of
the first prompts and of exactly what is sent for the first row."""

from __future__ import annotations

import functools
import json

import streamlit as st

import core
from app_pages.columns_editor import columns_editor, take_edits
from app_pages.common import dataset, input_error_text, plain, problem_text, store
from app_pages.i18n import language, t, t_in
from core import constants as C

KEEP = "session"  # widget values survive page switches
MODES = ("text", "columns")  # a keyed widget keeps its value when format_func's words change language
NO_LABEL = "—"


def use_demo_columns(demo: core.DemoSheet) -> None:
    """The demo sheet's own output columns, in the editor (replacing what it held)."""
    s = st.session_state
    s["output_columns"] = [{**c, "choices": list(c.get("choices") or ())} if c.get("choices") else dict(c) for c in demo.columns]
    s["label_field"] = ""
    s["columns_version"] = s.get("columns_version", 0) + 1  # the editor starts again from them


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


# The output columns first, so that everything below reads them with the last edit in.
columns_mode = st.session_state["output_mode"] == "columns"
column_rows = take_edits() if columns_mode else []
output_columns: tuple[core.OutputColumn, ...] = ()
columns_error: core.InputError | None = None
try:
    output_columns = core.columns_from_rows(column_rows)
except core.InputError as exc:
    columns_error = exc

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
    if columns_mode:
        st.caption(t("prompt.columns_below"))
    label_options = ["", *columns]  # "" is "no label": a None option would show as unselected
    if st.session_state["label_column"] not in label_options:
        st.session_state["label_column"] = ""
    st.selectbox(
        t("prompt.label_column"), label_options, format_func=lambda c: c or NO_LABEL, key="label_column", persist_state=KEEP, help=t("prompt.label_help")
    )
    names = [c.name for c in output_columns]
    label = st.session_state["label_column"]
    if label and len(names) > 1:
        if st.session_state.get("label_field") not in names:  # core's default: the column named like the label, else the last
            st.session_state["label_field"] = label if label in names else names[-1]
        st.selectbox(t("prompt.label_field"), names, key="label_field", persist_state=KEEP)
    st.subheader(t("prompt.parameters"))
    st.checkbox(t("prompt.set_temperature"), key="set_temperature", persist_state=KEEP, help=t("prompt.set_temperature_help"))
    if st.session_state["set_temperature"]:
        st.slider(t("prompt.temperature"), 0.0, 2.0, step=0.1, key="temperature", persist_state=KEEP)
    st.number_input(
        t("prompt.max_tokens"), min_value=0, max_value=C.FORM_MAX_TOKENS, step=64, key="max_tokens", persist_state=KEEP, help=t("prompt.max_tokens_help")
    )

if columns_mode:
    # Full width: five columns of a table need the room.
    st.subheader(t("prompt.columns_editor"))
    st.caption(t("prompt.columns_intro"))
    demo = core.DEMO_SHEETS.get(current["demo"]) if current and isinstance(current.get("demo"), str) else None
    if demo is not None and demo.columns:
        st.button(t("prompt.demo_columns"), key="demo_columns", on_click=use_demo_columns, args=(demo,), icon=":material/auto_awesome:")
    columns_editor()
    if columns_error is not None:
        st.error(plain(input_error_text(columns_error)), icon=":material/error:")
    elif not output_columns:
        st.info(t("columns.none_yet"), icon=":material/view_column:")
    st.number_input(t("prompt.max_reasks"), min_value=0, max_value=C.MAX_REASKS, step=1, key="max_reasks", persist_state=KEEP, help=t("prompt.max_reasks_help"))

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
    if output_columns:
        # Exactly what the first row's request holds, asked the way this provider and model took
        # before (json_schema, the strongest, if no run found otherwise).
        s = st.session_state
        mode = core.remembered_mode(store(), s["base_url"], s["model"]) or core.AskMode.JSON_SCHEMA
        try:
            spec = core.RunSpec.from_settings({**s, "template": s["template"], "output_columns": s["output_columns"]})
            frame = current["table"].frame
            row = dict(zip([str(c) for c in frame.columns], frame.iloc[0].tolist())) if len(frame) else {}
            body = core.request_body(spec, core.PromptTemplate(spec.template, spec.system).messages(row), mode, spec.request_params())
        except (core.InputError, KeyError, IndexError):
            body = None  # the problems are shown above
        if body is not None:
            with st.expander(t("prompt.sent"), icon=":material/data_object:", expanded=True):
                st.caption(t(f"prompt.sent_mode.{mode.value}"))
                st.code(json.dumps({"model": s["model"], **body}, ensure_ascii=False, indent=2), language="json", wrap_lines=True)
