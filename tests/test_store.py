from __future__ import annotations

import sqlite3

import pandas as pd

from core.keys import demo_pool
from core.spec import RunSpec
from core.store import RowResult, RunStore

SPEC = RunSpec(template="Say {text}", json_fields=("a", "b"), label_column="text")


def make(store: RunStore, n: int = 3, columns: dict | None = None) -> str:
    frame = pd.DataFrame(columns or {"text": [f"row {i}" for i in range(n)]}, dtype=object)
    return store.create_run(SPEC, frame, [k.info() for k in demo_pool(2)], file_name="in.csv")


def test_migrations_are_numbered_recorded_and_run_once(tmp_path):
    RunStore(tmp_path)
    RunStore(tmp_path)  # opening again must not fail or re-apply
    conn = sqlite3.connect(tmp_path / "runs.sqlite3")
    assert [r[0] for r in conn.execute("SELECT name FROM migrations")] == ["m001_initial"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_run_keeps_its_settings_and_inputs_but_never_its_keys(store):
    run_id = make(store)
    run = store.get_run(run_id)
    assert run.spec == SPEC and run.n_rows == 3 and run.columns == ("text",) and run.file_name == "in.csv"
    assert [k.masked for k in run.keys] == ["sim...ey-1", "sim...ey-2"]
    assert list(store.load_inputs(run_id)["text"]) == ["row 0", "row 1", "row 2"]
    conn = sqlite3.connect(store.path)
    assert "sim-key-1" not in conn.execute("SELECT keys_json FROM runs").fetchone()[0]


def test_results_table_has_one_row_per_input_row_in_order_with_pending_rows(store):
    run_id = make(store)
    store.record_result(run_id, RowResult(row=2, status="ok", output='{"a": 1, "b": 2}', fields={"a": "1", "b": "2"}, correct=False))
    store.record_result(run_id, RowResult(row=0, status="failed", error="Invalid API key (401)"))
    table = store.results_table(run_id)
    assert list(table.columns) == ["text", "a", "b", "output_raw", "status", "error", "correct"]
    assert list(table["status"]) == ["failed", "pending", "ok"]
    assert table["a"][2] == "1" and table["error"][0] == "Invalid API key (401)" and table["correct"][2] is False
    assert store.pending_rows(run_id) == [1]


def test_output_columns_never_overwrite_input_columns_with_the_same_name(store):
    run_id = make(store, columns={"text": ["x"], "status": ["mine"], "a": ["input a"]})
    store.record_result(run_id, RowResult(row=0, status="ok", output="{}", fields={"a": "out a", "b": ""}))
    table = store.results_table(run_id)
    assert table["status"][0] == "mine" and table["llm_status"][0] == "ok"
    assert table["a"][0] == "input a" and table["llm_a"][0] == "out a"


def test_counts_tokens_and_cost_add_up_per_run(store):
    run_id = make(store)
    store.record_result(run_id, RowResult(row=0, status="ok", tokens_in=10, tokens_out=5, cost=0.5, correct=True))
    store.record_result(run_id, RowResult(row=1, status="unparsed", tokens_in=1, tokens_out=1, cost=0.25, correct=False))
    run = store.get_run(run_id)
    assert (run.ok, run.unparsed, run.failed, run.pending) == (1, 1, 0, 1)
    assert (run.tokens_in, run.tokens_out, run.cost, run.correct, run.judged) == (11, 6, 0.75, 1, 2)


def test_retrying_failed_rows_forgets_only_their_results(store):
    run_id = make(store)
    store.record_result(run_id, RowResult(row=0, status="ok", output="x"))
    store.record_result(run_id, RowResult(row=1, status="failed", error="e"))
    assert store.reset_rows(run_id, "failed") == 1
    assert store.pending_rows(run_id) == [1, 2]


def test_the_cache_stores_successful_answers_only(store):
    run_id = make(store)
    store.record_result(run_id, RowResult(row=0, status="ok", output="yes", model="m", tokens_in=3, tokens_out=1), cache_key="k-ok")
    store.record_result(run_id, RowResult(row=1, status="failed", error="e"), cache_key="k-failed")
    found = store.cache_lookup(["k-ok", "k-failed", "k-missing"])
    assert set(found) == {"k-ok"} and found["k-ok"]["output"] == "yes"


def test_runs_are_listed_newest_first_and_deleting_one_removes_its_rows(store):
    first, second = make(store), make(store)
    assert [r.id for r in store.list_runs()][:2] == sorted([first, second], reverse=True)
    store.record_result(first, RowResult(row=0, status="ok", output="x"))
    store.delete_run(first)
    assert store.get_run(first) is None
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (first,)).fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM inputs WHERE run_id = ?", (first,)).fetchone()[0] == 0


def test_a_second_thread_sees_rows_as_they_are_written(store):
    import threading

    run_id = make(store)

    def writer() -> None:
        store.record_result(run_id, RowResult(row=1, status="ok", output="x"))

    t = threading.Thread(target=writer)
    t.start()
    t.join()
    assert [r["row"] for r in store.results(run_id)] == [1]


def test_a_later_migration_that_adds_a_column_breaks_no_write(tmp_path, monkeypatch):
    from core import store as store_module
    from core.spec import RunSpec

    def m999_add_column(db):  # type: ignore[no-untyped-def]
        db.execute("ALTER TABLE results ADD COLUMN reviewed INTEGER")
        db.execute("ALTER TABLE runs ADD COLUMN owner TEXT")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, m999_add_column])
    s = RunStore(tmp_path / "d")
    run_id = s.create_run(RunSpec(template="{q}"), pd.DataFrame({"q": ["a", "b"]}), [])
    s.record_result(run_id, RowResult(row=0, status="ok", output="x"), cache_key="k")
    assert s.get_run(run_id).ok == 1 and s.results_table(run_id)["output"][0] == "x"
    assert s._conn().execute("SELECT name FROM migrations WHERE name = 'm999_add_column'").fetchone()
    s.close()


def test_a_large_run_is_created_and_deleted_in_short_transactions_while_others_write(tmp_path, monkeypatch):
    import threading

    from core import constants as C
    from core.spec import RunSpec

    monkeypatch.setattr(C, "STORE_CHUNK_ROWS", 1_000)
    s = RunStore(tmp_path / "d")
    other = s.create_run(RunSpec(template="{q}"), pd.DataFrame({"q": ["a"] * 10}), [])
    commits: list[str] = []
    s._conn().set_trace_callback(lambda sql: commits.append("create") if sql.strip().upper() == "COMMIT" else None)
    seen_while_creating: list[bool] = []
    stop = threading.Event()

    def writer() -> None:  # another run keeps committing meanwhile
        i = 0
        while not stop.is_set():
            s.record_result(other, RowResult(row=i % 10, status="ok", output=str(i)))
            commits.append("other")
            seen_while_creating.append(any(r.status == "creating" for r in s.list_runs()))
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        big = s.create_run(RunSpec(template="{q}"), pd.DataFrame({"q": [str(i) for i in range(20_000)]}), [])
    finally:
        stop.set()
        t.join()
    assert commits.count("create") >= 20  # 20 chunks, each its own transaction
    assert not any(seen_while_creating)  # a half-created run is never listed
    assert s.get_run(big).status == "paused" and len(s.pending_rows(big)) == 20_000
    s.delete_run(big)
    assert s.get_run(big) is None and s._conn().execute("SELECT COUNT(*) FROM inputs WHERE run_id = ?", (big,)).fetchone()[0] == 0
    s.close()
