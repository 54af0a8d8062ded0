"""The client side of the control protocol with no I/O: everything the two clients share.

A :class:`Session` wraps a ``protocol.Connection(Role.CLIENT)``. :class:`~svctl.Client` and
:class:`~svctl.AsyncClient` write the bytes it hands out, feed it the bytes they read, and ask
it whether what they wait for has arrived (the httpx shape: one core, two shells). It never
reads a clock, sleeps or touches a socket; timeouts and cancellation belong to the shells.

Rule 1: ids. Hello goes out first with id 0; requests are numbered 1, 2, 3... Each one-shot
request gets exactly one reply echoing its id, in any order relative to other requests'.

Rule 2: streams. ``subscribe`` and ``logs`` open a stream named by their request id. Pushed
items (StateChanged, LogChunk, Lagged) and the closing ``End`` carry that id and are queued per
stream until the shell takes them. ``subscribe`` is also acknowledged with ``Ok``; an ``Error``
on a stream's id ends it with that error.

Rule 3: abandoned calls. A shell that stops waiting (its timeout ran out, its task was
cancelled) detaches the call; whatever arrives for that id later is dropped, and the
connection stays usable.

Rule 4: failures are sticky. The daemon closing the connection, a reply this client cannot
decode or did not expect, or an ``Error`` that answers no request (the refusal that comes
instead of Welcome) fails every wait that has not got its answer yet, with the same error.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import TYPE_CHECKING, Final, Generic, NamedTuple, TypeVar, cast

import supervisord_lite
from supervisord_lite.errors import ProtocolError
from supervisord_lite.protocol.connection import CLOSED, NEED_DATA, Connection, Role
from supervisord_lite.protocol.messages import (
    PROTOCOL_VERSION,
    ActionReply,
    ActionResult,
    Cancel,
    ClientMessage,
    End,
    Error,
    Hello,
    History,
    HistoryEntry,
    HistoryReply,
    Lagged,
    LogChunk,
    Logs,
    Ok,
    Ping,
    Pong,
    ProgramState,
    ProgramStatus,
    Reload,
    ReloadReply,
    Restart,
    ServerMessage,
    Shutdown,
    Start,
    StateChanged,
    Status,
    StatusReply,
    Stop,
    Stream,
    Subscribe,
    Wait,
    Welcome,
    tag_of,
)
from svctl.errors import DaemonUnavailable, ProtocolMismatch, SvctlError, UsageError, from_reply

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "CLIENT_NAME",
    "DEFAULT_SOCKET",
    "PARTING_WAIT",
    "PENDING",
    "Call",
    "Pending",
    "PushStream",
    "Session",
    "resolve_socket",
]

DEFAULT_SOCKET: Final = "/run/supervisord-lite/ctl.sock"
"""Where the daemon listens when neither ``--socket``, ``$SVCTL_SOCKET`` nor ``-c`` says."""
BUSY_PAUSE: Final = 0.001
"""First pause before connecting again to a daemon whose accept backlog is full."""
BUSY_PAUSE_MAX: Final = 0.05
"""Longest pause between those attempts."""
PARTING_WAIT: Final = 1.0
"""Longest wait, after a send failed because the daemon closed the connection, for what it
said before closing (a refusal of this uid arrives that way)."""

SOCKET_ENV: Final = "SVCTL_SOCKET"
CLIENT_NAME: Final = f"svctl {supervisord_lite.__version__}"

T = TypeVar("T")
ItemT = TypeVar("ItemT", bound=StateChanged | LogChunk | Lagged)
PushItem = StateChanged | LogChunk | Lagged | End


class Pending(Enum):
    """What a wait returns while its answer has not arrived: read more and feed it."""

    PENDING = "pending"


PENDING: Final = Pending.PENDING


def resolve_socket(path: str | None, environ: Mapping[str, str]) -> str:
    """The socket to use: ``path`` when given, else ``$SVCTL_SOCKET``, else the default.

    (The CLI puts ``-c CONFIG``'s socket between the two by passing it as ``path``.)
    """
    if path:
        return path
    return environ.get(SOCKET_ENV) or DEFAULT_SOCKET


# Named tuples and a slotted class rather than dataclasses: every ``svctl`` call imports this
# module, and ``dataclasses`` (with ``inspect`` behind it) is a noticeable share of start-up.


class Call(NamedTuple, Generic[T]):
    """A request on its way: ``data`` to write, then wait for :meth:`Session.result`."""

    id: int
    data: bytes
    convert: Callable[[ServerMessage], T]


class PushStream(NamedTuple, Generic[ItemT]):
    """A stream opened by ``subscribe`` or ``logs``: write ``data``, then wait for ``ack``
    (when there is one) and take items with :meth:`Session.next_item`."""

    id: int
    data: bytes
    ack: Call[None] | None
    accepts: tuple[type[ItemT], ...]


class _StreamState:
    __slots__ = ("accepts", "closing", "items")

    def __init__(self, accepts: tuple[type, ...]) -> None:
        self.accepts = accepts
        self.items: deque[PushItem | Error] = deque()
        self.closing = False


class Session:
    """One conversation with the daemon, from the client's side; see the module's rules.

    Not thread-safe: one shell drives it.
    """

    def __init__(self, client: str = CLIENT_NAME) -> None:
        self._conn = Connection(Role.CLIENT)
        self._client = client
        self._next_id = 1
        self._replies: dict[int, ServerMessage | None] = {}
        self._streams: dict[int, _StreamState] = {}
        self._cancels: dict[int, int] = {}
        self._detached: set[int] = set()
        self._failure: SvctlError | None = None
        self.welcome: Welcome | None = None
        self.peer_closed = False

    # -- bytes in ------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes read from the socket (``b""``: the daemon closed it) and route them."""
        self._conn.receive_data(data)
        while True:
            try:
                event = self._conn.next_event()
            except ProtocolError as exc:
                failure = ProtocolMismatch(f"the daemon sent what this client cannot read: {exc}")
                failure.__cause__ = exc
                self._fail(failure)
                return
            if event is NEED_DATA:
                return
            if event is CLOSED:
                self.peer_closed = True
                self._fail(DaemonUnavailable("the daemon closed the connection"))
                return
            self._route(cast("ServerMessage", event))  # a client Connection yields no requests

    def _route(self, msg: ServerMessage) -> None:
        if isinstance(msg, Welcome):
            self.welcome = msg
            return
        mid = msg.id
        if mid in self._detached:
            return
        if isinstance(msg, StateChanged | LogChunk | Lagged | End):
            self._push(mid, msg)
        elif self._replies.get(mid, False) is None:
            self._replies[mid] = msg
        elif isinstance(msg, Error) and mid in self._streams:
            self._push(mid, msg)
        elif isinstance(msg, Error):
            self._fail(from_reply(msg))
        else:
            self._fail(ProtocolMismatch(f"the daemon sent an unexpected {_kind(msg)} (id {mid})"))

    def _push(self, mid: int, msg: PushItem | Error) -> None:
        stream = self._streams.get(mid)
        if stream is None or not isinstance(msg, (*stream.accepts, End, Error)):
            self._fail(ProtocolMismatch(f"the daemon sent an unexpected {_kind(msg)} (id {mid})"))
            return
        if not stream.closing:
            stream.items.append(msg)
        elif isinstance(msg, End | Error):
            del self._streams[mid]

    def _fail(self, failure: SvctlError) -> None:
        if self._failure is None:
            self._failure = failure

    @property
    def failure(self) -> SvctlError | None:
        """The error that ended this conversation (Rule 4), or None while it is usable."""
        return self._failure

    def _check_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    # -- waiting -------------------------------------------------------------------------------

    def welcomed(self) -> Welcome | Pending:
        """The daemon's Welcome once it came.

        Raises:
            PermissionDenied: the daemon refused this uid instead of welcoming it.
            ProtocolMismatch: it speaks another protocol version.
            DaemonUnavailable: it closed the connection first.
        """
        if self.welcome is not None:
            return self.welcome
        self._check_failure()
        return PENDING

    def result(self, call: Call[T]) -> T | Pending:
        """The answer to ``call`` once it came; each call's answer is taken once.

        Raises:
            SvctlError: the daemon answered with an Error (the class its code maps to), or the
                connection failed before the answer came (Rule 4).
        """
        reply = self._replies.get(call.id)
        if reply is None:
            if call.id not in self._replies:
                raise RuntimeError(f"request {call.id} is not awaiting an answer")
            self._check_failure()
            return PENDING
        del self._replies[call.id]
        target = self._cancels.pop(call.id, None)
        if isinstance(reply, Error):
            if target is not None and target not in self._streams:
                return call.convert(Ok(id=call.id))  # the stream ended before the cancel came
            self._streams.pop(call.id, None)
            raise from_reply(reply)
        return call.convert(reply)

    def next_item(self, stream: PushStream[ItemT]) -> ItemT | End | Pending:
        """The stream's next item, its ``End``, or PENDING.

        Raises:
            SvctlError: the daemon ended the stream with an Error, or the connection failed.
        """
        state = self._streams.get(stream.id)
        if state is None:
            raise RuntimeError(f"stream {stream.id} is over")
        if state.items:
            item = state.items.popleft()
            if isinstance(item, End | Error):
                del self._streams[stream.id]
            if isinstance(item, Error):
                raise from_reply(item)
            return item  # type: ignore[return-value]
        self._check_failure()
        return PENDING

    def stream_over(self, stream: PushStream[ItemT]) -> bool:
        """Whether the daemon ended the stream (after a :meth:`cancel`, its End came).

        Raises:
            SvctlError: the connection failed before it ended.
        """
        if stream.id not in self._streams:
            return True
        self._check_failure()
        return False

    def detach(self, request_id: int) -> None:
        """Stop waiting for ``request_id``: what still comes for it is dropped (Rule 3)."""
        self._detached.add(request_id)
        self._replies.pop(request_id, None)
        self._streams.pop(request_id, None)
        self._cancels.pop(request_id, None)

    # -- bytes out -----------------------------------------------------------------------------

    def hello(self) -> bytes:
        """The first bytes to write on a new connection."""
        return self._conn.send(Hello(id=0, version=PROTOCOL_VERSION, client=self._client))

    def _call(
        self, build: Callable[[int], ClientMessage], convert: Callable[[ServerMessage], T]
    ) -> Call[T]:
        request_id = self._next_id
        self._next_id += 1
        data = self._encode(build(request_id))
        self._replies[request_id] = None
        return Call(request_id, data, convert)

    def _encode(self, request: ClientMessage) -> bytes:
        try:
            return self._conn.send(request)
        except ProtocolError as exc:  # FrameTooLarge: nothing was sent
            raise UsageError(f"the request is too large to send: {exc}") from exc

    def ping(self) -> Call[None]:
        """``Ping``, answered with ``Pong``."""
        return self._call(lambda i: Ping(id=i), _none_from(Pong))

    def status(self, names: tuple[str, ...], stats: bool = False) -> Call[list[ProgramStatus]]:
        """``Status``: every program when ``names`` is empty."""
        return self._call(lambda i: Status(id=i, names=names, stats=stats), _status)

    def action(
        self, op: str, names: tuple[str, ...], *, every: bool, wait: bool
    ) -> Call[list[ActionResult]]:
        """``start``, ``stop`` or ``restart`` the named programs, or all of them.

        Raises:
            UsageError: neither names nor ``every``, both, or an unknown ``op``.
        """
        kind = _ACTIONS.get(op)
        if kind is None:
            raise UsageError(f"unknown action {op!r}")
        if bool(names) == every:
            raise UsageError(f"{op}: name the programs, or ask for all (not both)")
        return self._call(lambda i: kind(id=i, names=names, all=every, wait=wait), _results)

    def history(self, name: str | None, limit: int) -> Call[list[HistoryEntry]]:
        """``History`` of one program (or all of them when ``name`` is None), oldest first."""
        if limit < 0:
            raise UsageError(f"history: the limit must be 0 or more, not {limit}")
        return self._call(lambda i: History(id=i, name=name, limit=limit), _history)

    def wait(
        self, names: tuple[str, ...], state: ProgramState, timeout: float | None
    ) -> Call[list[ActionResult]]:
        """``Wait`` until every named program is in ``state`` (the daemon times it)."""
        if not names:
            raise UsageError("wait: name at least one program")
        if timeout is not None and timeout < 0:
            raise UsageError(f"wait: the timeout must be 0 or more, not {timeout:g}")
        return self._call(lambda i: Wait(id=i, names=names, state=state, timeout=timeout), _results)

    def reload(self) -> Call[ReloadReply]:
        """``Reload`` the daemon's config file."""
        return self._call(lambda i: Reload(id=i), _reload)

    def shutdown(self) -> Call[None]:
        """``Shutdown`` the daemon; answered with ``Ok`` as it begins."""
        return self._call(lambda i: Shutdown(id=i), _none_from(Ok))

    def subscribe(self) -> PushStream[StateChanged]:
        """Open the stream of state changes; it is live once its ``ack`` is in."""
        ack = self._call(lambda i: Subscribe(id=i), _none_from(Ok))
        self._streams[ack.id] = _StreamState(accepts=(StateChanged,))
        return PushStream(ack.id, ack.data, ack, (StateChanged,))

    def logs(
        self, name: str | None, stream: Stream | None, lines: int, follow: bool
    ) -> PushStream[LogChunk | Lagged]:
        """Open a stream of a program's output: the last ``lines``, then more with ``follow``."""
        if lines < 0:
            raise UsageError(f"logs: the line count must be 0 or more, not {lines}")
        request_id = self._next_id
        self._next_id += 1
        data = self._encode(
            Logs(id=request_id, name=name, stream=stream, lines=lines, follow=follow)
        )
        accepts: tuple[type[LogChunk | Lagged], ...] = (LogChunk, Lagged)
        self._streams[request_id] = _StreamState(accepts=accepts)
        return PushStream(request_id, data, None, accepts)

    def cancel(self, stream: PushStream[ItemT]) -> Call[None] | None:
        """End ``stream``: the Cancel to send, or None when it is already over.

        From here on its items are dropped; wait for the call's result, then
        :meth:`stream_over`. A Cancel that arrives after the stream's own End is not an error.
        """
        state = self._streams.get(stream.id)
        if state is None:
            return None
        if state.items and isinstance(state.items[-1], End | Error):
            del self._streams[stream.id]
            return None
        state.items.clear()
        state.closing = True
        self._replies.pop(stream.id, None)
        call = self._call(lambda i: Cancel(id=i, target=stream.id), _none_from(Ok))
        self._cancels[call.id] = stream.id
        return call


_ACTIONS: Final[dict[str, type[Start | Stop | Restart]]] = {
    "start": Start,
    "stop": Stop,
    "restart": Restart,
}


def _kind(msg: ServerMessage) -> str:
    return repr(tag_of(type(msg)))


def _expect(reply: ServerMessage, cls: type[T]) -> T:
    if not isinstance(reply, cls):
        raise ProtocolMismatch(f"the daemon answered with an unexpected {_kind(reply)}")
    return reply


def _none_from(cls: type[ServerMessage]) -> Callable[[ServerMessage], None]:
    def convert(reply: ServerMessage) -> None:
        _expect(reply, cls)

    return convert


def _status(reply: ServerMessage) -> list[ProgramStatus]:
    return list(_expect(reply, StatusReply).programs)


def _results(reply: ServerMessage) -> list[ActionResult]:
    return list(_expect(reply, ActionReply).results)


def _history(reply: ServerMessage) -> list[HistoryEntry]:
    return list(_expect(reply, HistoryReply).entries)


def _reload(reply: ServerMessage) -> ReloadReply:
    return _expect(reply, ReloadReply)
