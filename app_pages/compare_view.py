"""How the Compare page draws a comparison: one column per variant, the verdict, accuracy against
cost, confusion matrices, the row view with its filters, the downloads, and History's list of
comparisons. Numbers come from core.compare_table; nothing here decides anything."""

from __future__ import annotations

import functools
import zlib

import altair as alt
import pandas as pd
import streamlit as st

import core
from app_pages.common import fmt_money, input_error_text, owner_label, plain, runner, say, share_toggle, short, state_label, store, user, worded_choice
from app_pages.i18n import STRINGS, t

HEIGHT = 300
TABLE_ROWS = 1_000  # rows drawn in the row view; downloads always have every row
MARKS = {True: "✓", False: "✗"}


def pct(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "–"


def latency(ms: float | None) -> str:
    return f"{ms / 1000:.2f} s" if ms is not None else "–"


def variant_columns(data: core.CompareTable, progress: core.ComparisonProgress | None, free: bool) -> None:
    """One column per variant, side by side: how far, how right, how dear, how fast."""
    snaps = {v.variant.name: v.snapshot for v in progress.variants} if progress else {}
    columns = st.columns(len(data.summaries))
    for column, summary, variant in zip(columns, data.summaries, data.record.variants):
        snap = snaps.get(summary.name)
        won = summary.name == data.verdict.winner
        with column.container(border=True, key=f"cmp_variant_{data.record.variants.index(variant)}"):
            head = st.container(horizontal=True, vertical_alignment="center")
            head.markdown(f"**{plain(summary.name)}**")
            if won:
                head.badge(t("compare.winner_badge"), icon=":material/trophy:", color="green")
            st.caption(f"{plain(summary.model)} · “{plain(short(variant.template, 48))}”")
            if summary.state == "deleted":
                st.warning(t("compare.deleted"))
                continue
            done = snap.done if snap is not None else summary.done
            total = snap.total if snap is not None else summary.rows
            st.progress(done / total if total else 1.0, text=f"{done:,} / {total:,} · {state_label(snap.state if snap else summary.state)}")
            interval = summary.interval
            help_text = t("compare.interval", low=pct(interval[0]), high=pct(interval[1]), n=summary.judged) if interval else t("compare.no_label_help")
            st.metric(t("compare.accuracy"), pct(summary.accuracy), help=help_text)
            a, b = st.columns(2)
            a.metric(t("compare.correct"), f"{summary.correct:,} / {summary.judged:,}")
            b.metric(t("run.failed"), f"{summary.failed + summary.unparsed:,}")
            a.metric(t("run.cost"), fmt_money(0.0 if free else summary.cost))
            b.metric(t("compare.cost_per_correct"), "–" if free or summary.cost_per_correct is None else fmt_money(summary.cost_per_correct))
            a.metric(
                t("run.tokens"), f"{summary.tokens_in + summary.tokens_out:,}", help=t("run.est_tokens_help", tin=summary.tokens_in, tout=summary.tokens_out)
            )
            b.metric(t("compare.cached"), f"{summary.cached:,}")
            a.metric(t("compare.p50"), latency(summary.p50_ms))
            b.metric(t("compare.p95"), latency(summary.p95_ms))
            if summary.judge is not None and data.record.judge is not None:
                j = summary.judge
                cost = fmt_money(0.0 if data.record.judge.simulated else j.cost)
                st.caption(t("compare.judge.variant_line", requests=j.requests, tokens=j.tokens_in + j.tokens_out, cost=cost, graded=j.graded))


def judge_panel(data: core.CompareTable, progress: core.ComparisonProgress) -> None:
    """The judge's own work: how far it has graded, and its requests, tokens and cost, which are
    not in the variants' columns."""
    judge = data.record.judge
    assert judge is not None
    graded = [s.judge for s in data.summaries if s.judge is not None]
    requests, cached = sum(j.requests for j in graded), sum(j.cached for j in graded)
    tokens_in, tokens_out = sum(j.tokens_in for j in graded), sum(j.tokens_out for j in graded)
    cost = 0.0 if judge.simulated else sum(j.cost for j in graded)
    with st.container(border=True, key="cmp_judge_panel"):
        head = st.container(horizontal=True, vertical_alignment="center")
        provider = t("common.simulated_provider") if judge.simulated else judge.provider
        head.markdown(f"**{t('compare.judge.panel', model=plain(judge.model), provider=plain(provider))}**")
        if judge.simulated:
            head.badge(t("common.simulated_badge"), icon=":material/science:", color="orange")
        done, total = progress.judge_done, progress.judge_total
        st.progress(done / total if total else 0.0, text=t("compare.judge.progress", done=done, total=total))
        if judge.rubric:
            st.caption(t("compare.judge.rubric_line", rubric=plain(short(judge.rubric, 120))))
        m = st.columns(4)
        m[0].metric(t("compare.judge.requests"), f"{requests:,}", help=t("compare.judge.requests_help", cached=cached))
        m[1].metric(t("run.tokens"), f"{tokens_in + tokens_out:,}", help=t("run.est_tokens_help", tin=tokens_in, tout=tokens_out))
        m[2].metric(t("compare.judge.cost"), fmt_money(cost), help=t("compare.judge.cost_help"))
        m[3].metric(t("compare.judge.unread"), f"{sum(j.failed for j in graded):,}", help=t("compare.judge.unread_help"))
        for name, why in progress.judge_problems:
            st.error(plain(t("compare.judge.problem", name=name, problem=say(why))), icon=":material/error:")


def verdict_line(data: core.CompareTable, finished: bool) -> None:
    v = data.verdict
    if v.reason == "unjudged":
        st.info(t("compare.verdict.unjudged"), icon=":material/help:")
        return
    if v.reason == "alone":
        return
    if v.reason == "tie":
        st.info(t("compare.verdict.tie"), icon=":material/balance:")
        return
    values = {
        "winner": v.winner,
        "other": v.runner_up,
        "margin": f"{v.margin * 100:.1f}",
        "a": v.only_winner_right,
        "b": v.only_runner_up_right,
        "p": f"{v.p_value:.2g}",
    }
    text = t("compare.verdict.clear" if v.significant else "compare.verdict.noise", **values)
    if not finished:
        text += " " + t("compare.verdict.so_far")
    (st.success if v.significant else st.warning)(plain(text), icon=":material/trophy:" if v.significant else ":material/casino:")


def accuracy_cost_chart(data: core.CompareTable, free: bool) -> alt.LayerChart | None:
    """Accuracy against cost per variant, with each accuracy's 95% interval. On the simulated
    provider nothing costs money, so tokens stand in for cost."""
    rows = []
    for s in data.summaries:
        if s.accuracy is None:
            continue
        low, high = s.interval or (s.accuracy, s.accuracy)
        rows.append({"variant": s.name, "x": float(s.tokens_in + s.tokens_out) if free else s.cost, "accuracy": s.accuracy, "low": low, "high": high})
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    x_title = t("compare.chart.tokens") if free else t("compare.chart.cost")
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False, padding=40))
    y_scale = alt.Scale(domain=[max(0.0, frame["low"].min() - 0.05), min(1.0, frame["high"].max() + 0.02)])
    base = alt.Chart(frame).encode(x=x, color=alt.Color("variant:N", title=t("compare.variant"), legend=alt.Legend(orient="bottom")))
    bars = base.mark_rule(strokeWidth=2).encode(y=alt.Y("low:Q", scale=y_scale, axis=alt.Axis(format="%"), title=t("compare.accuracy")), y2="high:Q")
    tooltip = [
        alt.Tooltip("variant:N", title=t("compare.variant")), alt.Tooltip("accuracy:Q", format=".1%", title=t("compare.accuracy")),
        alt.Tooltip("low:Q", format=".1%", title=t("compare.chart.low")), alt.Tooltip("high:Q", format=".1%", title=t("compare.chart.high")),
        alt.Tooltip("x:Q", format=",.0f" if free else "$,.4f", title=x_title),
    ]  # fmt: skip
    points = base.mark_point(size=140, filled=True).encode(y=alt.Y("accuracy:Q", scale=y_scale), tooltip=tooltip)
    labels = base.mark_text(align="left", dx=10, fontWeight="bold").encode(y=alt.Y("accuracy:Q", scale=y_scale), text="variant:N")
    return alt.layer(bars, points, labels).properties(height=HEIGHT)


def confusion_chart(matrix: dict[str, dict[str, int]], classes: tuple[str, ...]) -> alt.LayerChart:
    labels = list(matrix)
    answers = list(classes) + ([core.scoring.OTHER_CLASS] if any(core.scoring.OTHER_CLASS in row for row in matrix.values()) else [])
    cells = pd.DataFrame([{"label": lab, "answer": ans, "rows": matrix[lab].get(ans, 0)} for lab in labels for ans in answers])
    base = alt.Chart(cells).encode(
        x=alt.X("answer:N", sort=answers, title=t("charts.answered")),
        y=alt.Y("label:N", sort=labels, title=t("charts.expected")),
        tooltip=["label:N", "answer:N", "rows:Q"],
    )
    heat = base.mark_rect().encode(color=alt.Color("rows:Q", scale=alt.Scale(scheme="blues"), legend=None))
    text = base.mark_text().encode(text="rows:Q", color=alt.condition(alt.datum.rows > max(1, cells["rows"].max()) / 2, alt.value("white"), alt.value("black")))
    return alt.layer(heat, text).properties(height=max(160, 36 * len(labels)))


def charts(data: core.CompareTable, free: bool) -> None:
    chart = accuracy_cost_chart(data, free)
    if chart is not None:
        with st.container(border=True, key="cmp_chart"):
            st.markdown(f"**{t('compare.chart.title')}**")
            st.caption(t("compare.chart.caption_free" if free else "compare.chart.caption"))
            st.altair_chart(chart, width="stretch")
    if data.confusion:
        names = list(data.confusion)
        for start in range(0, len(names), 3):
            columns = st.columns(3)
            for column, name in zip(columns, names[start : start + 3]):
                with column.container(border=True):
                    st.markdown(f"**{t('charts.confusion')}: {plain(name)}**")
                    st.altair_chart(confusion_chart(data.confusion[name], data.record.scoring.classes), width="stretch")


def filter_label(option: str) -> str:
    kind, _, name = option.partition(":")
    return t("compare.filter.only_right", name=name) if kind == "only_right" else t(f"compare.filter.{kind}")


def row_view(data: core.CompareTable) -> None:
    """The inputs, then each variant's answer next to the others' and the label."""
    names = [s.name for s in data.summaries if s.name in data.answer_columns]
    options = ["all", "disagree"] + (["all_wrong"] + [f"only_right:{n}" for n in names] if data.correct_columns and len(names) > 1 else [])
    for key in [k for k in st.session_state if str(k).startswith("cmp_filter")]:
        if st.session_state[key] not in options:  # another comparison's "only X right"
            del st.session_state[key]
    choice = worded_choice(st.selectbox, t("compare.filter"), options, format_func=filter_label, key="cmp_filter")
    kind, _, name = choice.partition(":")
    rows = data.rows(kind, name or None)
    st.caption(t("compare.filter_count", n=len(rows), total=len(data.wide)))
    st.dataframe(shown_rows(data, rows.head(TABLE_ROWS)), hide_index=True, key="cmp_rows", height=420 if len(rows) > 10 else "auto")
    if len(rows) > TABLE_ROWS:
        st.caption(t("run.table_note", n=TABLE_ROWS, total=len(rows)))


def shown_rows(data: core.CompareTable, rows: pd.DataFrame) -> pd.DataFrame:
    """The wide table as the page shows it: marks for right and wrong, statuses and headers in
    the page's language. Downloads keep core's English names and values."""
    shown = rows.astype(object).where(rows.notna(), "")
    names: dict[str, str] = {}
    for name in data.answer_columns:
        status, correct = data.status_columns[name], data.correct_columns.get(name)
        shown[status] = [t(f"row_status.{v}") if f"row_status.{v}" in STRINGS else v for v in rows[status]]
        names[status] = t("compare.col.status", name=name)
        if correct:
            shown[correct] = [MARKS.get(v, "") if isinstance(v, bool) else "" for v in rows[correct].tolist()]
            names[correct] = t("compare.col.correct", name=name)
        error = f"{name} error"
        if error in shown.columns:
            shown[error] = [say(v) if v else "" for v in rows[error]]
            names[error] = t("compare.col.error", name=name)
        judged, reason = f"{name} judge", f"{name} judge reason"
        if data.record.judge is not None and judged in shown.columns:
            shown[judged] = [t(f"compare.judge.says.{v}") if v in ("correct", "incorrect") else "" for v in rows[judged]]
            names[judged] = t("compare.col.judge", name=name)
            names[reason] = t("compare.col.judge_reason", name=name)
    names["row"] = t("compare.col.row")
    taken = set(shown.columns)
    return shown.rename(columns={k: v for k, v in names.items() if v not in taken})


def downloads(comparison_id: str) -> None:
    tables = (("wide", "compare.download.wide"), ("summary", "compare.download.summary"))
    formats = (("csv", "run.download_csv"), ("xlsx", "run.download_xlsx"), ("jsonl", "run.download_jsonl"))
    for table, title in tables:
        row = st.container(horizontal=True, vertical_alignment="center", key=f"cmp_downloads_{table}")
        row.markdown(f"**{t(title)}**")
        for fmt, label in formats:
            row.download_button(
                t(label), data=lambda table=table, fmt=fmt: export(comparison_id, table, fmt), file_name=core.compare_file_name(comparison_id, table, fmt),
                mime=core.EXPORT_FORMATS[fmt][1], key=f"cmp_download_{table}_{fmt}", icon=":material/download:", on_click="ignore",
            )  # fmt: skip
    row = st.container(horizontal=True, vertical_alignment="center", key="cmp_downloads_both")
    row.markdown(f"**{t('compare.download.both')}**")
    row.download_button(
        t("compare.download.both_xlsx"), data=lambda: core.compare_workbook(core.compare_table(store(), comparison_id)),
        file_name=core.compare_file_name(comparison_id, "both", "xlsx"), mime=core.EXPORT_FORMATS["xlsx"][1], key="cmp_download_both_xlsx",
        icon=":material/download:", on_click="ignore",
    )  # fmt: skip
    row.caption(t("compare.download.both_help"))


def export(comparison_id: str, table: str, fmt: str) -> bytes:
    data = core.compare_table(store(), comparison_id)
    return core.export_bytes(data.wide if table == "wide" else data.summary(), fmt)


def comparisons_table(records: list[core.ComparisonRecord]) -> pd.DataFrame:
    rows = []
    hosted = not user().local  # with access on, whose each one is, and whether it is shared
    for r in records:
        rows.append({
            t("history.col.date"): pd.Timestamp(r.created_at).tz_convert(None).strftime("%Y-%m-%d %H:%M"),
            t("compare.col.name"): r.name or r.file_name, t("compare.col.variants"): ", ".join(v.name for v in r.variants),
            t("compare.col.rows"): r.n_rows,
            t("history.col.model"): t("common.simulated_badge") if r.simulated else ", ".join(sorted({v.model for v in r.variants})),
            **({t("history.col.owner"): owner_label(r.owner), t("history.col.shared"): "✓" if r.shared else ""} if hosted else {}),
            t("compare.col.id"): r.id,
        })  # fmt: skip
    return pd.DataFrame(rows)


def pick_comparison(table_key: str) -> None:
    """Remember the comparison clicked by its id, read against the list the user saw (as History's
    runs are): a row position would point at another one once the list changes."""
    event = st.session_state.get(table_key)
    picked = event.selection.rows if event is not None else []
    shown = st.session_state.get("history_comparison_ids", [])
    st.session_state["history_comparison"] = shown[picked[0]] if picked and picked[0] < len(shown) else None


def delete_comparison(comparison_id: str) -> None:
    try:
        record = core.remove_comparison(store(), comparison_id, runner(), user())
    except core.InputError as exc:
        st.session_state["history_comparison_answer"] = ("error", input_error_text(exc))
        return
    st.session_state["history_comparison"] = None
    st.session_state["history_comparison_answer"] = ("success", t("compare.history.deleted", name=record.name or record.id, n=len(record.run_ids)))
    if st.session_state.get("compare_id") == comparison_id:
        st.session_state["compare_id"] = None  # the Compare page then offers a new one
    if st.session_state.get("run_id") in record.run_ids:
        st.session_state["run_id"] = None


def history_section() -> None:
    """History's list of comparisons: pick one to open it on the Compare page, or delete it."""
    records = core.visible_comparisons(store(), user())
    answer = st.session_state.pop("history_comparison_answer", None)
    if not records:
        if answer:
            (st.success if answer[0] == "success" else st.error)(plain(answer[1]))
        return
    st.subheader(t("compare.history.title"))
    ids = [r.id for r in records]
    st.session_state["history_comparison_ids"] = ids
    # A new key when the list changes, so no row stays ticked that now holds another comparison.
    table_key = f"history_comparisons_{zlib.crc32(' '.join(ids).encode()):08x}"
    st.dataframe(
        comparisons_table(records), hide_index=True, on_select=functools.partial(pick_comparison, table_key), selection_mode="single-row", key=table_key
    )
    if answer:
        (st.success if answer[0] == "success" else st.error)(plain(answer[1]))
    chosen = next((r for r in records if r.id == st.session_state.get("history_comparison")), None)
    if chosen is not None:
        name = plain(chosen.name or chosen.file_name or chosen.id)
        c = st.container(horizontal=True)
        if c.button(t("compare.history.open", name=name), key="history_open_comparison", icon=":material/compare:", type="primary"):
            st.session_state["compare_id"] = chosen.id
            st.switch_page("app_pages/compare.py")
        if core.may_act(user(), chosen):
            with c.popover(t("compare.history.delete"), icon=":material/delete:"):
                st.write(t("compare.history.delete_confirm", name=name, id=chosen.id, variants=len(chosen.variants), n=len(chosen.run_ids)))
                st.button(
                    t("compare.history.delete_yes", n=len(chosen.run_ids)), key="history_delete_comparison", type="primary",
                    on_click=delete_comparison, args=(chosen.id,),
                )  # fmt: skip
        else:
            st.caption(t("access.read_only", owner=plain(owner_label(chosen.owner))))
        share_toggle("comparison", chosen)
    st.subheader(t("compare.history.runs"))
