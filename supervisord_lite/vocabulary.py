"""The words the daemon, its state store and its clients share: states, wishes, outcomes, history.

The state machine decides a program's :class:`ProgramState`, the store keeps each run's
:class:`Outcome` and reads back :class:`HistoryEntry` rows, and the protocol carries all of them
to clients. Each is defined once, here, so what the lifecycle decides is what the store keeps and
what ``svctl`` shows, with no copy and no translation between them.

This module is a leaf: it imports only the standard library and msgspec, and nothing from the
rest of the package, so every part may import it without creating a cycle (docs/architecture.md
draws the parts and their arrows). The values are wire strings: renaming one breaks old
clients, and a new value is a protocol change (``tests/protocol/test_messages.py`` pins them).
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["EVENT_KINDS", "AccessRole", "HistoryEntry", "Outcome", "ProgramState", "Want"]

EVENT_KINDS = (
    "state",
    "health",
    "dependency",
    "progress",
    "watch",
    "probe",
    "log",
    "daemon",
    "reload",
    "webhook",
)
"""The kinds of event the event log holds, as webhooks filter them (docs/events.md): a
program's state change, health change, dependency wait, progress, restart by a watched file,
probe failure, dropped output; the daemon's start and stop, a reload, a webhook that fails or
delivers again."""


class ProgramState(enum.StrEnum):
    """The states operators know from supervisord; the value is the name shown to users."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    EXITED = "EXITED"
    FATAL = "FATAL"


class AccessRole(enum.StrEnum):
    """What a control connection may do: ``read`` looks (status, history, logs, events),
    ``control`` also acts (start, stop, reload, shutdown). docs/config.md#daemonaccess."""

    READ = "read"
    CONTROL = "control"


class Want(enum.StrEnum):
    """What the operator asked for, kept apart from what is observed (s6's ``flagwantup``)."""

    UP = "up"
    DOWN = "down"


class Outcome(enum.StrEnum):
    """How a run ended; exactly one per run.

    ``completed``: an expected exit code. ``failed``: another code or a signal. ``stopped``: it
    ended on request. ``killed``: it needed SIGKILL. ``lost``: the supervisor died and the end
    is unknowable (written by the store, never by the state machine).
    """

    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    KILLED = "killed"
    LOST = "lost"


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded event of a program (spawned, exited, stopped...), as the store keeps it.

    ``id`` is the event's number in the store, increasing with time (0 where an entry did not
    come from a store). ``kind`` is ``spawned``, an outcome's name for the event that ends a
    run, or another event (``spawn_failed``, ``fatal``...). ``outcome`` is set only on a
    run's terminal event.
    """

    id: int = 0
    at: float
    program: str
    kind: str
    run_id: int | None
    pid: int | None
    pgid: int | None
    exit_code: int | None
    exit_signal: str | None
    outcome: Outcome | None
    reason: str = ""
