from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from core.columns import OutputColumn
from core.compare_store import list_comparisons, save_comparison
from core.keys import demo_pool
from core.scoring import Scoring
from core.spec import RunSpec
from core.store import RowResult, RunStore
from core.variants import RowSelection, Variant

SPEC = RunSpec(template="Say {text}", json_fields=("a", "b"), label_column="text")


def make(store: RunStore, n: int = 3, columns: dict | None = None) -> str:
    frame = pd.DataFrame(columns or {"text": [f"row {i}" for i in range(n)]}, dtype=object)
    return store.create_run(SPEC, frame, [k.info() for k in demo_pool(2)], file_name="in.csv")


def test_migrations_are_numbered_recorded_and_run_once(tmp_path):
    RunStore(tmp_path)
    RunStore(tmp_path)  # opening again must not fail or re-apply
    conn = sqlite3.connect(tmp_path / "runs.sqlite3")
    from core.migrations import MIGRATIONS

    names = [r[0] for r in conn.execute("SELECT name FROM migrations")]
    assert names == [fn.__name__ for fn in MIGRATIONS] and names[:3] == ["m001_initial", "m002_batch_jobs", "m003_comparisons"]
    assert {"m004_batch_job_key", "m005_owners", "m007_run_leases", "m008_output_columns"} <= set(names)
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


def test_typed_column_values_and_re_asks_are_kept_as_they_were(store):
    spec = RunSpec(template="Rate {text}", columns=(OutputColumn("stars", "integer", required=False), OutputColumn("good", "boolean")))
    frame = pd.DataFrame({"text": ["a", "b", "c"]}, dtype=object)
    run_id = store.create_run(spec, frame, [k.info() for k in demo_pool(1)])
    store.record_result(run_id, RowResult(row=0, status="ok", fields={"stars": 4, "good": True}, reasks=2))
    store.record_result(run_id, RowResult(row=1, status="unparsed", fields={"stars": None, "good": False}, error="..."))
    table = store.results_table(run_id, details=True)
    assert table["stars"].tolist() == [4, None, None] and type(table["stars"][0]) is int  # not 4.0 and NaN
    assert table["good"].tolist() == [True, False, None] and [r["reasks"] for r in store.results(run_id)] == [2, 0]
    assert store.get_run(run_id).reasked == 1


def test_a_store_made_before_output_columns_opens_and_keeps_its_rows(tmp_path):
    from core.migrations import MIGRATIONS

    conn = sqlite3.connect(tmp_path / "runs.sqlite3", isolation_level=None)
    old = MIGRATIONS[:4]
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for fn in old:
        fn(conn)
        conn.execute("INSERT INTO migrations VALUES (?, 'then')", (fn.__name__,))
    conn.execute(
        "INSERT INTO runs (id, created_at, updated_at, status, n_rows, columns_json, spec_json, keys_json) VALUES "
        "('r1', 'then', 'then', 'done', 1, '[\"x\"]', '{\"template\": \"{x}\", \"json_fields\": [\"a\"], \"json_response_format\": true}', '[]')"
    )
    conn.execute("INSERT INTO inputs VALUES ('r1', 0, '[\"1\"]')")
    conn.execute("INSERT INTO results (run_id, row, status, output, fields_json, finished_at) VALUES ('r1', 0, 'ok', '{}', '{\"a\": \"z\"}', 'then')")
    conn.close()
    store = RunStore(tmp_path)
    run = store.get_run("r1")
    assert run.spec.columns == (OutputColumn("a"),) and run.ok == 1 and run.reasked == 0
    assert store.results_table("r1")["a"].tolist() == ["z"]
    assert store.results("r1")[0]["reasks"] == 0


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
    assert [r.id for r in store.list_runs()][:2] == [second, first]
    store.record_result(first, RowResult(row=0, status="ok", output="x"))
    store.delete_run(first)
    assert store.get_run(first) is None
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (first,)).fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM inputs WHERE run_id = ?", (first,)).fetchone()[0] == 0


def test_runs_and_comparisons_made_in_the_same_second_are_listed_newest_first(store):
    # A run id is its second and a random suffix: two made in one second must not be listed in the
    # order of their suffixes (History showed the older first about half the time).
    frame = pd.DataFrame({"text": ["a"]}, dtype=object)
    keys = [k.info() for k in demo_pool(1)]
    older = store.create_run(SPEC, frame, keys, file_name="in.csv", run_id="20261202-101010-zzzzzz")
    newer = store.create_run(SPEC, frame, keys, file_name="in.csv", run_id="20261202-101010-aaaaaa")
    assert [r.id for r in store.list_runs()] == [newer, older]
    fields = dict(name="c", file_name="in.csv", label_column=None, scoring=Scoring(), selection=RowSelection(), rows=[0], variants=[Variant("v", "{text}")])
    save_comparison(store, **fields, run_ids=[older], comparison_id="20261202-101010-zzzzzz")
    save_comparison(store, **fields, run_ids=[newer], comparison_id="20261202-101010-aaaaaa")
    assert [c.id for c in list_comparisons(store)] == ["20261202-101010-aaaaaa", "20261202-101010-zzzzzz"]


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
    from core import migrations as store_module
    from core.spec import RunSpec

    def m999_add_column(db):  # type: ignore[no-untyped-def]
        db.execute("ALTER TABLE results ADD COLUMN reviewed INTEGER")
        db.execute("ALTER TABLE runs ADD COLUMN reviewer TEXT")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, m999_add_column])
    s = RunStore(tmp_path / "d")
    run_id = s.create_run(RunSpec(template="{q}"), pd.DataFrame({"q": ["a", "b"]}), [])
    s.record_result(run_id, RowResult(row=0, status="ok", output="x"), cache_key="k")
    assert s.get_run(run_id).ok == 1 and s.results_table(run_id)["output"][0] == "x"
    assert s._conn().execute("SELECT name FROM migrations WHERE name = 'm999_add_column'").fetchone()
    s.close()


def test_many_rows_are_saved_in_one_transaction_all_or_none(store):
    run_id = make(store, n=5)
    bad = RowResult(row=3, status="ok", output=object())  # type: ignore[arg-type]  # SQLite cannot store it
    with pytest.raises(sqlite3.Error):
        store.record_results(run_id, [(RowResult(row=0, status="ok", output="a"), None), (bad, None)])
    assert store.results(run_id) == []
    store.record_results(run_id, [(RowResult(row=i, status="ok", output=str(i)), f"k{i}") for i in range(4)])
    assert [r["row"] for r in store.results(run_id)] == [0, 1, 2, 3] and len(store.cache_lookup(["k0", "k3"])) == 2


def test_a_transaction_joins_the_stores_own_writes_and_commits_or_rolls_back_them_all(store):
    run_id = make(store, n=3)
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            store.record_results(run_id, [(RowResult(row=0, status="ok", output="a"), None)])
            conn.execute("UPDATE runs SET message = 'x' WHERE id = ?", (run_id,))
            raise RuntimeError("the caller's next step failed")
    assert store.results(run_id) == [] and store.get_run(run_id).message == ""  # neither
    with store.transaction() as conn:
        store.record_results(run_id, [(RowResult(row=0, status="ok", output="a"), None)])
        conn.execute("UPDATE runs SET message = 'x' WHERE id = ?", (run_id,))
        assert store.connection.in_transaction  # still open: the inner write did not commit alone
    assert [r["row"] for r in store.results(run_id)] == [0] and store.get_run(run_id).message == "x"  # both
    assert not store.connection.in_transaction


def test_rows_for_a_deleted_run_are_dropped_not_an_error(store):
    run_id = make(store)
    store.delete_run(run_id)
    store.record_results(run_id, [(RowResult(row=0, status="ok", output="late"), None)])
    assert store.results(run_id) == []


# --- a full disk --------------------------------------------------------------------------------


def many(start: int, n: int) -> list[tuple[RowResult, None]]:
    return [(RowResult(row=i, status="ok", output=f"answer {i} " * 20), None) for i in range(start, start + n)]


def test_a_full_disk_fails_the_write_whole_and_freeing_space_lets_the_same_store_save(full_disk_store):
    store = full_disk_store
    run_id = make(store, n=400)
    store.fill_disk()
    before = store._conn()
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.record_results(run_id, many(0, 400))
    assert store._local.conn is None, "a failed write drops its connection; the next one is fresh"
    assert store.pending_rows(run_id) == list(range(400))  # nothing half-saved
    assert store._conn() is not before

    store.free_disk()
    store.record_results(run_id, many(0, 400))
    assert store.pending_rows(run_id) == []


def test_creating_a_run_on_a_full_disk_leaves_no_half_made_run(full_disk_store):
    store = full_disk_store
    store.fill_disk()
    with pytest.raises(sqlite3.OperationalError, match="full"):
        make(store, n=5_000)
    assert store.list_runs() == []
    store.free_disk()
    run_id = make(store, n=5_000)
    assert store.get_run(run_id).n_rows == 5_000 and len(store.pending_rows(run_id)) == 5_000


# --- readers and writers at once (WAL) ----------------------------------------------------------


def test_a_reader_in_the_middle_of_a_read_does_not_stop_a_writer_and_keeps_its_snapshot(store):
    import threading

    run_id = make(store, n=10)
    store.record_result(run_id, RowResult(row=0, status="ok", output="x"))
    reader = sqlite3.connect(store.path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1  # the read snapshot starts here
    # In rollback-journal mode this commit would wait for the reader's lock (and time out).
    t = threading.Thread(target=lambda: store.record_results(run_id, many(1, 5)))
    t.start()
    t.join()
    assert reader.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    reader.execute("COMMIT")
    assert reader.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 6


def test_readers_see_whole_batches_while_another_thread_writes(store):
    import threading

    batches, size = 60, 25
    run_id = make(store, n=batches * size)
    halfway, seen_halfway, finished = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def write() -> None:
        for b in range(batches):
            if b == batches // 2:
                halfway.set()
                seen_halfway.wait()  # a reader has seen the half-written run: reading overlaps writing
            store.record_results(run_id, many(b * size, size))
        finished.set()

    def read() -> None:
        while not finished.is_set():
            done = store.get_run(run_id).done
            seen.append(done)
            if halfway.is_set() and done == batches // 2 * size:
                seen_halfway.set()
        store.close()

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert batches // 2 * size in seen
    assert seen == sorted(seen) and all(d % size == 0 for d in seen)  # never a part of a batch
    assert store.get_run(run_id).done == batches * size


# --- large runs in chunks -----------------------------------------------------------------------


def test_a_half_made_or_half_deleted_run_is_invisible_and_removed_on_open(tmp_path):
    store = RunStore(tmp_path)
    crashed_create, crashed_delete, young = make(store, n=50), make(store, n=50), make(store, n=5)
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("UPDATE runs SET status = 'creating', updated_at = '2000-01-01T00:00:00.000+00:00' WHERE id = ?", (crashed_create,))
    conn.execute("UPDATE runs SET status = 'deleting' WHERE id = ?", (crashed_delete,))
    conn.execute("UPDATE runs SET status = 'creating' WHERE id = ?", (young,))  # maybe another process, now
    store.set_status(crashed_delete, "done")  # a late status from an engine must not bring it back
    store.update_keys(crashed_create, [])
    assert store.list_runs() == [] and store.get_run(crashed_create) is None
    store.close()

    RunStore(tmp_path).close()
    left = {r[0]: r[1] for r in conn.execute("SELECT id, status FROM runs")}
    assert left == {young: "creating"}
    assert conn.execute("SELECT COUNT(*) FROM inputs WHERE run_id != ?", (young,)).fetchone()[0] == 0


def test_a_run_whose_creation_is_interrupted_is_removed(store):
    def interrupt(done: int, total: int) -> None:
        if done >= 4_000:
            raise KeyboardInterrupt

    frame = pd.DataFrame({"text": [str(i) for i in range(10_000)]}, dtype=object)
    with pytest.raises(KeyboardInterrupt):
        store.create_run(SPEC, frame, [], run_id="half", on_progress=interrupt)
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0] == 0


def test_a_200k_row_run_is_created_and_deleted_in_short_transactions_while_another_run_keeps_saving(store):
    """The write lock is held for one chunk at a time, counted in rows written per transaction,
    and another run's writer commits between every two chunks (if the creator held the lock,
    the handshake below would wait for ever). The time it takes is in benchmarks/store_lock.py."""
    import threading

    from core import constants as C

    n = 200_000
    other = make(store, n=10)
    big = "big-run"
    stop = threading.Event()
    go, committed = threading.Semaphore(0), threading.Semaphore(0)
    saved = [0]

    def other_writer() -> None:
        while go.acquire() and not stop.is_set():
            store.record_results(other, [(RowResult(row=saved[0] % 10, status="ok", output="x"), None)])
            saved[0] += 1
            committed.release()
        store.close()

    changes_per_tx: list[int] = []
    conn = store._conn()
    opened = [0]

    def trace(sql: str) -> None:
        if sql.startswith("BEGIN"):
            opened[0] = conn.total_changes
        elif sql == "COMMIT":
            changes_per_tx.append(conn.total_changes - opened[0])

    chunks = [0]

    def between_chunks(done: int, total: int) -> None:
        assert store.get_run(big) is None and big not in [r.id for r in store.list_runs()]
        chunks[0] += 1
        go.release()
        assert committed.acquire(timeout=C.STORE_BUSY_TIMEOUT_S), "the other run could not save between two chunks"

    conn.set_trace_callback(trace)
    writer = threading.Thread(target=other_writer)
    writer.start()
    try:
        frame = pd.DataFrame({"text": [f"row {i}" for i in range(n)]}, dtype=object)
        store.create_run(SPEC, frame, [], run_id=big, on_progress=between_chunks)
        assert store.get_run(big).n_rows == n and store.pending_rows(big)[-1] == n - 1
        assert chunks[0] == n // C.STORE_CHUNK_ROWS
        created = list(changes_per_tx)
        store.delete_run(big, on_progress=between_chunks)
    finally:
        stop.set()
        go.release()
        writer.join()
        conn.set_trace_callback(None)
    assert store.get_run(big) is None and chunks[0] == 2 * n // C.STORE_CHUNK_ROWS == saved[0]
    assert sum(created) >= n and max(created) <= C.STORE_CHUNK_ROWS + 1  # its rows, and "still alive"
    assert max(changes_per_tx) <= C.STORE_CHUNK_ROWS + 1  # a delete chunk: the inputs (and results) of one range
    assert sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM inputs WHERE run_id = ?", (big,)).fetchone()[0] == 0
