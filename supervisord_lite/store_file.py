"""The state database as a file: its folder, the check that refuses a damaged one, moving a
damaged one aside, and SQLite's result codes sorted into the store's errors (those that may
pass, ``StoreUnavailable``; a damaged file, ``StoreCorrupt``; a refusal, ``StoreError``),
and the rollback of a transaction that failed.

Synchronous and trio-free, like ``store``, which uses it (as do its schema and its writes).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from supervisord_lite.errors import StoreCorrupt, StoreError, StoreUnavailable

__all__ = ["make_folder", "move_aside", "quick_check", "rollback", "translate"]

QUICK_CHECK_PROBLEMS = 3
"""How many of ``PRAGMA quick_check``'s problems a ``StoreCorrupt`` quotes."""

# SQLite's primary result codes that may pass on their own:
# BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, FULL, CANTOPEN, PROTOCOL.
_PASSING_CODES = frozenset({5, 6, 7, 8, 9, 10, 13, 14, 15})
# CORRUPT and NOTADB: the file itself is damaged, or is not a database.
_CORRUPT_CODES = frozenset({11, 26})


def make_folder(path: str | os.PathLike[str]) -> None:
    """Create the database's folder, mode 0700, if it is missing (the daemon's lock file sits
    beside the database, so the folder comes first).

    Raises:
        OSError: the folder cannot be created.
    """
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def move_aside(path: str | os.PathLike[str], stamp: str) -> Path:
    """Rename the database at ``path`` to ``PATH.corrupt-STAMP``, its ``-wal`` and ``-shm``
    files with it (so the renamed copy still opens with what its WAL held); return the new
    path. A name already taken gets a counter, so nothing is ever overwritten.

    The caller must hold the daemon's lock: no other connection may have the file open.

    Raises:
        StoreError: a file cannot be renamed.
    """
    db_path = Path(path)
    base = f"{db_path.name}.corrupt-{stamp}"
    target = db_path.with_name(base)
    counter = 1
    while any(os.path.lexists(f"{target}{suffix}") for suffix in ("", "-wal", "-shm")):
        counter += 1
        target = db_path.with_name(f"{base}.{counter}")
    try:
        # The WAL and shm first: a database renamed without them would lose the WAL's commits.
        for suffix in ("-wal", "-shm", ""):
            source = Path(f"{db_path}{suffix}")
            try:
                os.rename(source, f"{target}{suffix}")
            except FileNotFoundError:
                if not suffix:
                    raise
    except OSError as exc:
        raise StoreError(f"{db_path}: cannot move the state store aside: {exc}") from exc
    return target


def quick_check(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse a damaged file before the migration (or anything else) writes to it."""
    rows = connection.execute("PRAGMA quick_check").fetchall()
    # One row per problem, or a first row of several lines under a "*** in database main ***"
    # heading: one line per problem either way.
    problems = [
        line
        for row in rows
        for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("***")
    ]
    if problems != ["ok"]:
        quoted = "; ".join(problems[:QUICK_CHECK_PROBLEMS])
        more = len(problems) - QUICK_CHECK_PROBLEMS
        if more > 0:
            quoted += f"; and {more} more"
        raise StoreCorrupt(str(path), f"PRAGMA quick_check: {quoted}")


def translate(exc: sqlite3.Error, path: Path, what: str) -> StoreError:
    """The store error for a SQLite error: passing, corrupt, or a refusal."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _CORRUPT_CODES:
        return StoreCorrupt(str(path), str(exc))
    if primary in _PASSING_CODES:
        why = f"{exc} (another process holds its lock)" if primary in (5, 6) else str(exc)
        return StoreUnavailable(f"{path}: {what}: {why}")
    return StoreError(f"{path}: {what}: {exc}")


def rollback(connection: sqlite3.Connection) -> None:
    """Undo the open transaction, if any, after a failure; an error of the rollback itself is
    dropped, so the failure that caused it is the one raised."""
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
