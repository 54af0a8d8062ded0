"""The daemon's error tree.

Every error the daemon raises on purpose is one of these; foreign exceptions (OSError,
sqlite3.Error, msgspec.DecodeError) are translated where they enter (``raise ... from exc``).
Each class carries ``code`` (a stable machine string, the one sent on the wire where it
crosses the socket) and ``exit_code`` (what ``supervisord-lite`` exits with when it ends the
process)::

    SupervisorLiteError              code="internal"          exit 1
    ├── ConfigError                  code="config_invalid"    exit 2   (.problems: every problem)
    ├── StoreError                   code="store_failed"      exit 1
    │   ├── StoreUnavailable         code="store_unavailable"          (locked, disk full: retried)
    │   ├── StoreCorrupt             code="store_corrupt"     exit 7   (.path: the database file)
    │   └── RecordsUnwritten         code="store_unwritten"   exit 6   (.count: records not on disk)
    ├── SpawnError                   code="spawn_failed"      exit 1
    ├── LogPathError                 code="log_path_refused"  exit 2
    ├── LifecycleError               code="internal"          exit 1   (a bug: see lifecycle)
    ├── DaemonError                  code="daemon_failed"     exit 1
    │   └── AlreadyRunning           code="already_running"   exit 2
    └── RequestFailed                code="internal"          exit 1   (a request was refused)
        ├── NoSuchProgram            code="no_such_program"   (.known: the valid names)
        │   └── NoSuchGroup          code="no_such_program"   (.known: the groups, as GROUP:)
        ├── WaitTimeout              code="timeout"
        └── ShuttingDown             code="shutting_down"

The protocol's errors (``ProtocolError``, ``FrameTooLarge``, ``UnsupportedVersion``,
``UnknownOperation``, ``BadRequest``) are a tree of their own, defined by the protocol
(``supervisord_lite/protocol/errors.py``) with a typed ``ErrorCode``; they are named here too
because clients catch ``ProtocolError`` from this module (``clients/svctl/_session.py``).

This module is pure: it imports only the standard library and the protocol's errors.
"""

from __future__ import annotations

from typing import NamedTuple

from supervisord_lite.protocol.errors import (
    BadRequest,
    FrameTooLarge,
    ProtocolError,
    UnknownOperation,
    UnsupportedVersion,
)

__all__ = [
    "AlreadyRunning",
    "BadRequest",
    "ConfigError",
    "DaemonError",
    "FrameTooLarge",
    "LogPathError",
    "NoSuchGroup",
    "NoSuchProgram",
    "Problem",
    "ProtocolError",
    "RequestFailed",
    "ShuttingDown",
    "SpawnError",
    "StoreError",
    "SupervisorLiteError",
    "UnknownOperation",
    "UnsupportedVersion",
    "WaitTimeout",
]


class SupervisorLiteError(Exception):
    """Base of every error supervisord-lite raises on purpose."""

    code: str = "internal"
    exit_code: int = 1


class Problem(NamedTuple):
    """One thing wrong with a config file: where (``$.programs.web.stop_timeout``) and what.

    A named tuple rather than a dataclass: this module is imported by every ``svctl`` call,
    and ``dataclasses`` would cost it noticeably more start-up time.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(SupervisorLiteError):
    """The config file cannot be used; ``problems`` lists every problem, not just the first."""

    code = "config_invalid"
    exit_code = 2

    def __init__(self, source: str, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{source}: {count} {noun}"]
        lines.extend(f"  {problem}" for problem in self.problems)
        super().__init__("\n".join(lines))


class StoreError(SupervisorLiteError):
    """The state store could not be opened, migrated, read or written."""

    code = "store_failed"


class SpawnError(SupervisorLiteError):
    """A program could not be started (missing executable, bad cwd, unknown user...)."""

    code = "spawn_failed"


class LogPathError(SupervisorLiteError):
    """A log path is unsafe (a symlink, a folder others can write to) or cannot be opened."""

    code = "log_path_refused"
    exit_code = 2


class DaemonError(SupervisorLiteError):
    """The daemon cannot run (socket cannot be bound, folder cannot be created...)."""

    code = "daemon_failed"


class AlreadyRunning(DaemonError):
    """Another live daemon already serves the configured socket."""

    code = "already_running"
    exit_code = 2

    def __init__(self, socket_path: str, pid: int | None) -> None:
        self.socket_path = socket_path
        self.pid = pid
        who = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(f"already running ({who}) on {socket_path}")


class RequestFailed(SupervisorLiteError):
    """A control request the daemon could not carry out; its ``code`` goes back on the wire."""


class NoSuchProgram(RequestFailed):
    """A request named a program the config does not have."""

    code = "no_such_program"

    def __init__(self, names: list[str] | tuple[str, ...], known: list[str] | tuple[str, ...]):
        self.names = tuple(names)
        self.known = tuple(known)
        listed = ", ".join(repr(n) for n in self.names)
        noun = "program" if len(self.names) == 1 else "programs"
        super().__init__(f"no {noun} named {listed} (known: {', '.join(self.known) or 'none'})")


class NoSuchGroup(NoSuchProgram):
    """A request named a group (``GROUP:``) that no program of the config is in."""

    def __init__(self, groups: list[str] | tuple[str, ...], known: list[str] | tuple[str, ...]):
        self.names = tuple(f"{g}:" for g in groups)
        self.known = tuple(f"{g}:" for g in known)
        listed = ", ".join(repr(g) for g in groups)
        noun = "group" if len(groups) == 1 else "groups"
        RequestFailed.__init__(
            self, f"no {noun} named {listed} (groups: {', '.join(known) or 'none'})"
        )


class WaitTimeout(RequestFailed):
    """A wait ran out of time before the programs reached the state asked for."""

    code = "timeout"


class ShuttingDown(RequestFailed):
    """The daemon is shutting down and takes no new work."""

    code = "shutting_down"


class StoreUnavailable(StoreError):
    """The state store cannot be used right now: another process holds its lock, the disk is
    full, an I/O error. Writes that meet it are held back and retried; reads answer with it."""

    code = "store_unavailable"


class StoreCorrupt(StoreError):
    """The database file fails SQLite's integrity check, or is not a SQLite database at all.

    A restart cannot fix it: ``supervisord-lite -c CONFIG --reset-store`` moves the file aside
    (kept, renamed with a timestamp) and starts a fresh store.
    """

    code = "store_corrupt"
    exit_code = 7

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"{path}: the state store is corrupt ({problem}); start once with --reset-store to"
            " move it aside (it is kept, renamed with a timestamp) and begin a fresh one"
        )


class RecordsUnwritten(StoreError):
    """The daemon stopped with records it could not write to the state store (or had to give
    up while running): the history on disk misses ``count`` of them."""

    code = "store_unwritten"
    exit_code = 6

    def __init__(self, count: int, reason: str) -> None:
        self.count = count
        self.reason = reason
        noun = "record" if count == 1 else "records"
        super().__init__(f"{count} state store {noun} could not be written: {reason}")
