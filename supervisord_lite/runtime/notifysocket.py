"""Each program's notify socket: where it says READY=1, STATUS=..., WATCHDOG=1 and its progress.

A program gets its own datagram socket (``NOTIFY_SOCKET`` in its environment), bound in a folder
of the daemon's (0711: others may reach a socket by its name, not list the folder) under a
restrictive umask, then given to the program's user and set to 0600: only that user (and root)
can send. ``SO_PASSCRED`` makes the kernel attach the sender's pid to every datagram, so the
program's runner can check that the sender is a process of the current run and ignore anything
else (a stale process of an older run, another program lying). Datagrams are read by the shared
``FdWatch`` when the socket is readable: nothing is polled, and an idle socket costs one
descriptor. A datagram larger than ``MAX_DATAGRAM`` is refused whole (the kernel truncates it;
the flag says so).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
from typing import TYPE_CHECKING, Final

from supervisord_lite import notify_datagram
from supervisord_lite.notify_datagram import MAX_DATAGRAM, Notification

if TYPE_CHECKING:
    from collections.abc import Callable

    import trio

    from supervisord_lite.config import Config
    from supervisord_lite.runtime.fdwatch import FdWatch

__all__ = ["NotifySocket", "NotifySockets", "notify_folder"]

_UCRED: Final = struct.Struct("3i")
_MAX_PATH: Final = 107
#: Datagrams read per readable callback; more wait for the next round, so one chatty program
#: cannot hold the loop.
_BATCH: Final = 64
#: Descriptors a datagram may carry (``BARRIER=1`` passes one; nothing else is kept).
_MAX_FDS: Final = 16
_ANCILLARY: Final = socket.CMSG_SPACE(_UCRED.size) + socket.CMSG_SPACE(_MAX_FDS * 4)


def notify_folder(config: Config) -> str:
    """Where a daemon's notify sockets live: ``notify/`` beside its control socket."""
    return os.path.join(os.path.dirname(config.daemon.socket), "notify")


class NotifySocket:
    """One program's socket; ``path`` goes into its ``NOTIFY_SOCKET``."""

    def __init__(self, path: str, sock: socket.socket) -> None:
        self.path = path
        self.sock = sock
        self.received = 0
        self.refused = 0


class NotifySockets:
    """The daemon's notify sockets, by program name, all read through one ``FdWatch``."""

    def __init__(self, folder: str, fdwatch: FdWatch, nursery: trio.Nursery) -> None:
        self.folder = folder
        self._fdwatch = fdwatch
        self._nursery = nursery
        self._sockets: dict[str, NotifySocket] = {}

    def open(
        self,
        name: str,
        on_message: Callable[[int | None, Notification], None],
        *,
        uid: int | None = None,
        gid: int | None = None,
    ) -> NotifySocket:
        """Bind ``name``'s socket (replacing a stale file), owned by ``uid``/``gid`` when the
        program runs as another user; ``on_message(sender_pid, notification)`` for each
        datagram.

        Raises:
            OSError: the socket could not be created.
        """
        self.close(name)
        os.makedirs(self.folder, mode=0o711, exist_ok=True)
        os.chmod(self.folder, 0o711)
        path = self._path(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            sock.setblocking(False)
            old = os.umask(0o177)
            try:
                sock.bind(path)
            finally:
                os.umask(old)
            if uid is not None:
                os.chown(path, uid, -1 if gid is None else gid)
        except OSError:
            sock.close()
            raise
        entry = NotifySocket(path, sock)
        self._sockets[name] = entry
        self._fdwatch.add(sock.fileno(), lambda: self._read(entry, on_message), self._nursery)
        return entry

    def close(self, name: str) -> None:
        """Unbind ``name``'s socket, if it has one."""
        entry = self._sockets.pop(name, None)
        if entry is None:
            return
        self._fdwatch.remove(entry.sock.fileno())
        entry.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)

    def close_all(self) -> None:
        for name in list(self._sockets):
            self.close(name)

    def _path(self, name: str) -> str:
        path = os.path.join(self.folder, f"{name}.sock")
        if len(path.encode()) <= _MAX_PATH:
            return path
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return os.path.join(self.folder, f"{digest}.sock")

    @staticmethod
    def _read(entry: NotifySocket, on_message: Callable[[int | None, Notification], None]) -> None:
        for _ in range(_BATCH):
            try:
                data, ancillary, flags, _ = entry.sock.recvmsg(MAX_DATAGRAM, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            entry.received += 1
            pid, fds = _ancillary(ancillary)
            try:
                if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                    entry.refused += 1
                    said = f"datagram of more than {MAX_DATAGRAM} bytes or {_MAX_FDS} descriptors"
                    on_message(pid, Notification(problems=(f"{said} refused",)))
                    continue
                on_message(pid, notify_datagram.parse(data))
            finally:
                # BARRIER=1 (systemd-notify waits on it) is answered by closing its descriptor;
                # no other descriptor is kept.
                for fd in fds:
                    os.close(fd)


def _ancillary(ancillary: list[tuple[int, int, bytes]]) -> tuple[int | None, list[int]]:
    """The sender's pid (``SCM_CREDENTIALS``) and the descriptors it passed."""
    pid = None
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_CREDENTIALS:
            pid = _UCRED.unpack_from(payload)[0]
        elif kind == socket.SCM_RIGHTS:
            whole = len(payload) - len(payload) % 4
            fds.extend(struct.unpack(f"{whole // 4}i", payload[:whole]))
    return pid, fds
