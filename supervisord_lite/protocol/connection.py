"""The sans-IO protocol connection: bytes in, messages out; messages in, bytes out.

A :class:`Connection` holds the state of one control-socket conversation and never touches
a socket: the daemon's control server and the clients feed it what they read
(:meth:`Connection.receive_data`), ask it for messages (:meth:`Connection.next_event`) and
write what :meth:`Connection.send` returns (the h11 / wsproto shape).

Rule 1: the handshake comes first. The client's first message is :class:`Hello`, the
server's first is :class:`Welcome` (sent once the Hello is in), both with
``PROTOCOL_VERSION``. A client may send requests right after its Hello without waiting
for the Welcome. The server may send an :class:`Error` at any time, also instead of the
Welcome when it refuses the handshake, and a client receives that Error like any message.

Rule 2: what the peer gets wrong raises :class:`~supervisord_lite.protocol.errors.ProtocolError`
(with ``code`` and, when the body could be read, ``request_id``) from :meth:`next_event`;
the connection is then in ``ERROR``, :meth:`next_event` raises the same error again, and
the only thing left to send is the server's :class:`Error` reply (:func:`error_reply`)
before the caller closes the socket. What the local code gets wrong (sending a reply as a
client, a request before Hello) raises :class:`LocalProtocolError`: that is a bug, never a
message for the peer.

Rule 3: ``receive_data(b"")`` is the end of the stream. At a frame boundary it is a clean
close (:data:`CLOSED`); inside a frame it is a ProtocolError. Sending stays allowed after
the peer's close, since it may only have shut down its writing half.

This module is pure: it imports only the standard library, msgspec and the protocol's other
modules.
"""

from __future__ import annotations

import functools
from collections import deque
from enum import Enum, StrEnum
from typing import Final, TypeAlias, get_args

import msgspec

from supervisord_lite.protocol.errors import (
    BadRequest,
    LocalProtocolError,
    ProtocolError,
    UnknownOperation,
    UnsupportedVersion,
)
from supervisord_lite.protocol.framing import MAX_FRAME, FrameDecoder, FrameEncoder
from supervisord_lite.protocol.messages import (
    PROTOCOL_VERSION,
    ClientMessage,
    Error,
    ErrorCode,
    Hello,
    ServerMessage,
    Welcome,
    tag_of,
)

__all__ = [
    "CLOSED",
    "NEED_DATA",
    "Connection",
    "ConnectionState",
    "Event",
    "LocalProtocolError",
    "Message",
    "NoMessage",
    "Role",
    "error_reply",
]


class Role(StrEnum):
    """Which end of the socket a :class:`Connection` speaks for."""

    CLIENT = "client"
    SERVER = "server"


class ConnectionState(StrEnum):
    """Where a conversation is; see the module's rules."""

    AWAIT_HELLO = "await_hello"
    OPEN = "open"
    CLOSED = "closed"
    ERROR = "error"


class NoMessage(Enum):
    """What :meth:`Connection.next_event` returns when it has no message to give."""

    NEED_DATA = "need_data"
    CLOSED = "closed"


NEED_DATA: Final = NoMessage.NEED_DATA
"""No complete message yet: read more bytes and call ``receive_data``."""

CLOSED: Final = NoMessage.CLOSED
"""The peer closed the stream cleanly; no message will ever come."""

Message: TypeAlias = ClientMessage | ServerMessage
Event: TypeAlias = Message | NoMessage


_CLIENT_TYPES: Final = get_args(ClientMessage)
_SERVER_TYPES: Final = get_args(ServerMessage)
_OPS: Final = frozenset(tag_of(cls) for cls in _CLIENT_TYPES)
_KINDS: Final = frozenset(tag_of(cls) for cls in _SERVER_TYPES)
_CODES: Final = frozenset(code.value for code in ErrorCode)
_GREETINGS: Final = (Hello, Welcome)
_MAX_QUOTE = 200

_RAW_DECODER: Final = msgspec.msgpack.Decoder()


# Each side needs only one of the two typed decoders, and building one is a noticeable part of
# a short-lived client's start-up, so each is built on first use (once per process).
@functools.cache
def _request_decoder() -> msgspec.msgpack.Decoder[ClientMessage]:
    return msgspec.msgpack.Decoder(ClientMessage)


@functools.cache
def _reply_decoder() -> msgspec.msgpack.Decoder[ServerMessage]:
    return msgspec.msgpack.Decoder(ServerMessage)


def error_reply(exc: ProtocolError) -> Error:
    """The :class:`Error` that tells the peer why its connection is being closed.

    The code is the exception's ``code``; the id echoes the offending request's id when it
    could be read (0 otherwise). The message is the exception's text, never a traceback.
    """
    request_id = exc.request_id if exc.request_id is not None else 0
    return Error(id=request_id, code=exc.code, message=str(exc))


class Connection:
    """One side of one control-socket conversation, with no I/O of its own."""

    def __init__(self, role: Role, *, max_frame: int = MAX_FRAME) -> None:
        self.role = Role(role)
        self._encoder = FrameEncoder(max_frame)
        self._decoder = FrameDecoder(max_frame)
        self._bodies: deque[bytes] = deque()
        self._sent_greeting = False
        self._got_greeting = False
        self._eof = False
        self._closed = False
        self._error: ProtocolError | None = None
        self._pending_error: ProtocolError | None = None

    @property
    def state(self) -> ConnectionState:
        """Where the conversation is.

        ``AWAIT_HELLO`` until Hello and Welcome have both gone through, then ``OPEN``;
        ``CLOSED`` once the peer's clean end of stream was returned; ``ERROR`` once the peer
        broke the protocol.
        """
        if self._error is not None:
            return ConnectionState.ERROR
        if self._closed:
            return ConnectionState.CLOSED
        if self._sent_greeting and self._got_greeting:
            return ConnectionState.OPEN
        return ConnectionState.AWAIT_HELLO

    def send(self, msg: Message) -> bytes:
        """Return the frame to write for ``msg``.

        Raises:
            LocalProtocolError: ``msg`` is not this role's to send, or not now (a request
                before Hello, a reply before Welcome, anything but an Error after the peer
                broke the protocol).
            FrameTooLarge: the message is larger than ``max_frame`` (split log data first).
        """
        if self.role is Role.CLIENT:
            self._check_client_send(msg)
        else:
            self._check_server_send(msg)
        frame = self._encoder.encode(msg)
        if isinstance(msg, _GREETINGS):
            self._sent_greeting = True
        return frame

    def _check_client_send(self, msg: Message) -> None:
        if not isinstance(msg, _CLIENT_TYPES):
            raise LocalProtocolError(f"a client cannot send {type(msg).__name__}")
        if self._error is not None:
            raise LocalProtocolError(f"the connection failed ({self._error}); close it")
        if self._sent_greeting and isinstance(msg, Hello):
            raise LocalProtocolError("Hello was already sent")
        if not self._sent_greeting and not isinstance(msg, Hello):
            raise LocalProtocolError(f"send Hello before {type(msg).__name__}")

    def _check_server_send(self, msg: Message) -> None:
        if not isinstance(msg, _SERVER_TYPES):
            raise LocalProtocolError(f"a server cannot send {type(msg).__name__}")
        if isinstance(msg, Error):
            return
        if self._error is not None:
            raise LocalProtocolError(
                f"the connection failed ({self._error}); only an Error may be sent"
            )
        if isinstance(msg, Welcome):
            if self._sent_greeting:
                raise LocalProtocolError("Welcome was already sent")
            if not self._got_greeting:
                raise LocalProtocolError("Welcome answers a Hello; none was received")
        elif not self._sent_greeting:
            raise LocalProtocolError(f"send Welcome before {type(msg).__name__}")

    def receive_data(self, data: bytes) -> None:
        """Take bytes read from the peer; ``b""`` means it closed its end.

        Never raises for what the peer sent: errors come out of :meth:`next_event`, after
        the messages that preceded them.

        Raises:
            LocalProtocolError: data after the end of stream was already given.
        """
        if self._eof:
            if data:
                raise LocalProtocolError("received data after the end of stream")
            return
        if not data:
            self._eof = True
            return
        if self._pending_error is not None or self._error is not None:
            return
        try:
            self._bodies.extend(self._decoder.feed(data))
        except ProtocolError as exc:
            self._pending_error = exc

    def next_event(self) -> Event:
        """Return the next message from the peer, :data:`NEED_DATA` or :data:`CLOSED`.

        Raises:
            ProtocolError: the peer broke the protocol: ``FrameTooLarge``, an undecodable
                or non-map body (``bad_frame``), ``UnknownOperation``, ``BadRequest``,
                ``UnsupportedVersion``, a message out of order, or the stream ended inside
                a frame. Raised again on every later call.
        """
        if self._error is not None:
            raise self._error.with_traceback(None)
        try:
            return self._next_event()
        except ProtocolError as exc:
            self._error = exc
            raise

    def _next_event(self) -> Event:
        if self._bodies:
            body = self._bodies.popleft()
            if self.role is Role.SERVER:
                return self._check_request(_decode_request(body))
            return self._check_reply(_decode_reply(body))
        if self._pending_error is not None:
            raise self._pending_error
        if not self._eof:
            return NEED_DATA
        if not self._decoder.at_boundary:
            raise ProtocolError(
                f"connection closed mid-frame ({self._decoder.pending} bytes of a frame read)"
            )
        self._closed = True
        return CLOSED

    def _check_request(self, msg: ClientMessage) -> ClientMessage:
        if isinstance(msg, Hello):
            if self._got_greeting:
                raise ProtocolError("Hello sent twice", request_id=msg.id)
            if msg.version != PROTOCOL_VERSION:
                raise UnsupportedVersion(
                    f"protocol version {msg.version} is not supported"
                    f" (this daemon speaks {PROTOCOL_VERSION})",
                    request_id=msg.id,
                )
            self._got_greeting = True
        elif not self._got_greeting:
            raise ProtocolError(
                f"the first message must be 'hello', not {tag_of(type(msg))!r}",
                request_id=msg.id,
            )
        return msg

    def _check_reply(self, msg: ServerMessage) -> ServerMessage:
        if isinstance(msg, Welcome):
            if self._got_greeting:
                raise ProtocolError("Welcome sent twice")
            if msg.version != PROTOCOL_VERSION:
                raise UnsupportedVersion(
                    f"the daemon speaks protocol version {msg.version},"
                    f" this client {PROTOCOL_VERSION}"
                )
            self._got_greeting = True
        elif not self._got_greeting and not isinstance(msg, Error):
            raise ProtocolError(f"the first message must be 'welcome', not {tag_of(type(msg))!r}")
        return msg


def _decode_request(body: bytes) -> ClientMessage:
    try:
        return _request_decoder().decode(body)
    except msgspec.ValidationError as exc:
        raise _classify(body, exc, "op", _OPS) from exc
    except _UNDECODABLE as exc:
        raise _undecodable(exc) from exc


def _decode_reply(body: bytes) -> ServerMessage:
    try:
        return _reply_decoder().decode(body)
    except msgspec.ValidationError as exc:
        fallback = _unknown_error_code(body)
        if fallback is not None:
            return fallback
        raise _classify(body, exc, "kind", _KINDS) from exc
    except _UNDECODABLE as exc:
        raise _undecodable(exc) from exc


# msgspec lets UnicodeDecodeError through for invalid UTF-8 in a string (msgspec issue #714),
# and RecursionError for deeply nested arrays or maps, even inside fields it skips.
_UNDECODABLE: Final = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _undecodable(exc: Exception) -> ProtocolError:
    if isinstance(exc, UnicodeDecodeError):
        return ProtocolError("undecodable message: a string is not valid UTF-8")
    if isinstance(exc, RecursionError):
        return ProtocolError("undecodable message: nested too deeply")
    return ProtocolError(f"undecodable message: {exc}")


def _raw_map(body: bytes) -> dict[object, object]:
    try:
        raw: object = _RAW_DECODER.decode(body)
    except _UNDECODABLE as exc:
        raise _undecodable(exc) from exc
    if not isinstance(raw, dict):
        raise ProtocolError(f"a message must be a map, not {type(raw).__name__}")
    return raw


def _classify(
    body: bytes, exc: msgspec.ValidationError, tag_field: str, known: frozenset[str]
) -> ProtocolError:
    """Tell an unknown tag from bad fields; only runs once the typed decode has failed."""
    raw = _raw_map(body)
    raw_id = raw.get("id")
    request_id = raw_id if type(raw_id) is int else None
    tag = raw.get(tag_field)
    problem = _clip(str(exc))
    if isinstance(tag, str) and tag not in known:
        return UnknownOperation(f"unknown {tag_field} {_clip(tag)!r}", request_id=request_id)
    if isinstance(tag, str):
        return BadRequest(f"invalid {tag!r} message: {problem}", request_id=request_id)
    return BadRequest(f"invalid message: {problem}", request_id=request_id)


def _clip(text: str) -> str:
    """Keep what the peer sent from growing the error reply to its own size."""
    return text if len(text) <= _MAX_QUOTE else text[:_MAX_QUOTE] + "..."


def _unknown_error_code(body: bytes) -> Error | None:
    """Read an Error whose code a newer daemon added as ``internal``, keeping its message.

    Error codes grow over time; a client must still be told that a request failed and why.
    """
    try:
        raw = _raw_map(body)
    except ProtocolError:
        return None
    code = raw.get("code")
    if raw.get("kind") != "error" or not isinstance(code, str) or code in _CODES:
        return None
    try:
        return msgspec.convert({**raw, "code": ErrorCode.INTERNAL.value}, Error)
    except msgspec.ValidationError:
        return None
