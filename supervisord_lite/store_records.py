"""What the state store records and returns: one Struct per kind of write, and the rows read
back. Pure data, shared by the store, the runtime that produces the writes, and recovery.

The rows of the history are the shared vocabulary's ``HistoryEntry``: the store returns the
very Structs the protocol sends to clients.
"""

from __future__ import annotations

import msgspec

from supervisord_lite.vocabulary import HistoryEntry, Outcome

__all__ = [
    "RESERVED_KINDS",
    "SPAWNED",
    "EventRecorded",
    "HistoryEntry",
    "LiveGroup",
    "Outcome",
    "RunEnded",
    "RunStarted",
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


StoreOp = RunStarted | EventRecorded | RunEnded


class LiveGroup(msgspec.Struct, frozen=True, kw_only=True):
    """A run with no end recorded: its process group may still be alive."""

    run_id: int
    program: str
    pid: int
    pgid: int
    start_time: float | None
    started_at: float
