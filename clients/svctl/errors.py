"""Everything svctl raises on purpose, one class per way a command can go wrong.

Each class carries ``exit_code`` (what the ``svctl`` command exits with, docs/install.md) and
each instance ``code``: the daemon's :class:`~supervisord_lite.protocol.ErrorCode` when the error
came over the socket, the class default otherwise. Foreign exceptions (``OSError`` on connect,
the protocol's ``ProtocolError``) are translated where they enter, with ``raise ... from exc``::

    SvctlError                        exit 1
    ├── DaemonUnavailable             exit 3   no socket, refused, EACCES on connect, the
    │                                          connection closed under us, no Welcome in time
    ├── ProtocolMismatch              exit 3   version mismatch, a reply we cannot decode, an
    │                                          op the daemon does not know, a frame it refused
    ├── UsageError                    exit 2   bad arguments, an unusable -c config
    └── CommandFailed                 exit 1   the daemon answered with an Error
        ├── NoSuchProgram             code=no_such_program    (.known: the valid names)
        ├── Timeout                   code=timeout            (the daemon's, or timeout=)
        ├── PermissionDenied          code=permission_denied  (the daemon refused our uid)
        ├── ConfigInvalid             code=config_invalid     exit 2 (reload of a bad config)
        └── ShuttingDown              code=shutting_down

ProtocolMismatch exits 3 like an unreachable daemon: no command was carried out and none can
be until client and daemon agree, which is a different situation from a refused command (1).
ConfigInvalid exits 2 because the design gives config errors that code, also when it is the
daemon that found them.
"""

from __future__ import annotations

import errno
from typing import ClassVar, Final

from supervisord_lite.protocol.messages import Error, ErrorCode

__all__ = [
    "ERROR_CLASSES",
    "CommandFailed",
    "ConfigInvalid",
    "DaemonUnavailable",
    "NoSuchProgram",
    "PermissionDenied",
    "ProtocolMismatch",
    "ShuttingDown",
    "SvctlError",
    "Timeout",
    "UsageError",
    "from_reply",
    "unreachable",
]


class SvctlError(Exception):
    """Base of every error svctl raises on purpose; ``str()`` is the one line to show."""

    exit_code: ClassVar[int] = 1
    default_code: ClassVar[ErrorCode | None] = None

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: ErrorCode | None = code if code is not None else self.default_code


class DaemonUnavailable(SvctlError):
    """No daemon could be reached on the socket, or it went away mid-conversation."""

    exit_code = 3


class ProtocolMismatch(SvctlError):
    """The daemon and this client do not speak the same protocol (see the module docstring)."""

    exit_code = 3


class UsageError(SvctlError):
    """The command line or the ``-c`` config cannot be used; nothing was sent."""

    exit_code = 2


class CommandFailed(SvctlError):
    """The daemon refused or failed a request (or, in the CLI, an action was not ok)."""


class NoSuchProgram(CommandFailed):
    """A request named a program the daemon does not have; ``known`` lists the valid names."""

    default_code = ErrorCode.NO_SUCH_PROGRAM

    def __init__(
        self, message: str, *, code: ErrorCode | None = None, known: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, code=code)
        self.known = known


class Timeout(CommandFailed):
    """The daemon's wait ran out (code ``timeout``), or the client's own ``timeout=`` did."""

    default_code = ErrorCode.TIMEOUT


class PermissionDenied(CommandFailed):
    """The daemon refused this uid (it says so instead of its Welcome), or a request the
    connection's role does not allow (docs/config.md, ``[daemon.access]``)."""

    default_code = ErrorCode.PERMISSION_DENIED


class ConfigInvalid(CommandFailed):
    """A reload found the config file invalid; the message lists every problem."""

    exit_code = 2
    default_code = ErrorCode.CONFIG_INVALID


class ShuttingDown(CommandFailed):
    """The daemon is shutting down and takes no new work."""

    default_code = ErrorCode.SHUTTING_DOWN


ERROR_CLASSES: Final[dict[ErrorCode, type[SvctlError]]] = {
    ErrorCode.BAD_FRAME: ProtocolMismatch,
    ErrorCode.FRAME_TOO_LARGE: ProtocolMismatch,
    ErrorCode.UNSUPPORTED_VERSION: ProtocolMismatch,
    ErrorCode.UNKNOWN_OP: ProtocolMismatch,
    ErrorCode.BAD_REQUEST: CommandFailed,
    ErrorCode.NO_SUCH_PROGRAM: NoSuchProgram,
    ErrorCode.SPAWN_FAILED: CommandFailed,
    ErrorCode.TIMEOUT: Timeout,
    ErrorCode.CONFIG_INVALID: ConfigInvalid,
    ErrorCode.SHUTTING_DOWN: ShuttingDown,
    ErrorCode.PERMISSION_DENIED: PermissionDenied,
    ErrorCode.BUSY: DaemonUnavailable,
    ErrorCode.INTERNAL: CommandFailed,
}
"""Which class a daemon ``Error`` becomes; a test checks every ErrorCode is here."""


def from_reply(error: Error) -> SvctlError:
    """The exception for an ``Error`` the daemon sent (the caller raises it)."""
    cls = ERROR_CLASSES.get(error.code, CommandFailed)
    if cls is NoSuchProgram:
        return NoSuchProgram(error.message, code=error.code, known=error.known)
    return cls(error.message, code=error.code)


def unreachable(path: str, exc: OSError) -> DaemonUnavailable:
    """The DaemonUnavailable for a failed connect to ``path``, saying why in words."""
    if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
        return DaemonUnavailable(f"no daemon listening on {path} ({exc.strerror})")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DaemonUnavailable(f"cannot connect to {path}: permission denied")
    return DaemonUnavailable(f"cannot connect to {path}: {exc.strerror or exc}")
