"""svctl: talk to a supervisord-lite daemon over its control socket.

:class:`Client` blocks (``timeout=`` per call); :class:`AsyncClient` is its trio twin (cancel
scopes instead of timeouts). Both speak through one sans-IO core, answer with the protocol's
typed Structs, and raise the :class:`SvctlError` tree (each class has the ``exit_code`` the
``svctl`` command uses)::

    with svctl.Client() as client:
        for program in client.status():
            print(program.name, program.state)

``import svctl`` does not import trio: ``AsyncClient`` is loaded from :mod:`svctl.trio_client`
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.protocol.messages import (
    ActionResult,
    End,
    ErrorCode,
    HistoryEntry,
    Lagged,
    LogChunk,
    ProgramState,
    ProgramStatus,
    ReloadReply,
    StateChanged,
)
from svctl._session import DEFAULT_SOCKET
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
from svctl.sync import Client, SyncPushStream

if TYPE_CHECKING:
    from svctl.trio_client import AsyncClient, AsyncPushStream

__all__ = [
    "DEFAULT_SOCKET",
    "ActionResult",
    "AsyncClient",
    "AsyncPushStream",
    "Client",
    "CommandFailed",
    "ConfigInvalid",
    "DaemonUnavailable",
    "End",
    "ErrorCode",
    "HistoryEntry",
    "Lagged",
    "LogChunk",
    "NoSuchProgram",
    "PermissionDenied",
    "ProgramState",
    "ProgramStatus",
    "ProtocolMismatch",
    "ReloadReply",
    "ShuttingDown",
    "StateChanged",
    "SvctlError",
    "SyncPushStream",
    "Timeout",
    "UsageError",
]

_LAZY = frozenset({"AsyncClient", "AsyncPushStream"})


def __getattr__(name: str) -> object:
    """Load the trio client only when someone asks for it."""
    if name in _LAZY:
        from svctl import trio_client

        return getattr(trio_client, name)
    raise AttributeError(f"module 'svctl' has no attribute {name!r}")
