"""The state store's schema: the statements that create its tables, one migration per version.

The version is ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes version ``i`` to ``i + 1``, so a
database written by any earlier version is brought up to date in one transaction when it is
opened, and a database from a newer version is refused, never touched. A migration is only ever
appended: a released step is never edited, or databases already past it would differ from new
ones.

Synchronous and trio-free, like ``store``, which runs the migration when it opens a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import supervisord_lite.store_journal as journal
from supervisord_lite.errors import StoreError
from supervisord_lite.store_file import rollback
from supervisord_lite.store_records import Outcome

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_OUTCOME_LIST = ", ".join(f"'{outcome.value}'" for outcome in Outcome)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""
        CREATE TABLE runs (
            run_id      INTEGER PRIMARY KEY,
            program     TEXT    NOT NULL,
            pid         INTEGER NOT NULL,
            pgid        INTEGER NOT NULL,
            start_time  REAL,
            started_at  REAL    NOT NULL,
            ended_at    REAL,
            outcome     TEXT CHECK (outcome IN ({_OUTCOME_LIST})),
            exit_code   INTEGER,
            exit_signal TEXT,
            reason      TEXT    NOT NULL DEFAULT '',
            CHECK ((ended_at IS NULL) = (outcome IS NULL))
        )
        """,
        "CREATE INDEX runs_live ON runs (run_id) WHERE ended_at IS NULL",
        """
        CREATE TRIGGER runs_end_once BEFORE UPDATE OF ended_at, outcome ON runs
        WHEN OLD.ended_at IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'run already ended');
        END
        """,
        f"""
        CREATE TABLE events (
            id          INTEGER PRIMARY KEY,
            at          REAL    NOT NULL,
            program     TEXT    NOT NULL,
            kind        TEXT    NOT NULL,
            run_id      INTEGER,
            pid         INTEGER,
            pgid        INTEGER,
            exit_code   INTEGER,
            exit_signal TEXT,
            outcome     TEXT CHECK (outcome IN ({_OUTCOME_LIST})),
            reason      TEXT    NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX events_program ON events (program, id)",
    ),
    (
        # Retention finds a program's oldest runs, and the events of one run, by index.
        "CREATE INDEX runs_program ON runs (program, run_id)",
        "CREATE INDEX events_run ON events (run_id) WHERE run_id IS NOT NULL",
    ),
    (
        # The operator's last start or stop of each program, kept across daemon restarts.
        """
        CREATE TABLE intents (
            program TEXT PRIMARY KEY,
            want    TEXT NOT NULL CHECK (want IN ('up', 'down')),
            at      REAL NOT NULL
        )
        """,
        # When each scheduled program's last due run was started (or skipped).
        """
        CREATE TABLE schedule_runs (
            program  TEXT PRIMARY KEY,
            last_run REAL NOT NULL
        )
        """,
    ),
    (
        # How many instances each replicated program runs, once an operator scaled it.
        """
        CREATE TABLE replicas (
            program      TEXT    PRIMARY KEY,
            count        INTEGER NOT NULL CHECK (count >= 0),
            config_count INTEGER NOT NULL
        )
        """,
    ),
    journal.MIGRATION,
)
"""``MIGRATIONS[i]`` is the list of statements that takes the schema from version i to i + 1."""

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(
    connection: sqlite3.Connection, path: Path, migrations: Sequence[Sequence[str]]
) -> None:
    """Bring the schema to ``len(migrations)`` in one transaction, or refuse a newer file.

    Raises:
        StoreError: the file's schema is newer than ``migrations`` know, or not valid.
        sqlite3.Error: a statement failed (nothing of the migration is kept).
    """
    target = len(migrations)
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if version > target:
            raise StoreError(
                f"{path}: database schema version {version} is newer than this"
                f" supervisord-lite supports (version {target}); refusing to touch it"
            )
        if version < 0:
            raise StoreError(f"{path}: database schema version {version} is not valid")
        for statements in migrations[version:]:
            for statement in statements:
                connection.execute(statement)
        if version != target:
            connection.execute(f"PRAGMA user_version = {target}")
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise
