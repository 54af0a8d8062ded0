"""The protocol's errors, and the codes an ``Error`` reply carries.

Two kinds of thing go wrong in a conversation, as in h11: the peer breaks the protocol
(:class:`ProtocolError` and its children, each with the :class:`ErrorCode` the reply to the peer
carries), or the local code misuses a :class:`~supervisord_lite.protocol.connection.Connection`
(:class:`LocalProtocolError`, a bug, never a message for the peer)::

    ProtocolError                code=bad_frame            the connection must close
    ├── FrameTooLarge            code=frame_too_large
    ├── UnsupportedVersion       code=unsupported_version
    ├── UnknownOperation         code=unknown_op
    └── BadRequest               code=bad_request          (a field out of range, a wrong type)
    LocalProtocolError                                     a bug in the caller

The daemon's own error tree (``supervisord_lite/errors.py``) is separate: the runtime turns its
errors into an :class:`ErrorCode` where they cross the socket.

This module is pure: it imports only the standard library.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

__all__ = [
    "BadRequest",
    "ErrorCode",
    "FrameTooLarge",
    "LocalProtocolError",
    "ProtocolError",
    "UnknownOperation",
    "UnsupportedVersion",
]


class ErrorCode(StrEnum):
    """Why a request failed; the client maps each code to an exception class and exit code.

    The values are wire strings and never change; a client reads a code it does not know as
    ``internal`` (see ``connection.py``).
    """

    BAD_FRAME = "bad_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_OP = "unknown_op"
    BAD_REQUEST = "bad_request"
    NO_SUCH_PROGRAM = "no_such_program"
    SPAWN_FAILED = "spawn_failed"
    TIMEOUT = "timeout"
    CONFIG_INVALID = "config_invalid"
    SHUTTING_DOWN = "shutting_down"
    PERMISSION_DENIED = "permission_denied"
    BUSY = "busy"
    """The daemon is at a limit (``max_connections``); trying later may succeed."""
    INTERNAL = "internal"


class ProtocolError(Exception):
    """A peer sent bytes that are not a valid frame or message; the connection must close.

    ``code`` is what the :class:`Error` reply to the peer carries. ``request_id`` is the id of
    the offending request where it could be read, so the reply can echo it.
    """

    code: ClassVar[ErrorCode] = ErrorCode.BAD_FRAME

    def __init__(self, message: str, *, request_id: int | None = None) -> None:
        self.request_id = request_id
        super().__init__(message)


class FrameTooLarge(ProtocolError):
    """A length prefix announced a body larger than ``MAX_FRAME``; nothing of it was buffered.

    Also raised to the local code by a send whose message would not fit in a frame.
    """

    code = ErrorCode.FRAME_TOO_LARGE


class UnsupportedVersion(ProtocolError):
    """The peer's protocol version is not one this side speaks."""

    code = ErrorCode.UNSUPPORTED_VERSION


class UnknownOperation(ProtocolError):
    """A request named an ``op`` this side does not know."""

    code = ErrorCode.UNKNOWN_OP


class BadRequest(ProtocolError):
    """A message with a known ``op`` whose fields do not validate (type, range); the message
    names the field (``$.limit``)."""

    code = ErrorCode.BAD_REQUEST


class LocalProtocolError(RuntimeError):
    """The local code misused a :class:`Connection` (wrong role, order or state).

    This is a bug in the caller, not something the peer did; let it propagate.
    """
