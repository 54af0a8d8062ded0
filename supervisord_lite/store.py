"""The state store: every run of every program, its events, and the process groups alive now.

A daemon restarted after a crash reads ``live_groups()`` to find what the last one left running
(pid, pgid and the process's creation time, which tells a recycled pid from the original), and
``svctl history`` reads ``history()``. SQLite through the stdlib ``sqlite3``; synchronous, no trio.

``Store`` owns the one connection and turns every ``sqlite3`` error into a store error; the SQL
sits beside it, by job: the tables in ``store_schema``, a batch of writes in ``store_writes``,
the reads in ``store_queries``, the event log in ``store_journal``.

Invariants:

- Every run ends at most once: one terminal outcome (``Outcome``) per run, written together with
  its terminal event; a second end is a ``StoreError`` (and a trigger refuses it in SQL too).
- A live group is exactly a run with ``ended_at IS NULL``.
- ``apply()`` writes a whole batch in one ``BEGIN IMMEDIATE`` transaction or nothing of it.
- Event kinds ``spawned`` and the outcome values are written only by ``RunStarted`` and
  ``RunEnded``, so the history shows one start and at most one end per run.
- ``intents`` holds one row per program the operator started or stopped (the latest word);
  ``schedule_runs`` one per scheduled program (its last due run). Retention never touches them.
- Retention: with ``keep_runs`` N > 0, each program keeps its newest N runs; when a run ends,
  that program's older ended runs, their events and the run-less events recorded before the
  oldest kept run's start are deleted in the same transaction. A run still open is never deleted.
- The event log (``store_journal``): every ``EventLogged`` gets the next ``seq`` in the
  transaction that writes it, and the log is pruned to ``keep_events`` events and
  ``keep_event_seconds`` of age in that same transaction; ``apply`` returns the rows it wrote.
- The schema version is ``PRAGMA user_version``, brought up to date by ``store_schema``'s
  migrations when a file is opened; a database from a newer version is refused, never touched.

Faults: every ``sqlite3.Error`` leaves as a ``StoreError``. One that may pass (another process
holds the lock, the disk is full, an I/O error) is a ``StoreUnavailable``, which the runtime's
writer answers by holding the batch back and retrying it. A file that fails ``PRAGMA
quick_check`` when it is opened, or is not a SQLite database, is a ``StoreCorrupt``;
``store_file.move_aside`` renames it (with its WAL) so that a fresh store can start beside it.

Durability: WAL with ``synchronous=NORMAL`` survives a ``kill -9`` of the daemon with every
acknowledged commit (docs/architecture.md, "Kernel facts"); only power loss needs ``FULL``.
There is one writer connection, opened only in the daemon and used by one thread at a time.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import supervisord_lite.store_journal as journal
from supervisord_lite import store_queries as queries
from supervisord_lite import store_writes
from supervisord_lite.errors import StoreError
from supervisord_lite.store_file import make_folder, quick_check, translate
from supervisord_lite.store_records import (
    HistoryEntry,
    Intent,
    LiveGroup,
    LoggedEvent,
    Outcome,
    RunEnded,
    StoreOp,
)
from supervisord_lite.store_schema import MIGRATIONS, SCHEMA_VERSION, migrate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store"]

T = TypeVar("T")

BUSY_TIMEOUT_MS = 1000
"""How long a write waits for a lock another process holds (an ``sqlite3`` shell, a backup)
before it gives up with ``StoreUnavailable``; the writer holds the batch back and retries it,
so a short wait loses nothing and keeps reads queued behind a write from waiting long."""


class Store:
    """The daemon's one connection to the state database; see the module docstring.

    Not thread-safe: the caller uses it from one thread at a time (the runtime's writer thread).
    The exception is ``allocate_run_id``, which touches no SQLite and may be called from any
    thread at any time, so the event loop can name a run before its batch reaches the writer.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        keep_runs: int = 0,
        *,
        keep_events: int = 0,
        keep_event_seconds: float = 0.0,
    ) -> None:
        """Use ``Store.open``; this only wraps a connection that is already set up."""
        bounds = {
            "keep_runs": keep_runs,
            "keep_events": keep_events,
            "keep_event_seconds": keep_event_seconds,
        }
        for name, value in bounds.items():
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        self._connection: sqlite3.Connection | None = connection
        self._path = path
        self.keep_runs = keep_runs
        self.keep_events = keep_events
        self.keep_event_seconds = keep_event_seconds
        row = connection.execute("SELECT MAX(run_id) FROM runs").fetchone()
        self._next_run_id = (row[0] or 0) + 1
        self._run_id_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        keep_runs: int = 0,
        keep_events: int = 0,
        keep_event_seconds: float = 0.0,
    ) -> Self:
        """Open (creating if needed) and migrate the database at ``path``; ``keep_runs`` > 0
        bounds each program's history to its newest runs, ``keep_events`` and
        ``keep_event_seconds`` > 0 the event log (see the module docstring).

        The parent folder is created 0700 if missing and a new database file is created 0600
        (the WAL and shm files follow the database's mode).

        A file that fails ``PRAGMA quick_check`` is refused before anything is written to it.

        Raises:
            StoreCorrupt: the file is damaged or is not a SQLite database (``move_aside``).
            StoreUnavailable: another process holds the lock, the disk is full...
            StoreError: the folder or file cannot be created, the schema is from a newer
                version.
        """
        db_path = Path(path)
        connection: sqlite3.Connection | None = None
        try:
            make_folder(db_path)
            fd = os.open(db_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.close(fd)
            connection = sqlite3.connect(
                db_path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            quick_check(connection, db_path)
            migrate(connection, db_path, MIGRATIONS)
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{db_path}: cannot use WAL journal mode (got {mode!r})")
            connection.execute("PRAGMA synchronous = NORMAL")
            return cls(
                connection,
                db_path,
                keep_runs,
                keep_events=keep_events,
                keep_event_seconds=keep_event_seconds,
            )
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            raise translate(exc, db_path, "cannot open the state store") from exc
        except OSError as exc:
            if connection is not None:
                connection.close()
            raise StoreError(f"{db_path}: cannot open the state store: {exc}") from exc
        except BaseException:
            if connection is not None:
                connection.close()
            raise

    @property
    def path(self) -> Path:
        return self._path

    def allocate_run_id(self) -> int:
        """A fresh run id, known before the batch that uses it is written (thread-safe)."""
        with self._run_id_lock:
            run_id = self._next_run_id
            self._next_run_id += 1
        return run_id

    def apply(self, ops: Sequence[StoreOp]) -> list[LoggedEvent]:
        """Write ``ops`` in order in one transaction: all of them or, on StoreError, none;
        the event log's rows it wrote, each with its ``seq``.

        Raises:
            StoreUnavailable: the write may succeed later (locked, disk full, I/O error).
            StoreCorrupt: SQLite found the file damaged.
            StoreError: SQLite or the store refused an op (a run ended twice...); retrying
                the same op fails the same way.
        """
        if not ops:
            return []
        connection = self._conn()
        try:
            logged, highest = store_writes.write(
                connection,
                ops,
                self._path,
                keep_runs=self.keep_runs,
                keep_events=self.keep_events,
                keep_event_seconds=self.keep_event_seconds,
            )
        except sqlite3.Error as exc:
            raise translate(exc, self._path, "write failed, batch rolled back") from exc
        with self._run_id_lock:
            self._next_run_id = max(self._next_run_id, highest + 1)
        return logged

    def mark_lost(self, run_ids: Sequence[int], *, at: float, reason: str) -> None:
        """End the given live runs as ``LOST`` (their group is gone and its status unknowable)."""
        if not run_ids:
            return
        ops: list[StoreOp] = []
        for run_id in run_ids:
            program = self._reading(queries.program_of, run_id)
            if program is None:
                raise StoreError(f"{self._path}: no run {run_id} to mark lost")
            ops.append(
                RunEnded(run_id=run_id, program=program, outcome=Outcome.LOST, at=at, reason=reason)
            )
        self.apply(ops)

    def history(
        self, program: str | None, limit: int = 20, *, instances: bool = False
    ) -> list[HistoryEntry]:
        """The newest ``limit`` events (of ``program``, or of all when None), oldest first;
        with ``instances`` those of its instances ``program:N`` too."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        if limit == 0:
            return []
        return self._reading(queries.history, program, limit, instances)

    def replica_counts(self) -> dict[str, tuple[int, int]]:
        """Each scaled program's instance count and the config's ``replicas`` it was decided
        against (``ReplicasSet``)."""
        return self._reading(queries.replica_counts)

    def logged_events(self, since: int, limit: int) -> list[LoggedEvent]:
        """At most ``limit`` events of the event log from seq ``since`` on, oldest first."""
        return self._reading(journal.page, since, limit)

    def event_bounds(self) -> tuple[int, int]:
        """The event log's oldest seq kept (0 when empty) and highest seq ever given."""
        return self._reading(journal.bounds)

    def start_of_last(self, count: int) -> int:
        """The seq from which the event log's last ``count`` events begin."""
        return self._reading(journal.start_of_last, count)

    def cursor(self, name: str) -> int | None:
        """The seq reader ``name`` of the event log has dealt with up to (None: never seen)."""
        return self._reading(journal.cursor, name)

    def live_groups(self) -> list[LiveGroup]:
        """Runs with no end recorded, oldest first."""
        return self._reading(queries.live_groups)

    def intents(self) -> dict[str, Intent]:
        """The operator's last word on each program it ever started or stopped, by name."""
        return self._reading(queries.intents)

    def last_runs(self) -> dict[str, float]:
        """When each scheduled program's last due run was started or skipped (wall clock)."""
        return self._reading(queries.last_runs)

    def known_runs(self, run_ids: Sequence[int]) -> set[int]:
        """Which of ``run_ids`` were ever recorded (a run spawned just before a crash may not
        have been)."""
        if not run_ids:
            return set()  # nothing to ask: not even whether the store is open
        return self._reading(queries.known_runs, run_ids)

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: "ok", or its list of problems one per line."""
        return self._reading(queries.integrity_check)

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise StoreError."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except sqlite3.Error as exc:
                raise StoreError(f"{self._path}: close failed: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"{self._path}: the state store is closed")
        return self._connection

    def _reading(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(self._conn(), *args)
        except sqlite3.Error as exc:
            raise translate(exc, self._path, "read failed") from exc
