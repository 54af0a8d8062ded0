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
    Cancel,
    DaemonEvent,
    End,
    Error,
    Hello,
    Lagged,
    LogChunk,
    Missed,
    Ok,
    StateChanged,
    Welcome,
    tag_of,
)
from supervisord_lite.protocol.socket_path import SYSTEM_SOCKET, client_socket
from svctl import _results
from svctl._requests import ItemT, Request, StreamRequest
from svctl.errors import DaemonUnavailable, ProtocolMismatch, SvctlError, UsageError, from_reply

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from supervisord_lite.protocol.messages import ClientMessage, Reply, ServerMessage

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
    "trusted_peer",
]

DEFAULT_SOCKET: Final = SYSTEM_SOCKET
"""Where the daemon listens when neither ``--socket``, ``$SVCTL_SOCKET`` nor ``-c`` says (a
daemon not run by root: in ``$XDG_RUNTIME_DIR``, see :func:`resolve_socket`)."""
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
PushItem = StateChanged | DaemonEvent | Missed | LogChunk | Lagged | End


class Pending(Enum):
    """What a wait returns while its answer has not arrived: read more and feed it."""

    PENDING = "pending"


PENDING: Final = Pending.PENDING


def resolve_socket(
    path: str | None,
    environ: Mapping[str, str],
    uid: int = 0,
    exists: Callable[[str], bool] | None = None,
) -> str:
    """The socket to use: ``path`` when given, else ``$SVCTL_SOCKET``, else the default: for a
    user other than root (``uid``), ``$XDG_RUNTIME_DIR/supervisord-lite/ctl.sock`` when
    ``exists`` finds it there, else :data:`DEFAULT_SOCKET`.

    (The CLI puts ``-c CONFIG``'s socket between the two by passing it as ``path``.)
    """
    if path:
        return path
    if environ.get(SOCKET_ENV):
        return environ[SOCKET_ENV]
    return client_socket(uid, environ, exists or _nowhere)


def _nowhere(path: str) -> bool:
    return False


def trusted_peer(path: str, peer_uid: int, own_uid: int) -> None:
    """Accept a daemon run by root or by this client's own uid, before anything is sent.

    Anyone who can bind the socket path could otherwise read what we send (a config reload,
    a shutdown) and answer with anything; the kernel's SO_PEERCRED says who bound it.

    Raises:
        DaemonUnavailable: the daemon on ``path`` runs as another user.
    """
    if peer_uid not in (0, own_uid):
        raise DaemonUnavailable(
            f"refusing {path}: its daemon runs as uid {peer_uid}, neither root nor this"
            f" user (uid {own_uid})"
        )


# Named tuples and a slotted class rather than dataclasses: every ``svctl`` call imports this
# module, and ``dataclasses`` (with ``inspect`` behind it) is a noticeable share of start-up.


class Call(NamedTuple, Generic[T]):
    """A request on its way: ``data`` to write, then wait for :meth:`Session.result`."""

    id: int
    data: bytes
    convert: Callable[[ServerMessage], T]


class PushStream(NamedTuple, Generic[ItemT]):
    """A stream opened by :meth:`Session.open`: write ``data``, then wait for ``ack`` (when
    there is one) and take items with :meth:`Session.next_item`."""

    id: int
    data: bytes
    ack: Call[None] | None
    item: Callable[[Reply], ItemT]


class _StreamState:
    __slots__ = ("accepts", "closing", "items")

    def __init__(self, accepts: tuple[type[Reply], ...]) -> None:
        self.accepts = accepts
        self.items: deque[PushItem | Error] = deque()
        self.closing = False


class Session:
    """One conversation with the daemon, from the client's side; see the module's rules.

    Not thread-safe: one shell drives it.
    """

    def __init__(self, client: str = CLIENT_NAME, *, read_only: bool = False) -> None:
        self._conn = Connection(Role.CLIENT)
        self._client = client
        self._read_only = read_only
        self._next_id = 1
        self._replies: dict[int, ServerMessage | None] = {}
        self._streams: dict[int, _StreamState] = {}
        self._cancels: dict[int, int] = {}
        self._detached: set[int] = set()
        self._failure: SvctlError | None = None
        self.welcome: _results.Welcome | None = None
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
            self.welcome = _results.without_id(_results.Welcome, msg)
            return
        mid = msg.id
        if mid in self._detached:
            return
        if isinstance(msg, StateChanged | DaemonEvent | Missed | LogChunk | Lagged | End):
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

    def welcomed(self) -> _results.Welcome | Pending:
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

    def next_item(self, stream: PushStream[ItemT]) -> ItemT | _results.End | Pending:
        """The stream's next item, its ``End``, or PENDING.

        A stream this side cancelled (or already ended) reads as ended.

        Raises:
            SvctlError: the daemon ended the stream with an Error, or the connection failed.
        """
        state = self._streams.get(stream.id)
        if state is None or state.closing:
            return _results.End(message="closed")
        if state.items:
            item = state.items.popleft()
            if isinstance(item, End | Error):
                del self._streams[stream.id]
            if isinstance(item, Error):
                raise from_reply(item)
            if isinstance(item, End):
                return _results.End(message=item.message)
            return stream.item(item)
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
        hello = Hello(
            id=0, version=PROTOCOL_VERSION, client=self._client, read_only=self._read_only
        )
        return self._conn.send(hello)

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

    def call(self, request: Request[T]) -> Call[T]:
        """Number ``request`` and encode it; write ``data``, then wait for :meth:`result`."""
        return self._call(request.message, request.answer)

    def open(self, request: StreamRequest[ItemT]) -> PushStream[ItemT]:
        """Number and encode a request that opens a stream (its id names the stream)."""
        ack: Call[None] | None = None
        if request.acknowledged:
            ack = self._call(request.message, _acknowledged)
            request_id, data = ack.id, ack.data
        else:
            request_id = self._next_id
            self._next_id += 1
            data = self._encode(request.message(request_id))
        self._streams[request_id] = _StreamState(request.accepts)
        return PushStream(request_id, data, ack, request.item)

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
        call = self._call(lambda i: Cancel(id=i, target=stream.id), _acknowledged)
        self._cancels[call.id] = stream.id
        return call


def _kind(msg: ServerMessage) -> str:
    return repr(tag_of(type(msg)))


def _acknowledged(reply: ServerMessage) -> None:
    if not isinstance(reply, Ok):
        raise ProtocolMismatch(f"the daemon answered with an unexpected {_kind(reply)}")
