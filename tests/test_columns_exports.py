"""Output columns keep their types to the downloads (numbers as numbers and yes/no as booleans in
XLSX and JSONL, read back with openpyxl and json; CSV as Excel reads it), and `python -m core run
--columns columns.json` fills them from a provider on loopback, as a user runs it."""

from __future__ import annotations

import io
import json

import openpyxl
import pandas as pd

from core.columns import OutputColumn
from core.exports import export_bytes
from core.keys import demo_pool
from core.spec import RunSpec
from core.store import RowResult
from tests.test_cli import cli
from tests.test_columns_engine import stub_provider  # noqa: F401 - the fixture
from tests.test_engine_v2 import _completion

COLUMNS = (
    OutputColumn("sentiment", "choice", choices=("positive", "negative")),
    OutputColumn("stars", "integer", required=False),
    OutputColumn("price", "number", required=False),
    OutputColumn("recommends", "boolean", required=False),
    OutputColumn("bought", "date", required=False),
)


def stored_table(store) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    spec = RunSpec(template="Rate {review}", columns=COLUMNS)
    frame = pd.DataFrame({"review": ["great", "bad", "later"]}, dtype=object)
    run_id = store.create_run(spec, frame, [k.info() for k in demo_pool(1)])
    store.record_result(
        run_id,
        RowResult(row=0, status="ok", output="{}", fields={"sentiment": "positive", "stars": 5, "price": 12.5, "recommends": True, "bought": "2024-03-05"}),
    )
    store.record_result(
        run_id,
        RowResult(row=1, status="unparsed", output="{}", fields={"sentiment": "negative", "stars": None, "price": None, "recommends": False, "bought": None}),
    )
    return store.results_table(run_id)


def test_xlsx_cells_are_numbers_booleans_and_text_as_the_columns_say(store):
    book = openpyxl.load_workbook(io.BytesIO(export_bytes(stored_table(store), "xlsx")))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    cells = {name: [sheet.cell(row=r, column=header.index(name) + 1) for r in (2, 3, 4)] for name in header}
    assert [c.value for c in cells["stars"]] == [5, None, None] and cells["stars"][0].data_type == "n"
    assert cells["price"][0].value == 12.5 and cells["price"][0].data_type == "n"
    assert [c.value for c in cells["recommends"]] == [True, False, None] and cells["recommends"][0].data_type == "b"
    assert cells["sentiment"][0].value == "positive" and cells["sentiment"][0].data_type == "s"
    assert cells["bought"][0].value == "2024-03-05" and cells["bought"][0].data_type == "s"  # ISO text: no locale can misread it
    assert [c.value for c in cells["status"]] == ["ok", "unparsed", "pending"]


def test_jsonl_keeps_the_types_and_null_for_nothing(store):
    lines = [json.loads(line) for line in export_bytes(stored_table(store), "jsonl").decode().splitlines()]
    assert lines[0]["stars"] == 5 and type(lines[0]["stars"]) is int and lines[0]["price"] == 12.5
    assert lines[0]["recommends"] is True and lines[1]["recommends"] is False and lines[2]["recommends"] is None
    assert lines[1]["stars"] is None and lines[0]["bought"] == "2024-03-05"


def test_csv_writes_what_excel_reads_as_numbers_and_booleans(store):
    text = export_bytes(stored_table(store), "csv").decode("utf-8-sig")
    first = text.splitlines()[1].split(",")
    assert first[1:6] == ["positive", "5", "12.5", "True", "2024-03-05"]  # 5, not 5.0; Excel reads True as TRUE
    assert text.splitlines()[2].split(",")[1:5] == ["negative", "", "", "False"]


def test_the_command_line_fills_columns_from_a_columns_file_and_downloads_them_typed(tmp_path, stub_provider):  # noqa: F811
    def handler(body: dict) -> tuple[int, dict]:
        review = body["messages"][-1]["content"]
        if len(body["messages"]) == 1 and "meh" in review:
            return 200, _completion('{"sentiment": "meh", "stars": 3}')  # not one of the choices: asked again
        good = "loved" in review
        return 200, _completion(
            json.dumps({"sentiment": "positive" if good else "negative", "stars": "5" if good else 2, "recommends": "yes" if good else "no"})
        )

    base_url = stub_provider(handler)
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps([
        {"name": "sentiment", "type": "choice", "choices": ["positive", "negative"]},
        {"name": "stars", "type": "integer"},
        {"name": "recommends", "type": "boolean", "description": "would buy again"},
    ]), encoding="utf-8")  # fmt: skip
    src = tmp_path / "reviews.csv"
    pd.DataFrame({"review": ["I loved it", "It broke", "meh"]}).to_csv(src, index=False)
    out = tmp_path / "out.xlsx"
    r = cli(
        "run", str(src), "--template", "Review: {review}", "--columns", str(columns), "--base-url", base_url, "--model", "stub",
        "--keys-env", "KEYS", "--output", str(out), "--data-dir", str(tmp_path / "d"), env={"KEYS": "sk-stub-0000aaaa"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "3 valid, 0 invalid, 1 re-asked" in r.stderr
    sheet = openpyxl.load_workbook(out).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows[0]
    assert header[:4] == ["review", "sentiment", "stars", "recommends"]
    assert [row[1:4] for row in rows[1:]] == [["positive", 5, True], ["negative", 2, False], ["negative", 2, False]]

    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "mood", "type": "choice", "choices": ["only"]}]', encoding="utf-8")
    refused = cli("run", str(src), "--template", "{review}", "--columns", str(bad), "--demo", "--output", str(out), "--data-dir", str(tmp_path / "d"))
    assert refused.returncode == 2 and "at least two allowed values" in refused.stderr and "Traceback" not in refused.stderr


def test_compare_on_the_command_line_takes_columns_too_and_scores_their_typed_values(tmp_path, stub_provider):  # noqa: F811
    def handler(body: dict) -> tuple[int, dict]:
        text = body["messages"][-1]["content"]
        spam = "WIN" in text and not text.startswith("Lazy")  # the lazy prompt says no to everything
        return 200, _completion(json.dumps({"spam": "是" if spam else "否"}))

    base_url = stub_provider(handler)
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps([{"name": "spam", "type": "boolean"}]), encoding="utf-8")
    src = tmp_path / "mail.csv"
    pd.DataFrame({"mail": ["WIN money now", "lunch at noon", "WIN a prize"], "label": ["yes", "no", "yes"]}).to_csv(src, index=False)
    wide, summary = tmp_path / "wide.jsonl", tmp_path / "summary.csv"
    r = cli(
        "compare", str(src), "--template", "Is this spam? {mail}", "--template", "Lazy: {mail}", "--columns", str(columns),
        "--base-url", base_url, "--model", "stub", "--keys-env", "KEYS", "--label-column", "label",
        "--output", str(wide), "--summary", str(summary), "--data-dir", str(tmp_path / "d"), env={"KEYS": "sk-stub-0000aaaa"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in wide.read_text(encoding="utf-8").splitlines()]
    assert [row["t1"] for row in rows] == [True, False, True] and [row["t2"] for row in rows] == [False, False, False]
    assert [row["t1 correct"] for row in rows] == [True, True, True]
    scores = pd.read_csv(summary, encoding="utf-8-sig").set_index("variant")
    assert (scores.loc["t1", "correct"], scores.loc["t2", "correct"]) == (3, 1)
