"""Writing a batch of store operations: one ``BEGIN IMMEDIATE`` transaction, each op written by
the function for its kind, then the retention the batch owes, then ``COMMIT`` (or a rollback of
all of it).

This is where the store's write invariants are kept (the list is in ``store``): a run ends at
most once, ``spawned`` and the outcome kinds are written only by ``RunStarted`` and
``RunEnded``, and a program's history is pruned to ``keep_runs`` runs in the transaction that
ends one of its runs. Synchronous and trio-free, like ``store``, which calls ``write`` and
turns its ``sqlite3`` errors into store errors.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import msgspec

import supervisord_lite.store_journal as journal
from supervisord_lite.errors import StoreError
from supervisord_lite.store_file import rollback
from supervisord_lite.store_records import (
    RESERVED_KINDS,
    SPAWNED,
    CursorMoved,
    EventLogged,
    EventRecorded,
    HistoryEntry,
    IntentRecorded,
    LoggedEvent,
    Outcome,
    ReplicasSet,
    RunEnded,
    RunStarted,
    ScheduleFired,
    StoreOp,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["write"]

_EVENT_FIELDS = HistoryEntry.__struct_fields__
_INSERT_EVENT = "INSERT INTO events ({}) VALUES ({})".format(
    ", ".join(_EVENT_FIELDS[1:]), ", ".join(f":{name}" for name in _EVENT_FIELDS[1:])
)
_NO_EXIT = {"exit_code": None, "exit_signal": None, "outcome": None, "reason": ""}


def write(
    connection: sqlite3.Connection,
    ops: Sequence[StoreOp],
    path: Path,
    *,
    keep_runs: int,
    keep_events: int,
    keep_event_seconds: float,
) -> tuple[list[LoggedEvent], int]:
    """Write ``ops`` in order in one transaction: all of them or none; the event log's rows it
    wrote (each with its ``seq``) and the highest run id it started (0 for none).

    Raises:
        StoreError: the store refused an op (a run ended twice...); nothing was written.
        sqlite3.Error: SQLite refused the batch; nothing was written.
    """
    highest = 0
    ended: set[str] = set()
    logged: list[LoggedEvent] = []
    newest_at = 0.0
    connection.execute("BEGIN IMMEDIATE")
    try:
        for op in ops:
            if isinstance(op, RunStarted):
                _run_started(connection, op, path)
                highest = max(highest, op.run_id)
            elif isinstance(op, RunEnded):
                _run_ended(connection, op, path)
                ended.add(op.program)
            elif isinstance(op, EventRecorded):
                _event_recorded(connection, op, path)
            elif isinstance(op, IntentRecorded):
                _intent_recorded(connection, op)
            elif isinstance(op, ScheduleFired):
                connection.execute(
                    "INSERT INTO schedule_runs (program, last_run) VALUES (?, ?)"
                    " ON CONFLICT (program) DO UPDATE SET last_run = excluded.last_run",
                    (op.program, op.at),
                )
            elif isinstance(op, ReplicasSet):
                _replicas_set(connection, op)
            elif isinstance(op, EventLogged):
                logged.append(journal.insert(connection, op))
                newest_at = max(newest_at, op.at)
            elif isinstance(op, CursorMoved):
                journal.move_cursor(connection, op)
            else:
                raise StoreError(f"{path}: not a store operation: {op!r}")
        if keep_runs:
            for program in sorted(ended):
                _prune(connection, program, keep_runs)
        if logged:
            journal.prune(
                connection,
                keep=keep_events,
                max_age=keep_event_seconds,
                newest_at=newest_at,
            )
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise
    return logged, highest


def _run_started(connection: sqlite3.Connection, op: RunStarted, path: Path) -> None:
    try:
        connection.execute(
            "INSERT INTO runs (run_id, program, pid, pgid, start_time, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (op.run_id, op.program, op.pid, op.pgid, op.start_time, op.at),
        )
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"{path}: run {op.run_id} already exists") from exc
    connection.execute(
        _INSERT_EVENT,
        {
            **_NO_EXIT,
            "at": op.at,
            "program": op.program,
            "kind": SPAWNED,
            "run_id": op.run_id,
            "pid": op.pid,
            "pgid": op.pgid,
        },
    )


def _run_ended(connection: sqlite3.Connection, op: RunEnded, path: Path) -> None:
    outcome = Outcome(op.outcome)
    row = connection.execute(
        "SELECT program, pid, pgid, outcome FROM runs WHERE run_id = ?", (op.run_id,)
    ).fetchone()
    if row is None:
        raise StoreError(f"{path}: no run {op.run_id} to end")
    program, pid, pgid, previous = row
    if program != op.program:
        raise StoreError(f"{path}: run {op.run_id} belongs to {program!r}, not {op.program!r}")
    if previous is not None:
        raise StoreError(
            f"{path}: run {op.run_id} of {program!r} already ended ({previous}),"
            f" cannot end it again ({outcome.value})"
        )
    fields = msgspec.structs.asdict(op)
    fields.update(kind=outcome.value, outcome=outcome.value, pid=pid, pgid=pgid)
    connection.execute(
        "UPDATE runs SET ended_at = :at, outcome = :outcome, exit_code = :exit_code,"
        " exit_signal = :exit_signal, reason = :reason WHERE run_id = :run_id",
        fields,
    )
    connection.execute(_INSERT_EVENT, fields)


def _prune(connection: sqlite3.Connection, program: str, keep_runs: int) -> None:
    """Delete what ``program`` recorded before its newest ``keep_runs`` runs."""
    row = connection.execute(
        "SELECT run_id FROM runs WHERE program = ? ORDER BY run_id DESC LIMIT 1 OFFSET ?",
        (program, keep_runs - 1),
    ).fetchone()
    if row is None:
        return  # no more runs than it may keep
    oldest_kept = row[0]
    first = connection.execute(
        "SELECT MIN(id) FROM events WHERE run_id = ?", (oldest_kept,)
    ).fetchone()[0]
    gone = connection.execute(
        "SELECT run_id FROM runs WHERE program = ? AND run_id < ? AND ended_at IS NOT NULL",
        (program, oldest_kept),
    ).fetchall()
    connection.executemany("DELETE FROM events WHERE run_id = ?", gone)
    connection.executemany("DELETE FROM runs WHERE run_id = ?", gone)
    if first is not None:
        connection.execute(
            "DELETE FROM events WHERE program = ? AND id < ? AND run_id IS NULL",
            (program, first),
        )


def _replicas_set(connection: sqlite3.Connection, op: ReplicasSet) -> None:
    if op.count is None:
        connection.execute("DELETE FROM replicas WHERE program = ?", (op.program,))
        return
    connection.execute(
        "INSERT INTO replicas (program, count, config_count) VALUES (?, ?, ?)"
        " ON CONFLICT (program) DO UPDATE SET count = excluded.count,"
        " config_count = excluded.config_count",
        (op.program, op.count, op.config_count),
    )


def _event_recorded(connection: sqlite3.Connection, op: EventRecorded, path: Path) -> None:
    if op.kind in RESERVED_KINDS:
        raise StoreError(f"{path}: event kind {op.kind!r} is written only by RunStarted/RunEnded")
    connection.execute(_INSERT_EVENT, {**msgspec.structs.asdict(op), "outcome": None})


def _intent_recorded(connection: sqlite3.Connection, op: IntentRecorded) -> None:
    if op.want is None:
        connection.execute("DELETE FROM intents WHERE program = ?", (op.program,))
        connection.execute("DELETE FROM schedule_runs WHERE program = ?", (op.program,))
        return
    connection.execute(
        "INSERT INTO intents (program, want, at) VALUES (?, ?, ?)"
        " ON CONFLICT (program) DO UPDATE SET want = excluded.want, at = excluded.at",
        (op.program, op.want.value, op.at),
    )
