"""The control socket's file: the folders it lives in, binding it, replacing a stale one.

Rule 1: the socket is only made in a folder nobody but root or the daemon's user can change.
Whoever can write to a folder on the way to the socket can rename what the daemon made and put
something else in its place, a symlink to a folder of their own say, so the socket's folder must
be owned by root or the daemon's user and not writable by group or others, and so must every
folder above it, except that a folder with the sticky bit (``/tmp``) may be writable by others:
there, only an entry's owner may rename or remove it. The folders are checked as the kernel
resolves them (each symlink followed to where it leads), before anything is created and again
after, and the daemon refuses to start rather than bind in an unsafe place (docs/architecture.md,
"Log paths": ``O_NOFOLLOW`` guards only the last component).

Rule 2: the socket never exists at a looser mode than configured, even for a moment. The
socket's folder is created private (0700, or 0711 when the configured mode lets others connect),
the socket is bound under a restrictive umask and then chmod'ed (docs/architecture.md, "Socket
creation"). A path that already holds a socket is probed first: a live daemon there makes this
one refuse to start; a dead one's file is replaced.
"""

from __future__ import annotations

import os
import socket
import stat

from supervisord_lite.errors import AlreadyRunning, DaemonError, ProtocolError
from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import CLOSED, Connection, Role
from supervisord_lite.runtime.daemonlog import log

#: Room for bursts of clients (a script running svctl in parallel); the kernel caps it at
#: net.core.somaxconn.
LISTEN_BACKLOG = 4096
#: sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107
_PROBE_RECEIVE = 65536


def _probe(path: str) -> int | None:
    """If a daemon answers on ``path``, its pid; None if nobody listens there.

    Raises:
        AlreadyRunning: a daemon answered.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(path)
    except OSError:
        return None
    try:
        conn = Connection(Role.CLIENT)
        probe.sendall(conn.send(m.Hello(version=m.PROTOCOL_VERSION, client="supervisord-lite")))
        while True:
            data = probe.recv(_PROBE_RECEIVE)
            conn.receive_data(data)
            event = conn.next_event()
            if isinstance(event, m.Welcome):
                raise AlreadyRunning(path, event.pid)
            if event is CLOSED or not data:
                raise AlreadyRunning(path, None)
    except (OSError, ProtocolError) as exc:
        raise AlreadyRunning(path, None) from exc
    finally:
        probe.close()


def _ancestors(path: str) -> list[str]:
    """``path`` and every folder above it, nearest first."""
    chain = [path]
    while (parent := os.path.dirname(path)) != path:
        chain.append(parent)
        path = parent
    return chain


def _folders_on_the_way(folder: str) -> list[str]:
    """Every existing folder the kernel passes through to reach ``folder``, resolved: the
    folders each symlink on the way leads to and the folders above those."""
    found: dict[str, None] = {}
    for prefix in reversed(_ancestors(os.path.abspath(folder))):
        if not os.path.exists(prefix):
            break
        for real in reversed(_ancestors(os.path.realpath(prefix))):
            found.setdefault(real, None)
    return list(found)


def check_socket_folders(folder: str) -> None:
    """Refuse a socket folder that another user owns or can change (rule 1).

    Only folders that exist are checked; the ones the daemon then creates are its own.

    Raises:
        DaemonError: a folder on the way is owned by another user or writable by others, or
            is not a folder; the message names it.
    """
    target = os.path.realpath(folder) if os.path.exists(folder) else None
    trusted = (0, os.geteuid())
    for path in _folders_on_the_way(folder):
        try:
            info = os.stat(path)
        except OSError as exc:
            raise DaemonError(f"cannot check the socket folder {path!r}: {exc.strerror}") from exc
        refusal = f"refusing to make the control socket under {path!r}"
        if not stat.S_ISDIR(info.st_mode):
            raise DaemonError(f"{refusal}: it is not a folder")
        if info.st_uid not in trusted:
            raise DaemonError(
                f"{refusal}: it is owned by uid {info.st_uid}, not by root or the daemon's user"
            )
        open_to_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky = info.st_mode & stat.S_ISVTX and path != target
        if open_to_others and not sticky:
            raise DaemonError(
                f"{refusal}: other users can write to it (mode {stat.S_IMODE(info.st_mode):04o})"
            )


def bind_control_socket(path: str, mode: int) -> socket.socket:
    """Create, bind and listen on the control socket (see the module docstring).

    Raises:
        AlreadyRunning: a live daemon serves ``path``.
        DaemonError: a folder on the way is unsafe, the folder or socket cannot be made, or
            ``path`` is not a socket.
    """
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise DaemonError(
            f"the socket path {path!r} is {len(os.fsencode(path))} bytes long; Unix sockets "
            f"allow {MAX_SOCKET_PATH}: choose a shorter [daemon].socket"
        )
    folder = os.path.dirname(path)
    folder_mode = 0o700 if not mode & 0o077 else 0o711
    check_socket_folders(folder)
    try:
        os.makedirs(folder, mode=folder_mode, exist_ok=True)
    except OSError as exc:
        raise DaemonError(f"cannot prepare the socket folder {folder!r}: {exc.strerror}") from exc
    check_socket_folders(folder)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DaemonError(f"cannot prepare the socket folder {folder!r}: {exc.strerror}") from exc
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise DaemonError(f"{path!r} exists and is not a socket: refusing to replace it")
        _probe(path)
        os.unlink(path)
        log.info("replaced a stale socket at %s", path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot bind the control socket {path!r}: {exc.strerror}") from exc
    finally:
        os.umask(old_umask)
    os.chmod(path, mode)
    sock.listen(LISTEN_BACKLOG)
    return sock
