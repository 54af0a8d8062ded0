"""Where the daemon listens by default, and where a client looks for it: one rule for both.

The system path is ``/run/supervisord-lite/ctl.sock``, which only root (or systemd's
``RuntimeDirectory=``) can create. A daemon run by another user with that default path listens
in its own runtime folder instead, ``$XDG_RUNTIME_DIR/supervisord-lite/ctl.sock`` (the folder
systemd-logind makes private to the user, mode 0700, ``/run/user/UID``); a client run by that
user, told no socket, looks there first and falls back to the system path when nothing is
there. Root always uses the system path. A relative or empty ``$XDG_RUNTIME_DIR`` is ignored, as
the XDG Base Directory specification says.

Pure: the uid, the environment and the file test are the caller's.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["SYSTEM_SOCKET", "USER_SOCKET", "client_socket", "daemon_socket", "user_socket"]

SYSTEM_SOCKET: Final = "/run/supervisord-lite/ctl.sock"
"""The default ``[daemon].socket``, and where a client looks when told nothing."""
USER_SOCKET: Final = "supervisord-lite/ctl.sock"
"""The socket's path below ``$XDG_RUNTIME_DIR`` for a daemon not run by root."""


def user_socket(uid: int, environ: Mapping[str, str]) -> str | None:
    """The runtime-folder socket of a user other than root; None for root or without an
    absolute ``$XDG_RUNTIME_DIR``."""
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if uid == 0 or not posixpath.isabs(runtime):
        return None
    return posixpath.join(runtime, USER_SOCKET)


def daemon_socket(configured: str, uid: int, environ: Mapping[str, str]) -> str:
    """Where a daemon run by ``uid`` listens: ``configured``, unless that is the system
    default and the user has a runtime folder (see the module docstring)."""
    if configured != SYSTEM_SOCKET:
        return configured
    return user_socket(uid, environ) or configured


def client_socket(uid: int, environ: Mapping[str, str], exists: Callable[[str], bool]) -> str:
    """Where a client run by ``uid`` looks when told no socket: the user's runtime-folder
    socket when ``exists`` says it is there, else the system path."""
    own = user_socket(uid, environ)
    return own if own is not None and exists(own) else SYSTEM_SOCKET
