"""The results table as the Run page shows it: the download's columns, with the ones the app adds
(output, status, error, correct) named and worded in the page's language, and blanks for what
is not there yet. The downloads keep core's English names and values."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.common import say
from app_pages.i18n import STRINGS, t
from core import RunRecord

MARKS = {True: "✓", False: "✗"}


def result_columns(table: pd.DataFrame, record: RunRecord) -> dict[str, str]:
    """Role -> column name of the columns results_table adds after the input columns, in its
    order: one per JSON field, then the output, status and error, then `correct` with a label."""
    added = list(table.columns[len(record.columns) + len(record.spec.columns) :])
    roles = ["output", "status", "error"] + (["correct"] if record.spec.label_column else [])
    return dict(zip(roles, added))


def shown_results(table: pd.DataFrame, record: RunRecord) -> tuple[pd.DataFrame, dict]:
    """The table to draw and its column settings."""
    roles = result_columns(table, record)
    shown = table.astype(object).where(table.notna(), "")  # a pending row is blank, not a grey "None"
    # yes/no columns in words; numbers stay numbers (the downloads keep every type as it is)
    start = len(record.columns)
    for column, name in zip(record.spec.columns, table.columns[start : start + len(record.spec.columns)]):
        if column.type == "boolean":
            shown[name] = [t("columns.yes") if v is True else t("columns.no") if v is False else "" for v in table[name].tolist()]
        elif column.type in ("integer", "number"):  # numbers with blanks, right-aligned as numbers
            values = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in table[name].tolist()]
            shown[name] = pd.array(values, dtype="Int64" if column.type == "integer" else "Float64")
    if "status" in roles:
        shown[roles["status"]] = [t(f"row_status.{v}") if f"row_status.{v}" in STRINGS else v for v in shown[roles["status"]]]
    if "error" in roles:
        shown[roles["error"]] = [say(v) if v else "" for v in shown[roles["error"]]]
    if "correct" in roles:
        shown[roles["correct"]] = [MARKS.get(v, "") if isinstance(v, bool) else "" for v in table[roles["correct"]].tolist()]
    taken = set(shown.columns)
    names = {}
    for role, column in roles.items():
        name = t(f"results.col.{role}")
        if name not in taken:  # an input column may already be called that
            names[column] = name
            taken.add(name)
    shown = shown.rename(columns=names)
    error_name = names.get(roles.get("error", ""), roles.get("error"))
    output_name = names.get(roles.get("output", ""), roles.get("output"))
    config = {error_name: st.column_config.TextColumn(width="large"), output_name: st.column_config.TextColumn(width="medium")}
    return shown, {k: v for k, v in config.items() if k}
