"""svctl: talk to a supervisord-lite daemon over its control socket.

:class:`Client` blocks; :class:`AsyncClient` is its twin for trio and asyncio (through anyio),
generated from the same source. Both take ``timeout=`` per call, speak through one sans-IO
core, answer with the types listed here (no protocol request ids in them), and raise the
:class:`SvctlError` tree (each class has the ``exit_code`` the ``svctl`` command uses)::

    with svctl.Client() as client:
        for program in client.status():
            print(program.name, program.state)

``import svctl`` imports neither trio nor anyio: ``AsyncClient`` is loaded from
:mod:`svctl._async_client` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.protocol.messages import (
    ActionResult,
    ErrorCode,
    HistoryEntry,
    PlannedChange,
    PlannedProgram,
    ProgramState,
    ProgramStatus,
    WebhookStatus,
)
from svctl._config import socket_from_config
from svctl._report import report
from svctl._results import (
    DaemonEvent,
    End,
    Lagged,
    LogChunk,
    Missed,
    ReloadReply,
    ShutdownReport,
    StateChanged,
    Welcome,
)
from svctl._session import DEFAULT_SOCKET, SOCKET_ENV
from svctl._sync_client import Client, SyncPushStream
from svctl.errors import (
    CommandFailed,
    ConfigInvalid,
    DaemonUnavailable,
    NoSuchProgram,
    PermissionDenied,
    ProtocolMismatch,
    ShuttingDown,
    SvctlError,
    Timeout,
    UsageError,
)

if TYPE_CHECKING:
    from svctl._async_client import AsyncClient, AsyncPushStream

__all__ = [
    "DEFAULT_SOCKET",
    "SOCKET_ENV",
    "ActionResult",
    "AsyncClient",
    "AsyncPushStream",
    "Client",
    "CommandFailed",
    "ConfigInvalid",
    "DaemonEvent",
    "DaemonUnavailable",
    "End",
    "ErrorCode",
    "HistoryEntry",
    "Lagged",
    "LogChunk",
    "Missed",
    "NoSuchProgram",
    "PermissionDenied",
    "PlannedChange",
    "PlannedProgram",
    "ProgramState",
    "ProgramStatus",
    "ProtocolMismatch",
    "ReloadReply",
    "ShutdownReport",
    "ShuttingDown",
    "StateChanged",
    "SvctlError",
    "SyncPushStream",
    "Timeout",
    "UsageError",
    "WebhookStatus",
    "Welcome",
    "report",
    "socket_from_config",
]

_LAZY = frozenset({"AsyncClient", "AsyncPushStream"})


def __getattr__(name: str) -> object:
    """Load the async client (and anyio) only when someone asks for it."""
    if name in _LAZY:
        from svctl import _async_client

        return getattr(_async_client, name)
    raise AttributeError(f"module 'svctl' has no attribute {name!r}")
