"""What the state store records and returns: one Struct per kind of write, and the rows read
back. Pure data, shared by the store, the runtime that produces the writes, and recovery.

The rows of the history are the shared vocabulary's ``HistoryEntry``: the store returns the
very Structs the protocol sends to clients.
"""

from __future__ import annotations

import msgspec

from supervisord_lite.vocabulary import HistoryEntry, Outcome, Want

__all__ = [
    "RESERVED_KINDS",
    "SPAWNED",
    "CursorMoved",
    "EventLogged",
    "EventRecorded",
    "HistoryEntry",
    "Intent",
    "IntentRecorded",
    "LiveGroup",
    "LoggedEvent",
    "Outcome",
    "ReplicasSet",
    "RunEnded",
    "RunStarted",
    "ScheduleFired",
    "StoreOp",
]

SPAWNED = "spawned"
"""The event kind ``RunStarted`` writes."""
RESERVED_KINDS = frozenset({SPAWNED, *(outcome.value for outcome in Outcome)})


class RunStarted(msgspec.Struct, frozen=True, kw_only=True):
    """A process was spawned: opens run ``run_id`` and records a ``spawned`` event.

    ``start_time`` is the process's creation time as psutil reports it, so a later daemon can
    tell this process from another that reused the pid.
    """

    run_id: int
    program: str
    pid: int
    pgid: int
    at: float
    start_time: float | None = None


class EventRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """Anything else worth keeping in the history (spawn failures, backoff, fatal, reload...)."""

    program: str
    kind: str
    at: float
    run_id: int | None = None
    pid: int | None = None
    pgid: int | None = None
    exit_code: int | None = None
    exit_signal: str | None = None
    reason: str = ""


class RunEnded(msgspec.Struct, frozen=True, kw_only=True):
    """Run ``run_id`` is over: records its one outcome and a terminal event of that kind."""

    run_id: int
    program: str
    outcome: Outcome
    at: float
    exit_code: int | None = None
    exit_signal: str | None = None
    reason: str = ""


class IntentRecorded(msgspec.Struct, frozen=True, kw_only=True):
    """The operator asked for ``program`` up or down at ``at`` (wall clock); ``want`` None
    forgets it (the program was removed from the config: one added again later is new)."""

    program: str
    want: Want | None
    at: float


class ScheduleFired(msgspec.Struct, frozen=True, kw_only=True):
    """A scheduled program's run that was due at ``at`` (wall clock) was started or skipped:
    the time ``catch_up`` counts missed runs from."""

    program: str
    at: float


class ReplicasSet(msgspec.Struct, frozen=True, kw_only=True):
    """A replicated program now runs ``count`` instances (``svctl scale``, or a reload that
    changed ``replicas``), kept so that a daemon restart runs as many. ``config_count`` is the
    config's ``replicas`` when this was decided: once the config says another number, the
    config wins. ``count`` None forgets the program (it was removed from the config)."""

    program: str
    count: int | None
    config_count: int = 0


class EventLogged(msgspec.Struct, frozen=True, kw_only=True):
    """An event for the event log (docs/events.md): the store gives it the next ``seq``.

    ``body`` is the event as the runtime encodes it (the store does not read it); ``kind`` and
    ``program`` ("" for the daemon's own events) are kept beside it for those who filter.
    """

    at: float
    kind: str
    body: bytes
    program: str = ""


class CursorMoved(msgspec.Struct, frozen=True, kw_only=True):
    """Reader ``name`` (a webhook) has dealt with every logged event up to ``seq``."""

    name: str
    seq: int


StoreOp = (
    RunStarted
    | EventRecorded
    | RunEnded
    | IntentRecorded
    | ScheduleFired
    | ReplicasSet
    | EventLogged
    | CursorMoved
)


class LoggedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event of the event log as written and read back: its ``seq`` and its ``body``."""

    seq: int
    kind: str
    program: str
    body: bytes


class LiveGroup(msgspec.Struct, frozen=True, kw_only=True):
    """A run with no end recorded: its process group may still be alive."""

    run_id: int
    program: str
    pid: int
    pgid: int
    start_time: float | None
    started_at: float


class Intent(msgspec.Struct, frozen=True, kw_only=True):
    """What the operator last asked of a program, and when (wall clock)."""

    program: str
    want: Want
    at: float
