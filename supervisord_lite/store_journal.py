"""The event log's tables in the state store: events by ``seq``, retention, readers' cursors.

Synchronous and trio-free like ``store``, which calls these functions inside its transactions.

Invariants (docs/events.md):

- ``seq`` comes from SQLite's ``AUTOINCREMENT``: it only grows, across daemon restarts too,
  and is never given twice, even after every row was pruned (``sqlite_sequence`` keeps the
  highest ever given).
- Rows are deleted only from the oldest end (retention by count and by age), and a batch is
  written in one transaction or not at all, so the seqs kept are one unbroken run from
  ``oldest`` to ``newest``: the count kept is ``newest - oldest + 1``, and pruning by count
  is one range delete, never a scan.
- Age is judged against the newest event written (its wall-clock ``at``), so the store reads
  no clock; a clock that stepped back only keeps events longer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from supervisord_lite.store_records import CursorMoved, EventLogged, LoggedEvent

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "MIGRATION",
    "bounds",
    "cursor",
    "insert",
    "move_cursor",
    "page",
    "prune",
    "start_of_last",
]

MIGRATION: Final = (
    """
    CREATE TABLE journal (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        at      REAL    NOT NULL,
        program TEXT    NOT NULL DEFAULT '',
        kind    TEXT    NOT NULL,
        body    BLOB    NOT NULL
    )
    """,
    "CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
)
"""The statements that add the event log to a store (one step of ``store.MIGRATIONS``)."""

_COLUMNS: Final = "seq, kind, program, body"


def insert(connection: sqlite3.Connection, op: EventLogged) -> LoggedEvent:
    """Append one event; the row as written, with its new ``seq``."""
    cursor_ = connection.execute(
        "INSERT INTO journal (at, program, kind, body) VALUES (?, ?, ?, ?)",
        (op.at, op.program, op.kind, op.body),
    )
    seq = cursor_.lastrowid
    assert seq is not None
    return LoggedEvent(seq=seq, kind=op.kind, program=op.program, body=op.body)


def prune(connection: sqlite3.Connection, *, keep: int, max_age: float, newest_at: float) -> None:
    """Keep the newest ``keep`` events (all when 0) and those at most ``max_age`` seconds older
    than ``newest_at`` (all when 0): delete the others, oldest first."""
    oldest, newest = bounds(connection)
    if oldest == 0:
        return
    cut = oldest
    if keep and newest - oldest + 1 > keep:
        cut = newest - keep + 1
    if max_age:
        row = connection.execute(
            "SELECT seq FROM journal WHERE seq >= ? AND at >= ? ORDER BY seq LIMIT 1",
            (cut, newest_at - max_age),
        ).fetchone()
        cut = row[0] if row is not None else newest + 1
    if cut > oldest:
        connection.execute("DELETE FROM journal WHERE seq < ?", (cut,))


def bounds(connection: sqlite3.Connection) -> tuple[int, int]:
    """The oldest seq kept (0 when none is) and the highest ever given (0 before the first)."""
    oldest = connection.execute("SELECT MIN(seq) FROM journal").fetchone()[0]
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
    return (oldest or 0), (row[0] if row is not None else 0)


def page(connection: sqlite3.Connection, since: int, limit: int) -> list[LoggedEvent]:
    """At most ``limit`` events from seq ``since`` on, oldest first."""
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE seq >= ? ORDER BY seq LIMIT ?", (since, limit)
    ).fetchall()
    return [LoggedEvent(seq=r[0], kind=r[1], program=r[2], body=r[3]) for r in rows]


def start_of_last(connection: sqlite3.Connection, count: int) -> int:
    """The seq from which the last ``count`` events kept begin (the oldest when fewer are kept;
    one past the newest for ``count`` 0)."""
    oldest, newest = bounds(connection)
    return max(oldest, newest - count + 1)


def cursor(connection: sqlite3.Connection, name: str) -> int | None:
    """The seq reader ``name`` has dealt with up to; None for a reader never seen."""
    row = connection.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def move_cursor(connection: sqlite3.Connection, op: CursorMoved) -> None:
    """Set a reader's cursor (a cursor never moves back: an older seq is ignored)."""
    connection.execute(
        "INSERT INTO cursors (name, seq) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        (op.name, op.seq),
    )
