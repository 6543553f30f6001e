"""`python -m core run ...` as a user runs it: a real process, real files, and for real keys the
SDK's aiohttp transport talking HTTP to the simulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import ROOT, arithmetic_frame

DEMO = ROOT / "core" / "data" / "demo_arithmetic.csv"
TEMPLATE = "Compute {question}. Reply with the number only."


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_demo_run_needs_no_key_and_writes_every_row(tmp_path):
    out = tmp_path / "out.csv"
    r = cli(
        "run",
        str(DEMO),
        "--template",
        TEMPLATE,
        "--demo",
        "--first-rows",
        "60",
        "--label-column",
        "answer",
        "--output",
        str(out),
        "--data-dir",
        str(tmp_path / "d"),
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("run: ")
    assert "done: 60 rows, 60 ok" in r.stderr and "accuracy" in r.stderr
    table = read_csv(out)
    demo = read_csv(DEMO).head(60)
    assert list(table["id"]) == list(demo["id"]) and set(table["status"]) == {"ok"}
    right = (table["output"] == demo["answer"]).mean()
    assert 0.8 <= right < 1.0  # the demo model is deliberately wrong now and then


def test_bad_input_exits_2_with_the_reason(tmp_path):
    missing = cli("run", str(tmp_path / "nope.csv"), "--template", "x", "--demo", "--output", str(tmp_path / "o.csv"))
    assert missing.returncode == 2 and "Cannot read" in missing.stderr and "Traceback" not in missing.stderr
    typo = cli("run", str(DEMO), "--template", "Compute {questoin}", "--demo", "--output", str(tmp_path / "o.csv"), "--data-dir", str(tmp_path))
    assert typo.returncode == 2 and "question" in typo.stderr
    wrong_ext = cli("run", str(DEMO), "--template", TEMPLATE, "--demo", "--output", str(tmp_path / "o.pdf"))
    assert wrong_ext.returncode == 2 and ".csv" in wrong_ext.stderr
    no_keys = cli(
        "run",
        str(DEMO),
        "--template",
        TEMPLATE,
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--keys-env",
        "EMPTY_KEYS",
        "--output",
        str(tmp_path / "o.csv"),
        env={"EMPTY_KEYS": ""},
    )
    assert no_keys.returncode == 2 and "EMPTY_KEYS" in no_keys.stderr


def test_every_key_dead_stops_with_exit_1_and_resume_with_new_keys_finishes_the_run(tmp_path, sim_server):
    server = sim_server("--latency", "0.005", "--jitter", "0", "--error-rate", "0", "--rpm", "0", "--dead-key", "sk-dead-1", "--dead-key", "sk-dead-2")
    src = tmp_path / "in.csv"
    arithmetic_frame(30).to_csv(src, index=False)
    out = tmp_path / "out.xlsx"
    common = [
        "--base-url",
        server.base_url,
        "--model",
        "simulated",
        "--keys-env",
        "KEYS",
        "--output",
        str(out),
        "--data-dir",
        str(tmp_path / "d"),
        "--rpm",
        "6000",
    ]
    first = cli("run", str(src), "--template", TEMPLATE, *common, env={"KEYS": "sk-dead-1,sk-dead-2"})
    assert first.returncode == 1, first.stderr
    run_id = first.stderr.splitlines()[0].removeprefix("run: ").strip()
    assert "Every key stopped working" in first.stderr and f"--resume {run_id}" in first.stderr
    assert "sk-dead" not in first.stderr  # keys are never printed
    partial = pd.read_excel(out, dtype=str, engine="calamine")
    assert len(partial) == 30 and set(partial["status"]) == {"pending"}  # nothing failed for a dead key

    second = cli("run", str(src), *common, "--resume", run_id, env={"KEYS": "sk-good"})
    assert second.returncode == 0, second.stderr
    table = pd.read_excel(out, dtype=str, engine="calamine")
    assert list(table["output"]) == list(arithmetic_frame(30)["answer"])
    stats = server.stats()
    assert stats["sk-good"]["ok"] == 30  # over real HTTP, each row answered once


def test_resume_sends_only_the_rows_that_are_not_done(tmp_path, sim_server):
    server = sim_server("--latency", "0.005", "--jitter", "0", "--error-rate", "0", "--rpm", "0")
    src = tmp_path / "in.csv"
    arithmetic_frame(20).to_csv(src, index=False)
    data = ["--data-dir", str(tmp_path / "d"), "--base-url", server.base_url, "--model", "simulated", "--keys-env", "KEYS", "--rpm", "6000", "--no-cache"]
    first = cli("run", str(src), "--template", TEMPLATE, "--first-rows", "20", "--output", str(tmp_path / "a.jsonl"), *data, env={"KEYS": "k1"})
    assert first.returncode == 0, first.stderr
    run_id = first.stderr.splitlines()[0].removeprefix("run: ").strip()
    again = cli("run", str(src), "--output", str(tmp_path / "b.jsonl"), "--resume", run_id, *data, env={"KEYS": "k1"})
    assert again.returncode == 0, again.stderr
    assert server.stats()["k1"]["requests"] == 20  # the resumed run had nothing left to send
    lines = (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20


def test_list_shows_stored_runs(tmp_path):
    out = tmp_path / "o.csv"
    cli("run", str(DEMO), "--template", TEMPLATE, "--demo", "--first-rows", "5", "--output", str(out), "--data-dir", str(tmp_path / "d"))
    listing = cli("list", "--data-dir", str(tmp_path / "d"))
    assert listing.returncode == 0 and "5/5 rows" in listing.stdout and "demo_arithmetic.csv" in listing.stdout


def test_rpm_is_auto_by_default_a_number_is_a_ceiling_and_keys_may_share_one_limit():
    from core.cli import _keys, _parser

    def keys(*extra: str) -> list:
        return _keys(
            _parser().parse_args(
                ["run", "in.csv", "--output", "o.csv", "--base-url", "https://api.deepseek.com/v1", "--model", "m", "--key", "sk-a", "sk-b", *extra]
            )
        )

    assert [k.rpm for k in keys()] == [None, None] == [k.rpm for k in keys("--rpm", "AUTO")]
    assert [k.rpm for k in keys("--rpm", "120")] == [120, 120]
    assert [k.group for k in keys()] == [None, None]
    shared = keys("--shared-limit")
    assert shared[0].group is not None and shared[0].group == shared[1].group
    for bad in ("0", "fast"):
        r = cli("run", str(DEMO), "--template", TEMPLATE, "--demo", "--rpm", bad, "--output", "o.csv")
        assert r.returncode == 2 and "auto" in r.stderr


def test_encoding_and_separator_can_be_given_for_a_file_detection_would_misread(tmp_path):
    # Czech in cp1250 reads as Western letters too ("Plzeò"); the user who knows says so.
    src = tmp_path / "mesta.csv"
    src.write_bytes("jméno;město;question\nJiří;Plzeň;1 + 1\nŠárka;Brno;2 + 2\n".encode("cp1250"))
    out = tmp_path / "out.csv"
    r = cli(
        "run",
        str(src),
        "--template",
        "Compute {question}.",
        "--demo",
        "--encoding",
        "cp1250",
        "--separator",
        ";",
        "--output",
        str(out),
        "--data-dir",
        str(tmp_path / "d"),
    )
    assert r.returncode == 0, r.stderr
    table = read_csv(out)
    assert list(table["město"]) == ["Plzeň", "Brno"] and list(table["output"]) == ["2", "4"]
    tab = tmp_path / "t.tsv"
    tab.write_text("question\tnote\n3 + 3\tx\n", encoding="utf-8")
    r = cli("run", str(tab), "--template", "Compute {question}.", "--demo", "--separator", "\\t", "--output", str(out), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert list(read_csv(out)["note"]) == ["x"]
    bad = cli("run", str(src), "--template", "x {question}", "--demo", "--encoding", "klingon", "--output", str(out), "--data-dir", str(tmp_path / "d"))
    assert bad.returncode == 2 and "klingon" in bad.stderr and "Traceback" not in bad.stderr
