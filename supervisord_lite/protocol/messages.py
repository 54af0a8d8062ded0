"""Every message that crosses the control socket: the one catalogue of the wire.

The daemon and every client (``svctl``, the Python clients) speak these Structs and nothing
else, so this module is the protocol's reference: each request's docstring says what it
does, the ``svctl`` command that sends it, and what the daemon answers.

Rules of the wire (they are what lets an old client talk to a newer daemon and back):

1. Requests are a tagged union on ``"op"``, replies on ``"kind"``. Tag strings never change;
   ``tests/protocol/test_messages.py`` pins them.
2. Every request carries ``id``; every reply echoes the id of the request it answers. Pushed
   messages (:class:`StateChanged`, :class:`LogChunk`, :class:`Lagged`, :class:`End`) carry
   the id of the request that opened the stream, which is therefore the subscription id.
3. A field added later must have a default, and a field's type never changes. Unknown fields
   on the wire are ignored, never an error (unlike the config, which forbids them).
4. No traceback crosses the socket: a failure is an :class:`Error` with an :class:`ErrorCode`
   and one line of message.
5. Every number in a request has a range (the ``MAX_*`` constants below). A value outside it
   is refused when the request is decoded, as ``bad_request`` naming the field, so the
   daemon's code only ever sees numbers it can use.

States, wishes, outcomes and history entries are the shared vocabulary
(``supervisord_lite/vocabulary.py``), the error codes the protocol's own (``errors.py``); both
are named here too, so this module is the whole catalogue.

This module is pure: it imports the standard library, msgspec and the shared vocabulary.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from supervisord_lite.protocol._fields import (
    MAX_HISTORY,
    MAX_ID,
    MAX_LOG_LINES,
    MAX_REPLAY,
    MAX_REPLICAS,
    MAX_TIME,
    MAX_WAIT,
    PROTOCOL_VERSION,
    NonNegative,
    RequestId,
    Stream,
)
from supervisord_lite.protocol._replies import (
    ActionReply,
    ActionResult,
    Error,
    HistoryReply,
    Ok,
    PlannedChange,
    PlannedProgram,
    Pong,
    ReloadReply,
    Reply,
    ShutdownReply,
    StatusReply,
    WebhooksReply,
    WebhookStatus,
    Welcome,
)
from supervisord_lite.protocol._requests import (
    Cancel,
    Hello,
    History,
    Logs,
    Ping,
    Reload,
    ReopenLogs,
    Request,
    Restart,
    Scale,
    Shutdown,
    Signal,
    Start,
    Status,
    Stop,
    Subscribe,
    Wait,
    Webhooks,
)
from supervisord_lite.protocol._status_values import (
    LogStreamStats,
    OperatorIntent,
    ProbeReport,
    ProgramStatus,
    Progress,
    RunUsage,
    StoreHealth,
)
from supervisord_lite.protocol.errors import ErrorCode
from supervisord_lite.vocabulary import HistoryEntry, Outcome, ProgramState, Want

__all__ = [
    "MAX_HISTORY",
    "MAX_ID",
    "MAX_LOG_LINES",
    "MAX_REPLAY",
    "MAX_REPLICAS",
    "MAX_TIME",
    "MAX_WAIT",
    "PROTOCOL_VERSION",
    "ActionReply",
    "ActionResult",
    "Cancel",
    "ClientMessage",
    "DaemonEvent",
    "DaemonEventChange",
    "End",
    "Error",
    "ErrorCode",
    "EventChange",
    "Hello",
    "History",
    "HistoryEntry",
    "HistoryReply",
    "Lagged",
    "LogChunk",
    "LogStreamStats",
    "Logs",
    "Missed",
    "NonNegative",
    "Ok",
    "OperatorIntent",
    "Outcome",
    "Ping",
    "PlannedChange",
    "PlannedProgram",
    "Pong",
    "ProbeReport",
    "ProgramState",
    "ProgramStatus",
    "Progress",
    "Reload",
    "ReloadReply",
    "ReopenLogs",
    "Reply",
    "Request",
    "RequestId",
    "Restart",
    "RunUsage",
    "Scale",
    "ServerMessage",
    "Shutdown",
    "ShutdownReply",
    "Signal",
    "Start",
    "StateChanged",
    "Status",
    "StatusReply",
    "Stop",
    "StoreHealth",
    "Stream",
    "Subscribe",
    "Wait",
    "Want",
    "WebhookStatus",
    "Webhooks",
    "WebhooksReply",
    "Welcome",
    "tag_of",
]

ClientMessage: TypeAlias = (
    Hello
    | Ping
    | Status
    | Start
    | Stop
    | Restart
    | History
    | Logs
    | Wait
    | Subscribe
    | Cancel
    | Reload
    | Shutdown
    | ReopenLogs
    | Signal
    | Scale
    | Webhooks
)


# -- values inside replies --------------------------------------------------------------------


# -- server -> client -------------------------------------------------------------------------


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


ServerMessage: TypeAlias = (
    Welcome
    | Pong
    | Ok
    | StatusReply
    | ActionReply
    | HistoryReply
    | ReloadReply
    | ShutdownReply
    | StateChanged
    | DaemonEvent
    | Missed
    | WebhooksReply
    | LogChunk
    | Lagged
    | End
    | Error
)


def tag_of(cls: type[Request] | type[Reply]) -> str:
    """The wire name of a message class: its ``op`` for a request, its ``kind`` for a reply."""
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__name__} is not a tagged message")
    return tag
