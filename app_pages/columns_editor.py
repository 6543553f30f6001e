"""The Prompt page's table of output columns: one row per column (name, type, description, required,
allowed values), edited in place. The rows are kept in the session as `output_columns` (the
settings core reads with RunSpec.from_settings); the editor only draws and edits them."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

import core
from app_pages.i18n import language, t, t_in
from core import constants as C

FIELDS = ("name", "type", "description", "required", "choices")
TYPES = [kind.value for kind in core.ColumnType]


def _frame(rows: list[dict]) -> pd.DataFrame:
    """The editor's table of the session's rows; allowed values as "a, b, c"."""
    data = [
        {
            "name": r.get("name") or "", "type": r.get("type") or "text", "description": r.get("description") or "",
            "required": True if r.get("required") is None else bool(r.get("required")),
            "choices": ", ".join(r["choices"]) if isinstance(r.get("choices"), list) else str(r.get("choices") or ""),
        }
        for r in rows
    ]  # fmt: skip
    return pd.DataFrame(data, columns=list(FIELDS)).astype(object)  # a row added with a blank cell stays as it is


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _rows(records: list[dict]) -> list[dict]:
    """The editor's rows as the session's rows (what core.columns_from_rows reads)."""
    out = []
    for record in records:
        row = {k: _cell(record.get(k)) for k in FIELDS}
        name, description, choices = (str(row[k] or "").strip() for k in ("name", "description", "choices"))
        if not (name or description or choices):
            continue  # a row added and left empty
        item: dict[str, object] = {"name": name, "type": row["type"] or "text", "required": True if row["required"] is None else bool(row["required"])}
        if description:
            item["description"] = description
        if choices:
            item["choices"] = [c.strip() for c in choices.split(",") if c.strip()]
        out.append(item)
    return out


def _edited(base: list[dict], edits: dict) -> list[dict]:
    """The base rows with the editor's edits (edited_rows, added_rows, deleted_rows) applied."""
    records = _frame(base).to_dict("records")
    for index, changes in (edits.get("edited_rows") or {}).items():
        i = int(index)
        if 0 <= i < len(records):
            records[i].update(changes)
    deleted = {int(i) for i in edits.get("deleted_rows") or ()}
    records = [r for i, r in enumerate(records) if i not in deleted]
    records += [dict(r) for r in edits.get("added_rows") or ()]
    return _rows(records)


def take_edits() -> list[dict]:
    """The session's rows, with the editor's last edit taken in. Called before anything on the
    page reads the columns; the editor then starts again from them under a new key, so its own
    state never has to survive a page switch or a change of language (either would reset it)."""
    s = st.session_state
    version = s.get("columns_version", 0)
    edits = s.get(f"columns_editor_{version}")
    rows = list(s.get("output_columns") or [])
    if isinstance(edits, dict) and any(edits.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")):
        edited = _edited(rows, edits)
        # A row just added and still blank changes nothing: the editor stays as it is, or the
        # name being typed into that row would go with it.
        if edited != rows:
            s["output_columns"], s["columns_version"] = edited, version + 1
            rows = edited
    return rows


def columns_editor() -> None:
    """Draw the editor of the session's rows (after `take_edits`)."""
    s = st.session_state
    lang = language()
    config = {
        "name": st.column_config.TextColumn(t("columns.col.name"), help=t("columns.col.name_help"), required=True, max_chars=C.MAX_COLUMN_NAME_CHARS),
        "type": st.column_config.SelectboxColumn(
            t("columns.col.type"), help=t("columns.col.type_help"), options=TYPES, required=True, default="text", width="medium",
            format_func=lambda v: t_in(lang, f"columns.type.{v}"),
        ),
        "description": st.column_config.TextColumn(t("columns.col.description"), help=t("columns.col.description_help"), width="medium"),
        "required": st.column_config.CheckboxColumn(t("columns.col.required"), help=t("columns.col.required_help"), default=True),
        "choices": st.column_config.TextColumn(t("columns.col.choices"), help=t("columns.col.choices_help"), width="medium"),
    }  # fmt: skip
    key = f"columns_editor_{s.get('columns_version', 0)}"
    st.data_editor(_frame(list(s.get("output_columns") or [])), key=key, num_rows="dynamic", hide_index=True, column_config=config, width="stretch")
