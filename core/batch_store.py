"""The run store's record of batch jobs: one row per request file of a batch-mode run, written as
an intent before anything is uploaded, then which key sends it, and each provider id the moment
it exists. A resume reads this and polls what was made; it never makes a batch twice
(core/batch.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from .store import RowResult, RunStore, utc_now

__all__ = ["BatchJob", "BatchJobs", "TERMINAL_STATES", "PROVIDER_STATES"]

# The provider's states, in the order a batch goes through them ("intent": not created yet).
PROVIDER_STATES = ("intent", "validating", "in_progress", "finalizing", "completed", "cancelling", "cancelled", "expired", "failed")
TERMINAL_STATES = frozenset({"completed", "cancelled", "expired", "failed"})


@dataclass(frozen=True)
class BatchJob:
    run_id: str
    part: int
    rows: tuple[int, ...]
    input_file_id: str | None
    batch_id: str | None
    state: str
    total: int
    completed: int
    failed: int
    output_file_id: str | None
    error_file_id: str | None
    message: str
    applied: bool
    created_at: str
    polled_at: str | None
    key_fp: str | None = None  # the fingerprint of the key that uploads (uploaded) its file; None: the run's first key

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


class BatchJobs:
    """Batch jobs in a `RunStore`'s database: the same file, connections and transactions."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def list(self, run_id: str) -> list[BatchJob]:
        cur = self.store.connection.execute("SELECT * FROM batch_jobs WHERE run_id = ? ORDER BY part", (run_id,))
        return [
            BatchJob(
                r["run_id"],
                r["part"],
                tuple(json.loads(r["rows_json"])),
                r["input_file_id"],
                r["batch_id"],
                r["state"],
                r["total"],
                r["completed"],
                r["failed"],
                r["output_file_id"],
                r["error_file_id"],
                r["message"],
                bool(r["applied"]),
                r["created_at"],
                r["polled_at"],
                r["key_fp"],
            )  # fmt: skip
            for r in cur
        ]

    def open_runs(self) -> Sequence[str]:
        """Runs with a part not yet applied: batches that someone should be following."""
        return [r[0] for r in self.store.connection.execute("SELECT DISTINCT run_id FROM batch_jobs WHERE applied = 0 ORDER BY run_id")]

    def add_intents(self, run_id: str, parts: Sequence[Sequence[int]]) -> None:
        """Every new request file at once, in one transaction: a crash leaves all of them or none."""
        now = utc_now()
        with self.store.transaction() as conn:
            top = conn.execute("SELECT MAX(part) FROM batch_jobs WHERE run_id = ?", (run_id,)).fetchone()[0]
            first = 0 if top is None else top + 1
            conn.executemany(
                "INSERT INTO batch_jobs (run_id, part, rows_json, state, total, created_at) VALUES (?, ?, ?, 'intent', ?, ?)",
                [(run_id, first + i, json.dumps(list(rows)), len(rows), now) for i, rows in enumerate(parts)],
            )

    def set_key(self, run_id: str, part: int, key_fp: str) -> None:
        """The key that is about to upload this part's file (stored first: after a crash, its files are looked through)."""
        self._update(run_id, part, key_fp=key_fp)

    def set_file(self, run_id: str, part: int, file_id: str) -> None:
        self._update(run_id, part, input_file_id=file_id)

    def set_batch(self, run_id: str, part: int, batch_id: str, state: str) -> None:
        self._update(run_id, part, batch_id=batch_id, state=state)

    def polled(
        self,
        run_id: str,
        part: int,
        *,
        state: str,
        total: int,
        completed: int,
        failed: int,
        output_file_id: str | None,
        error_file_id: str | None,
        message: str = "",
    ) -> None:
        self._update(
            run_id, part, state=state, total=total, completed=completed, failed=failed, output_file_id=output_file_id,
            error_file_id=error_file_id, message=message, polled_at=utc_now(),
        )  # fmt: skip

    def apply(self, run_id: str, part: int, results: Sequence[RowResult]) -> None:
        """The part's rows and its 'applied' mark in one transaction: a crash keeps both or neither,
        and applying again (after a crash just before the mark) replaces the same rows."""
        with self.store.transaction() as conn:
            self.store.record_results(run_id, [(result, None) for result in results])
            conn.execute("UPDATE batch_jobs SET applied = 1 WHERE run_id = ? AND part = ?", (run_id, part))

    def _update(self, run_id: str, part: int, **values: object) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE batch_jobs SET {columns} WHERE run_id = ? AND part = ?", (*values.values(), run_id, part))
