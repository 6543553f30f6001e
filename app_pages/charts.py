"""The Run page's pictures, drawn with Altair (which Streamlit ships): rows per second over time
against the keys' limit, how long answers took, failures by cause, and accuracy (with a
confusion matrix when the labels are a few classes). The numbers come from core.run_report."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import TONE_COLOURS, cause_text
from app_pages.i18n import t
from core import ProgressSnapshot, RunReport

HEIGHT = 220
LATENCY_BINS = 24


def limit_per_s(report: RunReport, snap: ProgressSnapshot | None) -> float | None:
    """The keys' limit together: what a live run's gates pace at, else the ceilings stored."""
    if snap is not None and snap.keys and all(k.pace is not None for k in snap.keys if k.state != "dead"):
        live = [k.pace.limit_per_min or k.pace.pace_per_min for k in snap.keys if k.state != "dead" and k.pace is not None]
        if live:
            return sum(live) / 60.0
    return report.limit_per_s


def throughput_chart(report: RunReport, limit: float | None) -> alt.LayerChart | alt.Chart:
    data = pd.DataFrame(report.throughput, columns=["t", "rate"])
    x = alt.X("t:Q", title=t("charts.elapsed_s"), axis=alt.Axis(format=",.0f", tickMinStep=1))
    line = (
        alt.Chart(data)
        .mark_line(interpolate="step-after", point=len(data) < 30)
        .encode(
            x=x,
            y=alt.Y("rate:Q", title=t("charts.rows_per_s")),
            tooltip=[alt.Tooltip("t:Q", title=t("charts.elapsed_s")), alt.Tooltip("rate:Q", title=t("charts.rows_per_s"), format=".2f")],
        )
    )
    if limit is None:
        return line.properties(height=HEIGHT)
    rule = (
        alt.Chart(pd.DataFrame({"limit": [limit], "label": [t("charts.limit", n=f"{limit:,.1f}")]}))
        .mark_rule(strokeDash=[6, 4], color=TONE_COLOURS["warning"])
        .encode(y="limit:Q", tooltip=["label:N"])
    )
    text = rule.mark_text(align="left", dx=4, dy=-6, color=TONE_COLOURS["warning"]).encode(x=alt.value(0), text="label:N")
    return alt.layer(line, rule, text).properties(height=HEIGHT)


def latency_chart(report: RunReport) -> alt.Chart:
    seconds = np.asarray(report.latencies_ms, dtype=float) / 1000.0
    counts, edges = np.histogram(seconds, bins=min(LATENCY_BINS, max(1, len(np.unique(seconds)))))
    data = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "rows": counts})
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("from:Q", bin="binned", title=t("charts.latency_s")),
            x2="to:Q",
            y=alt.Y("rows:Q", title=t("charts.rows")),
            tooltip=[
                alt.Tooltip("from:Q", format=".2f", title=t("charts.from_s")),
                alt.Tooltip("to:Q", format=".2f", title=t("charts.to_s")),
                alt.Tooltip("rows:Q", title=t("charts.rows")),
            ],
        )
        .properties(height=HEIGHT)
    )


def causes_chart(report: RunReport) -> alt.Chart:
    data = pd.DataFrame({"cause": [cause_text(c) for c in report.causes[:8]], "rows": [c.count for c in report.causes[:8]]})
    return (
        alt.Chart(data)
        .mark_bar(color=TONE_COLOURS["warning"])
        .encode(
            x=alt.X("rows:Q", title=t("charts.rows")), y=alt.Y("cause:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)), tooltip=["cause:N", "rows:Q"]
        )
        .properties(height=max(120, 36 * len(data) + 40))
    )


def accuracy_chart(report: RunReport) -> alt.Chart:
    right, wrong = t("charts.right"), t("charts.wrong")
    data = pd.DataFrame({"answer": [right, wrong], "rows": [report.correct, report.judged - report.correct]})
    return (
        alt.Chart(data)
        .mark_arc(innerRadius=50)
        .encode(
            theta="rows:Q",
            color=alt.Color(
                "answer:N",
                scale=alt.Scale(domain=[right, wrong], range=[TONE_COLOURS["ok"], TONE_COLOURS["error"]]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["answer:N", "rows:Q"],
        )
        .properties(height=HEIGHT)
    )


def confusion_chart(report: RunReport) -> alt.LayerChart:
    labels = sorted(report.confusion)
    answers = labels + (["…"] if any("…" in row for row in report.confusion.values()) else [])
    cells = [{"label": lab, "answer": ans, "rows": report.confusion[lab].get(ans, 0)} for lab in labels for ans in answers]
    data = pd.DataFrame(cells)
    base = alt.Chart(data).encode(
        x=alt.X("answer:N", sort=answers, title=t("charts.answered")),
        y=alt.Y("label:N", sort=labels, title=t("charts.expected")),
        tooltip=["label:N", "answer:N", "rows:Q"],
    )
    heat = base.mark_rect().encode(color=alt.Color("rows:Q", scale=alt.Scale(scheme="blues"), legend=None))
    text = base.mark_text().encode(text="rows:Q", color=alt.condition(alt.datum.rows > data["rows"].max() / 2, alt.value("white"), alt.value("black")))
    return alt.layer(heat, text).properties(height=max(HEIGHT, 40 * len(labels)))


def draw(report: RunReport, snap: ProgressSnapshot | None, *, batch: bool = False) -> None:
    """Every picture that has something to show, two to a row. A batch's rows all come back at
    once when the provider finishes it: rows per second and latencies would be one meaningless point."""
    pictures: list[tuple[str, str, object]] = []
    if report.throughput and not batch:
        pictures.append(("charts.throughput", "chart_throughput", throughput_chart(report, limit_per_s(report, snap))))
    if report.latencies_ms and not batch:
        pictures.append(("charts.latency", "chart_latency", latency_chart(report)))
    if report.causes:
        pictures.append(("charts.causes", "chart_causes", causes_chart(report)))
    if report.confusion:
        pictures.append(("charts.confusion", "chart_confusion", confusion_chart(report)))
    elif report.judged:
        pictures.append(("charts.accuracy", "chart_accuracy", accuracy_chart(report)))
    for start in range(0, len(pictures), 2):
        columns = st.columns(2)
        for column, (title, key, chart) in zip(columns, pictures[start : start + 2]):
            with column.container(border=True, key=key):
                st.markdown(f"**{t(title)}**")
                if title in ("charts.accuracy", "charts.confusion"):
                    st.caption(t("charts.accuracy_line", pct=f"{report.accuracy:.1%}", right=report.correct, n=report.judged))
                if title == "charts.confusion" and any("…" in row for row in report.confusion.values()):
                    st.caption(t("charts.other_answer"))
                st.altair_chart(chart, width="stretch")
