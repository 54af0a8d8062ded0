"""What the daemon pushes on a stream a request opened, rather than answering it.

A :class:`Logs` request gets :class:`LogChunk` (and :class:`Lagged` when its reader fell
behind), a :class:`Subscribe` gets :class:`StateChanged`, :class:`DaemonEvent` and
:class:`Missed`; every stream ends with :class:`End`. Each carries the id of the request that
opened the stream, which is therefore the subscription id. They are replies on the wire (the
same ``"kind"`` union), kept apart because they arrive unasked, any number of them.

This module is pure: it imports the standard library, msgspec and the shared vocabulary.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from supervisord_lite.protocol._fields import NonNegative, Stream
from supervisord_lite.protocol._replies import Reply, WebhookStatus
from supervisord_lite.protocol._status_values import Progress
from supervisord_lite.vocabulary import ProgramState

__all__ = [
    "DaemonEvent",
    "DaemonEventChange",
    "End",
    "EventChange",
    "Lagged",
    "LogChunk",
    "Missed",
    "StateChanged",
]


EventChange: TypeAlias = Literal[
    "state", "health", "dependency", "progress", "watch", "hook", "probe", "log"
]
"""What a :class:`StateChanged` tells of its program (the event's kind, docs/events.md)."""


class StateChanged(Reply, tag="state", kw_only=True, frozen=True):
    """An event of a program at ``at`` (wall epoch), number ``seq`` in the event log.

    ``change`` says what happened: ``state`` (a transition from ``old`` to ``new``; RUNNING is
    ready; ``exit_code``/``exit_signal`` are set only when the transition is a run's end, and
    ``pid`` is the process the event is about), ``health`` (its liveness probe started
    failing, or passes again: ``old == new``, ``message`` says how), ``dependency`` (it waits
    for a dependency, or was stopped because of one), ``progress`` (it reported progress, in
    ``progress``: a new phase at once, else at most one such event per program per second, the
    latest report), ``watch`` (a change of its watched files restarted it, or its
    ``reload_check`` failed and it was not restarted: ``message`` says which), ``hook`` (one
    of its hooks ran: ``message`` is its name, how it ended and its output's tail,
    ``"pre_start: exit 1: no database"``), ``probe`` (a probe started failing) or ``log`` (its
    output was dropped, ``message`` says which stream and how much).
    """

    program: str
    old: ProgramState
    new: ProgramState
    pid: int | None
    exit_code: int | None
    exit_signal: str | None
    at: float
    message: str = ""
    change: EventChange = "state"
    progress: Progress | None = None
    seq: NonNegative = 0


DaemonEventChange: TypeAlias = Literal["started", "stopping", "stopped", "reload", "webhook"]
"""What a :class:`DaemonEvent` tells (the event's kind, docs/events.md)."""


class DaemonEvent(Reply, tag="daemon", kw_only=True, frozen=True):
    """An event of the daemon itself at ``at`` (wall epoch), number ``seq`` in the event log.

    ``change``: ``started``, ``stopping`` (a shutdown began), ``stopped`` (the last event of a
    daemon's life), ``reload`` (a config reload was applied; ``names`` are the programs it
    added, removed or changed) or ``webhook`` (a webhook started failing or delivers again; its
    counters in ``webhook``). ``message`` says it in words.
    """

    change: DaemonEventChange
    at: float
    message: str = ""
    names: tuple[str, ...] = ()
    webhook: WebhookStatus | None = None
    seq: NonNegative = 0


class Missed(Reply, tag="missed", kw_only=True, frozen=True):
    """Pushed to a subscriber in place of events it asked for that are no longer kept: those
    from ``first`` up to ``oldest`` (exclusive), the oldest seq the event log still holds
    (retention, docs/config.md ``event_log_events``)."""

    first: NonNegative
    oldest: NonNegative


class LogChunk(Reply, tag="log", kw_only=True, frozen=True):
    """Pushed to log readers: raw bytes a program wrote, not split or decoded."""

    program: str
    stream: Stream
    data: bytes


class Lagged(Reply, tag="lagged", kw_only=True, frozen=True):
    """Pushed to a log reader that fell behind: it missed ``dropped`` bytes of this stream.

    The daemon drops a slow reader's bytes rather than slow the program down.
    """

    program: str
    stream: Stream
    dropped: NonNegative


class End(Reply, tag="end", kw_only=True, frozen=True):
    """A stream is over: logs without follow are sent, or it was cancelled, or shutdown."""

    message: str = ""
