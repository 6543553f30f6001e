"""The store's schema, as numbered migrations: functions run in order on open, each once, each
recorded by name in the `migrations` table (simonw/llm's `@migration def m001_initial(db)`).

A new column is a new migration (`ALTER TABLE ... ADD COLUMN` with a default); never edit or
rename one that has shipped, or existing databases run it again. Every INSERT in the store names
its columns, so a column added here breaks no write."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["MIGRATIONS", "migration", "migrate"]

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; they run in the order they are defined."""
    MIGRATIONS.append(fn)
    return fn


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this database has not had yet, each in its own transaction.

    `db` must be in autocommit mode (`isolation_level=None`). Two processes opening the same file
    at once are fine: the second finds the name recorded once it gets the write lock."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {r[0] for r in db.execute("SELECT name FROM migrations")}
    for fn in MIGRATIONS:
        name = fn.__name__
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone() is None:
                fn(db)
                db.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    (name, datetime.now(UTC).isoformat(timespec="milliseconds")),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    # One execute per statement: splitting a script on ";" breaks on the first trigger.
    db.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            file_name TEXT NOT NULL DEFAULT '',
            n_rows INTEGER NOT NULL,
            columns_json TEXT NOT NULL,
            spec_json TEXT NOT NULL,
            keys_json TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE inputs (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            row INTEGER NOT NULL,
            cells_json TEXT NOT NULL,
            PRIMARY KEY (run_id, row)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE results (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            row INTEGER NOT NULL,
            status TEXT NOT NULL,
            output TEXT,
            fields_json TEXT,
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            latency_ms INTEGER,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            model TEXT,
            key_fp TEXT,
            finish_reason TEXT,
            cached INTEGER NOT NULL DEFAULT 0,
            correct INTEGER,
            finished_at TEXT NOT NULL,
            PRIMARY KEY (run_id, row)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            output TEXT NOT NULL,
            finish_reason TEXT,
            tokens_in INTEGER NOT NULL,
            tokens_out INTEGER NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID
        """
    )


@migration
def m002_batch_jobs(db: sqlite3.Connection) -> None:
    # One row per request file of a batch-mode run. The row is written (state 'intent') before
    # anything is uploaded, and each provider id the moment it exists, so a resume polls what was
    # made and never makes it twice (core/batch_store.py).
    db.execute(
        """
        CREATE TABLE batch_jobs (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            part INTEGER NOT NULL,
            rows_json TEXT NOT NULL,
            input_file_id TEXT,
            batch_id TEXT,
            state TEXT NOT NULL,
            total INTEGER NOT NULL DEFAULT 0,
            completed INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            output_file_id TEXT,
            error_file_id TEXT,
            message TEXT NOT NULL DEFAULT '',
            applied INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            polled_at TEXT,
            PRIMARY KEY (run_id, part)
        ) WITHOUT ROWID
        """
    )


@migration
def m003_comparisons(db: sqlite3.Connection) -> None:
    # A comparison is a few ordinary runs (one per variant, on the same rows) and how to score
    # them; its variants' run ids are in variants_json. Deleting a run leaves the comparison,
    # which then shows that variant as deleted.
    db.execute(
        """
        CREATE TABLE comparisons (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            file_name TEXT NOT NULL DEFAULT '',
            label_column TEXT,
            scoring_json TEXT NOT NULL,
            selection_json TEXT NOT NULL,
            rows_json TEXT NOT NULL,
            variants_json TEXT NOT NULL
        )
        """
    )


@migration
def m004_batch_job_key(db: sqlite3.Connection) -> None:
    # Which key a batch part belongs to (its fingerprint, never the key): the key that uploads its
    # file owns the file and the batch at the provider, and only that key can poll them. Written
    # before the upload, so a crash after it knows whose files to look through. NULL for parts
    # made before this column (sent with the run's first key).
    db.execute("ALTER TABLE batch_jobs ADD COLUMN key_fp TEXT")


@migration
def m005_owners(db: sqlite3.Connection) -> None:
    # Runs and comparisons get an owner (the signed-in user's id; '' is the local user, which
    # every row from before is) and a "shared with the team" flag (core/ownership.py). The
    # response cache is rebuilt keyed by (owner, key), with the run that answered, so that one
    # user's answers are never served to another and deleting a run deletes what it cached.
    # Entries from before have no run: "Clear cache" removes them.
    for table in ("runs", "comparisons"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        db.execute(f"ALTER TABLE {table} ADD COLUMN shared INTEGER NOT NULL DEFAULT 0")
        db.execute(f"CREATE INDEX {table}_owner ON {table} (owner)")
    db.execute(
        """
        CREATE TABLE cache_owned (
            owner TEXT NOT NULL DEFAULT '',
            key TEXT NOT NULL,
            run_id TEXT,
            model TEXT NOT NULL,
            output TEXT NOT NULL,
            finish_reason TEXT,
            tokens_in INTEGER NOT NULL,
            tokens_out INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (owner, key)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        "INSERT INTO cache_owned (owner, key, run_id, model, output, finish_reason, tokens_in, tokens_out, created_at) "
        "SELECT '', key, NULL, model, output, finish_reason, tokens_in, tokens_out, created_at FROM cache"
    )
    db.execute("DROP TABLE cache")
    db.execute("ALTER TABLE cache_owned RENAME TO cache")
    db.execute("CREATE INDEX cache_run ON cache (run_id)")


@migration
def m006_judge(db: sqlite3.Connection) -> None:
    # A comparison may be scored by a judge (core/judge.py): its settings, never its keys, in
    # judge_json (NULL: no judge). The judge grades a variant in runs of its own, each started once
    # that variant has answered every row and holding the answers no earlier one was given (a retry
    # of failed rows brings new ones); comparison_judges says which run grades which variant.
    db.execute("ALTER TABLE comparisons ADD COLUMN judge_json TEXT")
    db.execute(
        """
        CREATE TABLE comparison_judges (
            comparison_id TEXT NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
            variant INTEGER NOT NULL,
            run_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (comparison_id, run_id)
        ) WITHOUT ROWID
        """
    )


@migration
def m007_run_leases(db: sqlite3.Connection) -> None:
    # Which process runs a run: taken before it starts, renewed while it goes, deleted when it
    # ends (core/leases.py). A lease whose expires_at has passed belongs to a process that died.
    # IF NOT EXISTS: a data folder made while this was still called m004_, m005_ or m006_run_leases (never shipped).
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS run_leases (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            holder TEXT NOT NULL,
            heartbeat_at REAL NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID
        """
    )


@migration
def m008_output_columns(db: sqlite3.Connection) -> None:
    # How many times each row was asked again because its answer did not fit the output columns
    # (the progress counts re-asked rows, after a resume too) ...
    # (Tolerant of a store that already has them: on its branch this migration had an earlier
    # number before main's m004-m007 took those.)
    if "reasks" not in {r[1] for r in db.execute("PRAGMA table_info(results)")}:
        db.execute("ALTER TABLE results ADD COLUMN reasks INTEGER NOT NULL DEFAULT 0")
    # ... and the way of asking for columns that worked per provider and model (core/structured.py),
    # so that a resume or the next run does not pay for the refusals again.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS ask_modes (
            base_url TEXT NOT NULL,
            model TEXT NOT NULL,
            mode TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (base_url, model)
        ) WITHOUT ROWID
        """
    )
