"""`python -m core compare ...` as a user runs it: a real process, real files; for real keys the
SDK's aiohttp transport talking HTTP to the simulator on loopback."""

from __future__ import annotations

import pandas as pd

from core.variants import RowSelection
from tests.conftest import arithmetic_frame
from tests.test_cli import DEMO, TEMPLATE, cli, read_csv

CAREFUL = "Compute {question} carefully, step by step, and check your result. Reply with the number only."


def test_the_classic_experiment_on_the_command_line_writes_the_wide_table_and_the_summary(tmp_path):
    wide, summary = tmp_path / "wide.csv", tmp_path / "summary.xlsx"
    args = ["--demo", "--label-column", "answer", "--output", str(wide), "--summary", str(summary), "--data-dir", str(tmp_path / "d")]
    r = cli("compare", str(DEMO), "--template", TEMPLATE, "--template", CAREFUL, "--rows", "60", *args)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("comparison: ")
    cid = r.stderr.splitlines()[0].removeprefix("comparison: ").strip()
    table = read_csv(wide)
    demo = read_csv(DEMO).head(60)
    assert list(table["id"]) == list(demo["id"]) and list(table["row"]) == [str(i) for i in range(1, 61)]
    assert {"t1", "t1 status", "t1 correct", "t2", "t2 status", "t2 correct"} <= set(table.columns)
    assert set(table["t1 status"]) == set(table["t2 status"]) == {"ok"}
    sums = pd.read_excel(summary, engine="calamine")
    assert list(sums["variant"]) == ["t1", "t2"]
    for name in ("t1", "t2"):
        row = sums[sums["variant"] == name].iloc[0]
        assert row["correct"] == (table[f"{name} correct"] == "True").sum() == (table[name] == demo["answer"]).sum()
        assert row["judged"] == 60 and row["failed"] == 0
    assert sums["correct"].iloc[1] > sums["correct"].iloc[0]  # care pays, on the simulated model
    assert "accuracy" in r.stderr and "winner: t2" in r.stderr

    again = cli("compare", "--resume", cid, *args)
    assert again.returncode == 0, again.stderr
    assert read_csv(wide).equals(table)  # nothing left to do: the same tables


def test_every_template_times_every_model_on_real_keys_over_http_on_a_seeded_sample(tmp_path, sim_server):
    server = sim_server("--latency", "0.005", "--jitter", "0", "--error-rate", "0", "--rpm", "0")
    src = tmp_path / "in.csv"
    arithmetic_frame(40).to_csv(src, index=False)
    prompt_file = tmp_path / "second.txt"
    prompt_file.write_text("What is {question}?", encoding="utf-8")
    out = tmp_path / "wide.jsonl"
    r = cli(
        "compare", str(src), "--template", TEMPLATE, "--template-file", str(prompt_file), "--model", "m1", "--model", "m2",
        "--base-url", server.base_url, "--keys-env", "KEYS", "--label-column", "answer", "--score", "numeric:0", "--sample", "10", "--seed", "3",
        "--rpm", "6000", "--output", str(out), "--data-dir", str(tmp_path / "d"), env={"KEYS": "sk-compare-secret-1,sk-compare-secret-2"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    table = pd.read_json(out, lines=True, dtype=False)
    assert list(table["row"]) == [i + 1 for i in RowSelection("random", 10, seed=3).rows(40)]
    for name in ("t1/m1", "t1/m2", "t2/m1", "t2/m2"):
        assert list(table[name].astype(str)) == list(table["answer"].astype(str)), name
    stats = server.stats()
    assert sum(s["requests"] for s in stats.values()) == 40  # 4 variants x 10 rows, each once
    assert "sk-compare-secret" not in r.stderr + r.stdout


def test_bad_input_exits_2_with_the_reason(tmp_path):
    common = ["--demo", "--output", str(tmp_path / "o.csv"), "--data-dir", str(tmp_path / "d")]
    both = cli("compare", str(DEMO), "--template", TEMPLATE, "--rows", "5", "--sample", "5", *common)
    assert both.returncode == 2 and "not both" in both.stderr
    score = cli("compare", str(DEMO), "--template", TEMPLATE, "--score", "fuzzy", *common)
    assert score.returncode == 2 and "Unknown scoring" in score.stderr
    same = cli("compare", str(DEMO), "--template", TEMPLATE, "--template", TEMPLATE, *common)
    assert same.returncode == 2 and "same requests" in same.stderr
    none = cli("compare", str(DEMO), *common)
    assert none.returncode == 2 and "--template" in none.stderr and "Traceback" not in none.stderr
    assert "compare" in cli("-h").stdout


def test_a_judge_on_a_provider_of_its_own_grades_every_answer_and_both_tables_go_in_one_workbook(tmp_path, sim_server):
    import openpyxl

    variants_server = sim_server("--latency", "0.005", "--jitter", "0", "--error-rate", "0.2", "--rpm", "0")
    judge_server = sim_server("--latency", "0.005", "--jitter", "0", "--rpm", "0")
    src = tmp_path / "in.csv"
    arithmetic_frame(30).to_csv(src, index=False)
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("Only the final number counts.", encoding="utf-8")
    book = tmp_path / "compare.xlsx"
    r = cli(
        "compare", str(src), "--template", TEMPLATE, "--template", CAREFUL, "--model", "m1", "--base-url", variants_server.base_url,
        "--keys-env", "KEYS", "--label-column", "answer", "--score", "judge", "--judge-model", "grader", "--judge-rubric-file", str(rubric),
        "--judge-base-url", judge_server.base_url, "--judge-keys-env", "JUDGE_KEYS", "--output", str(book), "--summary", str(book),
        "--rpm", "6000", "--data-dir", str(tmp_path / "d"), env={"KEYS": "sk-variants-secret-1", "JUDGE_KEYS": "sk-judge-secret-1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "judge grader: graded 60 of 60 answers; 60 requests" in r.stderr and "not in the variants' costs" in r.stderr
    # the variants' requests went to their provider, the judge's to its own, each on its own key
    assert {k: s["requests"] for k, s in variants_server.stats().items()} == {"sk-variants-secret-1": 60}
    assert {k: s["requests"] for k, s in judge_server.stats().items()} == {"sk-judge-secret-1": 60}
    assert "secret" not in r.stderr + r.stdout
    workbook = openpyxl.load_workbook(book)
    assert workbook.sheetnames == ["wide", "summary"]
    wide = list(workbook["wide"].values)
    header, rows = list(wide[0]), [dict(zip(wide[0], row)) for row in wide[1:]]
    assert len(rows) == 30 and {"t1 judge", "t1 judge reason", "t2 judge", "t2 correct"} <= set(header)
    for row in rows:  # the judge on its own simulator is honest: right is the label's number
        assert row["t1 correct"] is (str(row["t1"]) == str(row["answer"])) and row["t1 judge"] == ("correct" if row["t1 correct"] else "incorrect")
    summary = [dict(zip(next(workbook["summary"].values), row)) for row in list(workbook["summary"].values)[1:]]
    for s in summary:
        name = s["variant"]
        assert s["correct"] == sum(row[f"{name} correct"] is True for row in rows) and s["judge_requests"] == 30 and s["judge_model"] == "grader"
        assert type(s["accuracy"]) in (int, float) and isinstance(s["winner"], bool) and type(s["judge_tokens_in"]) is int  # typed cells


def test_a_judge_needs_its_model_and_one_file_holds_both_tables_only_as_xlsx(tmp_path):
    common = ["--demo", "--label-column", "answer", "--rows", "3", "--data-dir", str(tmp_path / "d")]
    csv = str(tmp_path / "o.csv")
    both = cli("compare", str(DEMO), "--template", TEMPLATE, "--output", csv, "--summary", csv, *common)
    assert both.returncode == 2 and "Only an .xlsx file holds both tables" in both.stderr
    keys = cli(
        "compare", str(DEMO), "--template", TEMPLATE, "--score", "judge", "--judge-model", "m", "--judge-base-url", "http://127.0.0.1:9/v1",
        "--output", csv, *common,
    )  # fmt: skip
    assert keys.returncode == 2 and "--judge-keys-env" in keys.stderr
    demo = cli("compare", str(DEMO), "--template", TEMPLATE, "--score", "judge", "--output", csv, *common)
    assert demo.returncode == 0, demo.stderr  # on the simulated provider the judge is the simulated model
    assert "judge simulated: graded 3 of 3 answers" in demo.stderr
