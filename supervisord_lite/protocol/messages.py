"""Every message that crosses the control socket: the one catalogue of the wire.

The daemon and every client (``svctl``, the Python clients) speak these Structs and nothing
else, so this module is the protocol's reference: it names every message, holds the two
unions a decoder accepts (:data:`ClientMessage`, :data:`ServerMessage`) and states the rules
below. The Structs themselves sit in modules by what they are, each short enough to read
whole; import them from here:

- ``_requests.py``: every request, with what it does, the ``svctl`` command that sends it
  and what the daemon answers;
- ``_replies.py``: the reply base and each request's answer;
- ``_pushed.py``: what a stream pushes (events, log chunks, its end);
- ``_status_values.py``: the rows of a status reply and the values nested in them;
- ``_fields.py``: the protocol version and the ranges of every number.

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
5. Every number in a request has a range (the ``MAX_*`` constants). A value outside it
   is refused when the request is decoded, as ``bad_request`` naming the field, so the
   daemon's code only ever sees numbers it can use.

States, wishes, outcomes and history entries are the shared vocabulary
(``supervisord_lite/vocabulary.py``), the error codes the protocol's own (``errors.py``); both
are named here too, so this module is the whole catalogue.

This module is pure: it imports the standard library, msgspec and the shared vocabulary.
"""

from __future__ import annotations

from typing import TypeAlias

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
from supervisord_lite.protocol._pushed import (
    DaemonEvent,
    DaemonEventChange,
    End,
    EventChange,
    Lagged,
    LogChunk,
    Missed,
    StateChanged,
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
"""Every request, as the daemon decodes one: a tagged union on ``"op"``."""


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
"""Every server message, as a client decodes one: a tagged union on ``"kind"``."""


def tag_of(cls: type[Request] | type[Reply]) -> str:
    """The wire name of a message class: its ``op`` for a request, its ``kind`` for a reply."""
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__name__} is not a tagged message")
    return tag
