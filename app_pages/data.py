"""Data: upload a table (or use the demo), check how it was read, preview it."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

import core
from app_pages.common import dataset, input_error_text, plain, say, set_dataset, use_demo_dataset, worded_choice
from app_pages.i18n import language, t, t_in

st.title(t("data.title"))
st.caption(t("data.intro"))

AUTO = "__auto__"
SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def option_label(value: str, lang: str = "en") -> str:
    if value == AUTO:
        return t_in(lang, "data.auto")
    return t_in(lang, "data.sep.tab") + " ⇥" if value == "\t" else value


def sheet_label(key: str, lang: str = "en") -> str:
    return t_in(lang, f"demo.sheet.{key}")


def separator_name(value: str) -> str:
    return t(f"data.sep.{SEP_NAMES.get(value, 'comma')}")


def load(upload, encoding: str | None, separator: str | None, sheet: str | None) -> None:  # type: ignore[no-untyped-def]
    data = upload.getvalue()
    try:
        table = core.load_table(data, upload.name, sheet, encoding=encoding, separator=separator)
    except core.InputError as exc:
        # Kept while the uploader holds this file, so the page keeps saying which table is in use.
        st.session_state["upload_failed"] = {"file_id": upload.file_id, "name": upload.name, "error": input_error_text(exc)}
        return
    st.session_state.pop("upload_failed", None)
    set_dataset(table, upload.name)


left, right = st.columns([3, 1], vertical_alignment="bottom")
with left:
    upload = st.file_uploader(
        t("data.upload"), type=["csv", "tsv", "txt", "tab", "xlsx"], key="upload", help=t("data.upload_help", mb=core.MAX_UPLOAD_MB, rows=core.MAX_ROWS)
    )
with right:
    # Which demo sheet: worded in the page's language, the choice kept across a switch.
    shown_demo = (dataset() or {}).get("demo")
    st.session_state.setdefault("demo_sheet", shown_demo if isinstance(shown_demo, str) else "arithmetic")
    sheet = worded_choice(
        st.selectbox,
        t("demo.sheet"),
        list(core.DEMO_SHEETS),
        key="demo_sheet",
        help=t("demo.sheet_help"),
        format_func=functools.partial(sheet_label, lang=language()),
    )
    if st.button(t("data.use_demo"), key="use_demo", icon=":material/science:", width="stretch"):
        use_demo_dataset(sheet or "arithmetic")

current = dataset()
if upload is not None:
    kind_xlsx = upload.name.lower().endswith(".xlsx")
    with st.expander(t("data.reading_options"), expanded=False, icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        encoding = worded_choice(
            c1.selectbox,
            t("data.encoding"),
            [AUTO, *core.ENCODINGS],
            format_func=functools.partial(option_label, lang=language()),
            key="encoding_override",
            disabled=kind_xlsx,
            accept_new_options=True,  # any codec Python knows can be typed in
        )
        separator = worded_choice(
            c2.selectbox,
            t("data.separator"),
            [AUTO, *core.SEPARATORS.values()],
            format_func=functools.partial(option_label, lang=language()),
            key="separator_override",
            disabled=kind_xlsx,
        )
        sheet = None
        if kind_xlsx:
            try:
                sheets = core.list_sheets(upload.getvalue())
            except core.InputError:
                sheets = []
            sheet = c3.selectbox(t("data.sheet"), sheets, key="sheet") if sheets else None
    signature = (upload.file_id, encoding, separator, sheet)
    if st.session_state.get("loaded_signature") != signature:
        st.session_state["loaded_signature"] = signature
        load(upload, None if encoding == AUTO else encoding, None if separator == AUTO else separator, sheet)
    current = dataset()
    failed = st.session_state.get("upload_failed")
    if failed and failed["file_id"] == upload.file_id:
        st.error(plain(failed["error"]), icon=":material/error:")
        if current is not None:
            st.warning(t("data.still_using", name=plain(current["name"]), upload=plain(failed["name"])), icon=":material/table:")

if current is None:
    st.info(t("data.empty"), icon=":material/upload_file:")
    st.stop()

table = current["table"]
info = table.info
frame = table.frame
demo = current["demo"] if isinstance(current["demo"], str) else "arithmetic"  # True: a session from before there were two
st.subheader(plain(current["name"]) + (f"  ·  {t(f'demo.label.{demo}')}" if current["demo"] else ""))
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("data.rows"), f"{info.n_rows:,}")
m2.metric(t("data.columns"), f"{info.n_columns:,}")
if info.kind == "xlsx":
    m3.metric(t("data.format"), "Excel (.xlsx)")
    m4.metric(t("data.sheet"), info.sheet or "–")
else:
    m3.metric(t("data.encoding"), info.encoding or "–")
    m4.metric(t("data.separator"), separator_name(info.separator or ","))
for note in info.notes:
    st.caption(f":material/info: {plain(say(note))}")

st.dataframe(frame.head(200), hide_index=True, height=360 if len(frame) > 10 else "auto", key="preview_table")
if info.n_rows > 200:
    st.caption(t("data.preview_note", n=200, total=info.n_rows))

template = core.PromptTemplate(st.session_state["template"], st.session_state["system"] or None)
used = [c for c in template.placeholders if c in frame.columns]
if used:
    blank = pd.DataFrame(columns=used)
    st.download_button(
        t("data.template_csv"),
        core.to_csv_bytes(blank),
        file_name="input_template.csv",
        mime="text/csv",
        key="download_input_template",
        icon=":material/download:",
        help=t("data.template_csv_help"),
    )
