"""The run store: SQLite is the source of truth for runs, their input rows and each row's result,
so that a refresh, a second tab or a restarted server finds a run again. Keys never enter it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from . import constants as C
from .keys import KeyInfo
from .leases import Lease, holder
from .migrations import migrate
from .spec import RunSpec
from .status import RowStatus, RunStatus

__all__ = [
    "RowResult", "RunRecord", "RunStore", "get_store", "new_run_id", "default_data_dir", "cache_key", "utc_now", "ROW_STATUSES", "RUN_STATUSES",
]  # fmt: skip

ROW_STATUSES = (RowStatus.OK, RowStatus.UNPARSED, RowStatus.FAILED)  # what a stored result can be
# What `set_status` may store: never 'creating' or 'deleting' (create_run and delete_run own
# those), nor the live-only 'starting' and 'finishing'.
RUN_STATUSES = (
    RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.WAITING_FOR_KEYS, RunStatus.DONE, RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.INTERRUPTED,
)  # fmt: skip

# A run being written or removed in chunks: invisible to every reader until it is complete, and
# removed on open if a crash cut it off (see `purge_incomplete`).
INCOMPLETE_STATUSES = (RunStatus.CREATING, RunStatus.DELETING)
# Newest first: by the time of creation (milliseconds), then the order of insertion. Not by id: an id
# is its second and a random suffix, so two runs of one second would sort by chance.
_NEWEST_FIRST = "runs.created_at DESC, runs.rowid DESC"
_VISIBLE = f"status NOT IN ({', '.join(repr(str(s)) for s in INCOMPLETE_STATUSES)})"


def utc_now() -> str:
    """Now as the store writes times: ISO 8601 in UTC, to the millisecond (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


_now = utc_now  # the store's own short name


def new_run_id() -> str:
    """Time-sortable and URL-safe: 20261121-203712-3fa9c2."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def default_data_dir() -> Path:
    return Path(os.environ.get(C.DATA_DIR_ENV) or C.DEFAULT_DATA_DIR)


def cache_key(base_url: str, model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """The response cache's key: the same messages with the same parameters to the same model at
    the same provider get the same answer from the cache (`cache_lookup`)."""
    payload = json.dumps({"base_url": base_url.rstrip("/"), "model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class RowResult:
    row: int
    status: RowStatus  # one of ROW_STATUSES; a string is made a RowStatus (a typo is a ValueError)
    output: str | None = None
    fields: dict[str, object] | None = None  # the output columns' typed values (JSON in the store)
    error: str | None = None
    attempts: int = 0
    latency_ms: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    model: str | None = None
    key_fp: str | None = None
    finish_reason: str | None = None
    cached: bool = False
    correct: bool | None = None
    reasks: int = 0  # times the row was asked again because its answer did not fit the columns

    def __post_init__(self) -> None:
        if type(self.status) is not RowStatus:
            object.__setattr__(self, "status", RowStatus(self.status))


@dataclass(frozen=True)
class RunRecord:
    id: str
    created_at: str
    updated_at: str
    status: RunStatus
    message: str
    file_name: str
    n_rows: int
    columns: tuple[str, ...]
    spec: RunSpec
    keys: tuple[KeyInfo, ...]
    ok: int = 0
    unparsed: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    correct: int = 0
    judged: int = 0
    reasked: int = 0  # rows asked again because their answer did not fit the columns
    owner: str = ""  # the user who made it ('' is the local user: the command line, a local app)
    shared: bool = False  # its owner shared it with the team: others see it, read-only
    lease: Lease | None = None  # the process that runs it, if one does (core/leases.py)

    @property
    def running_elsewhere(self) -> bool:
        """Another live process runs it: this one shows its progress from the store, never runs it."""
        return self.lease is not None and self.lease.elsewhere()

    @property
    def done(self) -> int:
        return self.ok + self.unparsed + self.failed

    @property
    def pending(self) -> int:
        return self.n_rows - self.done

    @property
    def simulated(self) -> bool:
        return bool(self.keys) and all(k.simulated for k in self.keys)


class RunStore:
    """One SQLite file in WAL mode; one connection per thread (the engine's loop thread and each
    UI thread get their own); one short transaction per finished row."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / C.DB_FILENAME
        self._local = threading.local()
        # Called with each new connection (tests use it to fill the "disk" with max_page_count).
        self.connect_hook: Callable[[sqlite3.Connection], None] | None = None
        migrate(self._conn())
        try:
            self.purge_incomplete()
        except sqlite3.Error:
            pass  # a full disk, say: the store still opens, and a later open tidies up

    # --- connections --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=C.STORE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process; only a power cut can lose the last rows.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if self.connect_hook is not None:
                self.connect_hook(conn)
            self._local.conn = conn
        return conn

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for the store's companions (batch_store, compare_store) to
        read their own tables; writes go through `transaction()`."""
        return self._conn()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on this thread's connection: BEGIN IMMEDIATE, then COMMIT when
        the block ends, or ROLLBACK if it raises. Used inside another one it joins it, so the
        store's own writes (`record_results`) commit together with the caller's statements:

            with store.transaction() as conn:
                store.record_results(run_id, items)
                conn.execute("UPDATE batch_jobs SET applied = 1 WHERE ...")
        """
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield self._local.tx_conn
            finally:
                self._local.depth = depth
            return
        conn = self._conn()
        try:
            self._local.depth, self._local.tx_conn = 1, conn
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # A failed statement or COMMIT (a full disk) leaves the connection in doubt: roll
            # back and start the next transaction on a fresh one, so "free space, resume" works.
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self.close()
            raise
        finally:
            self._local.depth, self._local.tx_conn = 0, None

    def _tx(self, statements: Iterable[tuple[str, Sequence[object]]]) -> None:
        with self.transaction() as conn:
            for sql, params in statements:
                conn.execute(sql, params)

    def _in_tx(self, work: Callable[[sqlite3.Connection], object]) -> None:
        with self.transaction() as conn:
            work(conn)

    # --- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        spec: RunSpec,
        frame: pd.DataFrame,
        keys: Sequence[KeyInfo],
        *,
        file_name: str = "",
        run_id: str | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        owner: str = "",
    ) -> str:
        """Store a new run and its input rows. In chunks of STORE_CHUNK_ROWS, each its own short
        transaction, so a 200,000-row upload never holds the write lock while other runs write;
        until the last chunk is in, the run is 'creating' and no reader sees it. `on_progress(rows,
        total)` is called between chunks. If anything fails, the half-made run is removed. `owner`
        is the user it belongs to ('' the local user)."""
        run_id = run_id or new_run_id()
        columns = [str(c) for c in frame.columns]
        now = _now()
        self._tx([(
            "INSERT INTO runs (id, created_at, updated_at, status, message, file_name, n_rows, columns_json, spec_json, keys_json, owner) "
            "VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
            (run_id, now, now, RunStatus.CREATING, file_name, len(frame), json.dumps(columns, ensure_ascii=False), spec.to_json(), _keys_json(keys), owner),
        )])  # fmt: skip
        try:
            rows = frame.itertuples(index=False, name=None)
            for start in range(0, len(frame), C.STORE_CHUNK_ROWS):
                # Encoded before the transaction: the lock is held for the INSERTs only.
                chunk = [(run_id, start + i, json.dumps(cells, ensure_ascii=False)) for i, cells in zip(range(C.STORE_CHUNK_ROWS), rows)]

                def insert(conn: sqlite3.Connection, chunk: list[tuple[str, int, str]] = chunk) -> None:
                    conn.executemany("INSERT INTO inputs (run_id, row, cells_json) VALUES (?, ?, ?)", chunk)
                    conn.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (_now(), run_id))  # alive, not stale

                self._in_tx(insert)
                if on_progress is not None:
                    on_progress(start + len(chunk), len(frame))
            self._tx([("UPDATE runs SET status = ?, updated_at = ? WHERE id = ? AND status = ?", (RunStatus.PAUSED, _now(), run_id, RunStatus.CREATING))])
        except BaseException:
            try:
                self._purge(run_id)
            except sqlite3.Error:
                pass  # still 'creating': invisible, and removed by a later open
            raise
        return run_id

    def set_status(self, run_id: str, status: str, message: str = "") -> None:
        self._tx([_status_statement(run_id, status, message, _now())])

    def update_keys(self, run_id: str, keys: Sequence[KeyInfo]) -> None:
        self._tx([_keys_statement(run_id, keys, _now())])

    def get_run(self, run_id: str, *, counts: bool = True) -> RunRecord | None:
        """A run and, unless `counts=False`, its row counts, tokens and cost (one scan of its
        results; a page that only needs the settings skips it). A run still being created or
        deleted does not exist here: it cannot be opened, resumed or downloaded half-made."""
        rows = self._run_rows(f"WHERE id = ? AND {_VISIBLE}", (run_id,), counts=counts)
        return rows[0] if rows else None

    def list_runs(self, limit: int = 200, *, visible_to: str | None = None) -> list[RunRecord]:
        """The newest runs first: all of them, or with `visible_to` an owner's own and those
        shared with the team (who may see what is core/ownership.py's rule)."""
        if visible_to is None:
            return self._run_rows(f"WHERE {_VISIBLE} ORDER BY {_NEWEST_FIRST} LIMIT ?", (limit,), counts=True)
        return self._run_rows(f"WHERE {_VISIBLE} AND (owner = ? OR shared = 1) ORDER BY {_NEWEST_FIRST} LIMIT ?", (visible_to, limit), counts=True)

    def set_shared(self, run_id: str, shared: bool) -> None:
        self._tx([(f"UPDATE runs SET shared = ? WHERE id = ? AND {_VISIBLE}", (int(shared), run_id))])

    def _run_rows(self, where: str, params: Sequence[object], *, counts: bool) -> list[RunRecord]:
        conn = self._conn()
        runs = conn.execute(
            "SELECT runs.*, l.holder AS lease_holder, l.heartbeat_at AS lease_heartbeat, l.expires_at AS lease_expires "
            f"FROM runs LEFT JOIN run_leases l ON l.run_id = runs.id {where}",
            params,
        ).fetchall()
        totals: dict[str, dict[str, float]] = {r["id"]: {} for r in runs}
        if counts and runs:
            marks = ",".join("?" * len(runs))
            for t in conn.execute(
                "SELECT run_id, status, COUNT(*) AS n, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out, "
                "SUM(cost) AS cost, SUM(correct = 1) AS correct, COUNT(correct) AS judged, SUM(reasks > 0) AS reasked "
                f"FROM results WHERE run_id IN ({marks}) GROUP BY run_id, status",
                list(totals),
            ):
                agg = totals[t["run_id"]]
                agg[t["status"]] = t["n"]
                for name in ("tokens_in", "tokens_out", "cost", "correct", "judged", "reasked"):
                    agg[name] = agg.get(name, 0) + (t[name] or 0)
        out = []
        for r in runs:
            agg = totals[r["id"]]
            out.append(
                RunRecord(
                    id=r["id"],
                    created_at=r["created_at"],
                    updated_at=r["updated_at"],
                    status=RunStatus(r["status"]),
                    message=r["message"],
                    file_name=r["file_name"],
                    n_rows=r["n_rows"],
                    columns=tuple(json.loads(r["columns_json"])),
                    spec=RunSpec.from_json(r["spec_json"]),
                    keys=tuple(KeyInfo(**k) for k in json.loads(r["keys_json"])),
                    ok=int(agg.get("ok", 0)),
                    unparsed=int(agg.get("unparsed", 0)),
                    failed=int(agg.get("failed", 0)),
                    tokens_in=int(agg.get("tokens_in", 0)),
                    tokens_out=int(agg.get("tokens_out", 0)),
                    cost=float(agg.get("cost", 0.0)),
                    correct=int(agg.get("correct", 0)),
                    judged=int(agg.get("judged", 0)),
                    reasked=int(agg.get("reasked", 0)),
                    owner=r["owner"],
                    shared=bool(r["shared"]),
                    lease=Lease(r["id"], r["lease_holder"], r["lease_heartbeat"], r["lease_expires"]) if r["lease_holder"] is not None else None,
                )
            )
        return out

    def delete_run(self, run_id: str, *, on_progress: Callable[[int, int], None] | None = None) -> None:
        """Delete a run with its rows and the answers it put in the cache, in chunks (see
        `create_run`). It disappears from readers at once; a crash halfway leaves it 'deleting',
        and the next open finishes the job."""
        self._tx([("UPDATE runs SET status = ?, updated_at = ? WHERE id = ?", (RunStatus.DELETING, _now(), run_id))])
        self._purge(run_id, on_progress)

    def _purge(self, run_id: str, on_progress: Callable[[int, int], None] | None = None) -> None:
        top = (
            self._conn()
            .execute(
                "SELECT MAX(m) FROM (SELECT MAX(row) AS m FROM inputs WHERE run_id = ? UNION ALL SELECT MAX(row) FROM results WHERE run_id = ?)",
                (run_id, run_id),
            )
            .fetchone()[0]
        )
        end = (top if top is not None else -1) + 1
        for start in range(0, end, C.STORE_CHUNK_ROWS):
            # By primary-key range: each chunk is a contiguous slice of both tables.
            self._tx(
                [
                    (f"DELETE FROM {table} WHERE run_id = ? AND row >= ? AND row < ?", (run_id, start, start + C.STORE_CHUNK_ROWS))
                    for table in ("results", "inputs")
                ]
            )
            if on_progress is not None:
                on_progress(min(start + C.STORE_CHUNK_ROWS, end), end)
        self._delete_cache("run_id = ?", (run_id,))
        self._tx([("DELETE FROM runs WHERE id = ?", (run_id,))])

    def purge_incomplete(self, stale_after_s: float = C.STALE_CREATING_RUN_S) -> list[str]:
        """Finish removing runs a crash cut off: any run left 'deleting', and any run still
        'creating' that has not moved for `stale_after_s` (a younger one may be being created
        by another process right now). Returns their ids."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=stale_after_s)).isoformat(timespec="milliseconds")
        ids = [
            r[0]
            for r in self._conn().execute(
                "SELECT id FROM runs WHERE status = ? OR (status = ? AND updated_at <= ?)", (RunStatus.DELETING, RunStatus.CREATING, cutoff)
            )
        ]
        for run_id in ids:
            self._purge(run_id)
        return ids

    def _tx_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._in_tx(lambda conn: conn.executemany(sql, rows))

    # --- rows ---------------------------------------------------------------------------------

    def load_inputs(self, run_id: str, *, limit: int | None = None) -> pd.DataFrame:
        run = self.get_run(run_id, counts=False)
        if run is None:
            raise KeyError(run_id)
        cur = self._conn().execute(
            "SELECT cells_json FROM inputs WHERE run_id = ? AND row < ? ORDER BY row", (run_id, limit if limit is not None else run.n_rows)
        )
        data = [json.loads(r[0]) for r in cur]
        return pd.DataFrame(data, columns=list(run.columns), dtype=object)

    def pending_rows(self, run_id: str) -> list[int]:
        """Rows with no result yet, in input order: what a resumed run still has to do."""
        cur = self._conn().execute(
            "SELECT i.row FROM inputs i LEFT JOIN results x ON x.run_id = i.run_id AND x.row = i.row WHERE i.run_id = ? AND x.row IS NULL ORDER BY i.row",
            (run_id,),
        )
        return [r[0] for r in cur]

    def record_result(self, run_id: str, result: RowResult, cache_key: str | None = None) -> None:
        """One row, one transaction: a crash after this line loses nothing of this row."""
        self.record_results(run_id, [(result, cache_key)])

    def record_results(self, run_id: str, items: Iterable[tuple[RowResult, str | None]]) -> None:
        """Finished rows, each with its cache key or None, in one transaction: all or none."""
        now = _now()
        self._tx([st for result, key in items for st in _result_statements(run_id, result, key, now)])

    def write_batch(self, ops: Sequence[tuple[str, str, RowResult | None, str | None, str, str, Sequence[KeyInfo]]]) -> None:
        """Many row results and status changes in one transaction, in order (the writer thread's
        commit): (kind, run_id, result, cache_key, status, message, keys) with kind "row",
        "status" or "keys"."""
        now = _now()
        statements: list[tuple[str, Sequence[object]]] = []
        for kind, run_id, result, cache_key, status, message, keys in ops:
            if kind == "row":
                assert result is not None
                statements += _result_statements(run_id, result, cache_key, now)
            elif kind == "status":
                statements.append(_status_statement(run_id, status, message, now))
            else:
                statements.append(_keys_statement(run_id, keys, now))
        self._tx(statements)

    def reset_rows(self, run_id: str, status: RowStatus = RowStatus.FAILED) -> int:
        """Forget the results with this status so that a resumed run does those rows again."""
        conn = self._conn()
        n = conn.execute("SELECT COUNT(*) FROM results WHERE run_id = ? AND status = ?", (run_id, status)).fetchone()[0]
        self._tx([("DELETE FROM results WHERE run_id = ? AND status = ?", (run_id, status))])
        return n

    def results(self, run_id: str, *, limit: int | None = None) -> list[dict]:
        """Raw result rows (optionally only for the first `limit` input rows), in input order."""
        sql = "SELECT * FROM results WHERE run_id = ?"
        params: list[object] = [run_id]
        if limit is not None:
            sql += " AND row < ?"
            params.append(limit)
        return [dict(r) for r in self._conn().execute(sql + " ORDER BY row", params)]

    def results_table(self, run_id: str, *, details: bool = False, limit: int | None = None) -> pd.DataFrame:
        """The download: every input column in input order, then the outputs, status and error;
        exactly one row per input row, pending rows included as 'pending'. `limit` keeps only
        the first rows (a page showing progress needs no 100,000-row table)."""
        run = self.get_run(run_id, counts=False)
        if run is None:
            raise KeyError(run_id)
        inputs = self.load_inputs(run_id, limit=limit)
        by_row = {r["row"]: r for r in self.results(run_id, limit=limit)}
        fields = run.spec.column_names
        taken = set(inputs.columns)

        def fresh(name: str) -> str:
            candidate = name
            while candidate in taken:
                candidate = f"llm_{candidate}"
            taken.add(candidate)
            return candidate

        field_cols = {f: fresh(f) for f in fields}
        out_col = fresh("output_raw" if fields else "output")
        status_col, error_col = fresh("status"), fresh("error")
        correct_col = fresh("correct") if run.spec.label_column else None
        detail_names = ("attempts", "reasks", "latency_ms", "tokens_in", "tokens_out", "model", "key", "finish_reason", "cached")
        extra = {name: fresh(name) for name in detail_names} if details else {}

        n = len(inputs)
        columns: dict[str, list[object]] = {c: [None] * n for c in [*field_cols.values(), out_col, status_col, error_col]}
        if correct_col:
            columns[correct_col] = [None] * n
        for col in extra.values():
            columns[col] = [None] * n
        for i in range(n):
            r = by_row.get(i)
            if r is None:
                columns[status_col][i] = RowStatus.PENDING.value  # plain text in the table, as stored ones are
                continue
            parsed = json.loads(r["fields_json"]) if r["fields_json"] else {}
            for f, col in field_cols.items():
                columns[col][i] = parsed.get(f)
            columns[out_col][i] = r["output"]
            columns[status_col][i] = r["status"]
            columns[error_col][i] = r["error"]
            if correct_col:
                columns[correct_col][i] = None if r["correct"] is None else bool(r["correct"])
            for name, col in extra.items():
                columns[col][i] = r["key_fp" if name == "key" else name]
        table = inputs.copy()
        typed = set(field_cols.values())
        for col, values in columns.items():
            # The columns' typed values as objects: whole numbers with a gap must not become
            # floats and NaN, nor yes/no become objects of another kind.
            table[col] = pd.Series(values, dtype=object, index=table.index) if col in typed else values
        return table

    # --- response cache -----------------------------------------------------------------------

    def cache_lookup(self, keys: Sequence[str], *, owner: str = "") -> dict[str, sqlite3.Row]:
        """The cached answers among these keys that belong to `owner` (a run's owner: one
        user's answers are never another's)."""
        found: dict[str, sqlite3.Row] = {}
        conn = self._conn()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(f"SELECT * FROM cache WHERE owner = ? AND key IN ({marks})", (owner, *chunk)):
                found[r["key"]] = r
        return found

    def cache_size(self, owner: str | None = None) -> int:
        """Answers in the cache: an owner's, or everyone's."""
        sql, params = ("SELECT COUNT(*) FROM cache", ()) if owner is None else ("SELECT COUNT(*) FROM cache WHERE owner = ?", (owner,))
        return int(self._conn().execute(sql, params).fetchone()[0])

    def clear_cache(self, owner: str | None = None) -> int:
        """Forget an owner's cached answers (None: everyone's); returns how many. Runs keep
        their results: only repeated prompts are sent again."""
        return self._delete_cache("1 = 1", ()) if owner is None else self._delete_cache("owner = ?", (owner,))

    def _delete_cache(self, where: str, params: Sequence[object]) -> int:
        # In chunks, each its own short transaction, as a run's rows are deleted (see `_purge`).
        sql = f"DELETE FROM cache WHERE (owner, key) IN (SELECT owner, key FROM cache WHERE {where} LIMIT ?)"
        counts: list[int] = []
        while not counts or counts[-1] == C.STORE_CHUNK_ROWS:
            self._in_tx(lambda conn: counts.append(conn.execute(sql, (*params, C.STORE_CHUNK_ROWS)).rowcount))
        return sum(counts)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# The process's stores, one per data folder: see get_store.
_stores: dict[Path, RunStore] = {}
_stores_lock = threading.Lock()


def get_store(data_dir: str | os.PathLike[str] | None = None) -> RunStore:
    """The process's store for a data folder (default: $LLM_BATCH_DATA_DIR, else ./data), opened
    on first use, as `get_runner` is the process's runner. The app's pages share it across
    sessions; each thread still gets its own connection. The folder is read at every call, so a
    changed $LLM_BATCH_DATA_DIR (a test's) gets a store of its own."""
    path = (Path(data_dir) if data_dir is not None else default_data_dir()).resolve()
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = RunStore(path)
        return store


_RESULT_COLUMNS = (
    "run_id, row, status, output, fields_json, error, attempts, latency_ms, tokens_in, tokens_out, cost, "
    "model, key_fp, finish_reason, cached, correct, finished_at, reasks"
)


def _result_statements(run_id: str, result: RowResult, cache_key: str | None, now: str) -> list[tuple[str, Sequence[object]]]:
    """The statements that save one finished row (and its cache entry). Columns are named, so a
    later migration that adds one breaks nothing."""
    fields = json.dumps(result.fields, ensure_ascii=False) if result.fields is not None else None
    values = (
        run_id, result.row, result.status, result.output, fields, result.error, result.attempts, result.latency_ms,
        result.tokens_in, result.tokens_out, result.cost, result.model, result.key_fp, result.finish_reason,
        int(result.cached), None if result.correct is None else int(result.correct), now, result.reasks,
    )  # fmt: skip
    # A row of a run deleted meanwhile is dropped, not an error: as a foreign-key failure it would
    # fail its whole batch for ever, and with it every other run's rows behind it in the writer.
    statements: list[tuple[str, Sequence[object]]] = [
        (f"INSERT OR REPLACE INTO results ({_RESULT_COLUMNS}) SELECT {', '.join('?' * 18)} WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?)", (*values, run_id))
    ]
    if cache_key is not None and result.status != RowStatus.FAILED and not result.cached and result.output is not None:
        # The run's owner's, marked with the run, so deleting the run deletes it (none if the run is gone).
        statements.append(
            (
                "INSERT OR REPLACE INTO cache (owner, key, run_id, model, output, finish_reason, tokens_in, tokens_out, created_at) "
                "SELECT owner, ?, id, ?, ?, ?, ?, ?, ? FROM runs WHERE id = ?",
                (cache_key, result.model or "", result.output, result.finish_reason, result.tokens_in, result.tokens_out, now, run_id),
            )
        )
    return statements


def _status_statement(run_id: str, status: RunStatus | str, message: str, now: str) -> tuple[str, Sequence[object]]:
    if status not in RUN_STATUSES:
        raise ValueError(f"not a run status: {status!r}")
    # Never on a run being created or deleted: a late status must not make a half-made run look real.
    # Nor on a run another live process has taken over (this one froze past its lease): its
    # status is that process's to say.
    return (
        f"UPDATE runs SET status = ?, message = ?, updated_at = ? WHERE id = ? AND {_VISIBLE} AND NOT EXISTS "
        "(SELECT 1 FROM run_leases WHERE run_id = ? AND holder != ? AND expires_at > ?)",
        (status, message, now, run_id, run_id, holder(), time.time()),
    )


def _keys_statement(run_id: str, keys: Sequence[KeyInfo], now: str) -> tuple[str, Sequence[object]]:
    return (f"UPDATE runs SET keys_json = ?, updated_at = ? WHERE id = ? AND {_VISIBLE}", (_keys_json(keys), now, run_id))


def _keys_json(keys: Sequence[KeyInfo]) -> str:
    return json.dumps(
        [
            {"provider": k.provider, "base_url": k.base_url, "model": k.model, "rpm": k.rpm, "tpm": k.tpm, "fingerprint": k.fingerprint, "masked": k.masked}
            for k in keys
        ],
        ensure_ascii=False,
    )
