"""Reading the state store: runs, their events, intents, schedules and replica counts, each as
the records of ``store_records``.

Plain functions of a connection, as ``store_journal``'s reads are: ``store.Store`` calls them
on its one connection and turns their ``sqlite3`` errors into store errors. Synchronous and
trio-free, like ``store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from supervisord_lite.store_records import HistoryEntry, Intent, LiveGroup

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

__all__ = [
    "history",
    "integrity_check",
    "intents",
    "known_runs",
    "last_runs",
    "live_groups",
    "program_of",
    "replica_counts",
]

_EVENT_FIELDS = HistoryEntry.__struct_fields__
_EVENT_COLUMNS = ", ".join(_EVENT_FIELDS)
_LIVE_FIELDS = LiveGroup.__struct_fields__
_CHUNK = 500
"""Run ids asked about in one statement (SQLite bounds the parameters of one)."""


def history(
    connection: sqlite3.Connection, program: str | None, limit: int, instances: bool
) -> list[HistoryEntry]:
    """The newest ``limit`` events (of ``program``, or of all when None), oldest first; with
    ``instances`` those of its instances ``program:N`` too."""
    where = "" if program is None else "WHERE program = :program"
    if program is not None and instances:
        # ';' follows ':' in every collation SQLite uses for TEXT: the range is 'NAME:*'.
        where += " OR (program >= :program || ':' AND program < :program || ';')"
    rows = connection.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events {where} ORDER BY id DESC LIMIT :limit",
        {"program": program, "limit": limit},
    ).fetchall()
    rows.reverse()
    return msgspec.convert(
        [dict(zip(_EVENT_FIELDS, row, strict=True)) for row in rows], list[HistoryEntry]
    )


def program_of(connection: sqlite3.Connection, run_id: int) -> str | None:
    """The program run ``run_id`` belongs to; None for a run never recorded (or pruned)."""
    rows = connection.execute(
        "SELECT program FROM runs WHERE run_id = :run_id", {"run_id": run_id}
    ).fetchall()
    return str(rows[0][0]) if rows else None


def replica_counts(connection: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    rows = connection.execute("SELECT program, count, config_count FROM replicas").fetchall()
    return {program: (count, config) for program, count, config in rows}


def live_groups(connection: sqlite3.Connection) -> list[LiveGroup]:
    rows = connection.execute(
        f"SELECT {', '.join(_LIVE_FIELDS)} FROM runs WHERE ended_at IS NULL ORDER BY run_id"
    ).fetchall()
    return msgspec.convert(
        [dict(zip(_LIVE_FIELDS, row, strict=True)) for row in rows], list[LiveGroup]
    )


def intents(connection: sqlite3.Connection) -> dict[str, Intent]:
    rows = connection.execute("SELECT program, want, at FROM intents").fetchall()
    return {
        row[0]: msgspec.convert({"program": row[0], "want": row[1], "at": row[2]}, Intent)
        for row in rows
    }


def last_runs(connection: sqlite3.Connection) -> dict[str, float]:
    rows = connection.execute("SELECT program, last_run FROM schedule_runs").fetchall()
    return {row[0]: float(row[1]) for row in rows}


def known_runs(connection: sqlite3.Connection, run_ids: Sequence[int]) -> set[int]:
    known: set[int] = set()
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = connection.execute(
            f"SELECT run_id FROM runs WHERE run_id IN ({marks})", tuple(chunk)
        ).fetchall()
        known.update(int(row[0]) for row in rows)
    return known


def integrity_check(connection: sqlite3.Connection) -> str:
    rows = connection.execute("PRAGMA integrity_check").fetchall()
    return "\n".join(str(row[0]) for row in rows)
