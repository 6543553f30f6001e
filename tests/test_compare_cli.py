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
