"""The blocking client's I/O: one ``AF_UNIX`` socket, a deadline on every operation.

``_sync_client.py`` (generated from ``_async_client.py``) calls exactly what
``_async_io.py`` offers the async client, under the same names: ``open_transport``,
``Transport.send/receive/reading/close/wake_reader``, ``Lock`` and ``clock``. Deadlines are
``clock()`` values (None: no limit); a deadline that passes raises ``TimeoutError``, a lost
connection ``OSError``, and ``receive`` returns ``b""`` once the daemon closed its end.

A Client is used from one thread at a time. The one thing another thread may do is end a
stream that a reader is iterating: when that reader is blocked in ``recv``,
:meth:`SyncTransport.wake_reader` shuts the socket down under it; otherwise the closing thread
cancels the stream itself, taking turns at reading under :meth:`SyncTransport.reading`.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from _thread import LockType, allocate_lock, get_ident
from contextlib import suppress
from typing import TYPE_CHECKING, Final

from svctl._session import BUSY_PAUSE, BUSY_PAUSE_MAX, trusted_peer
from svctl.errors import DaemonUnavailable, unreachable

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Lock", "SyncTransport", "clock", "open_transport"]

RECEIVE_SIZE: Final = 65536
_PEERCRED: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid

clock = time.monotonic


Lock = allocate_lock


class _Held:
    """A lock acquired by a deadline, released on leaving the ``with`` block."""

    __slots__ = ("_lock",)

    def __init__(self, lock: LockType, deadline: float | None) -> None:
        seconds = -1.0 if deadline is None else max(deadline - clock(), 0.0)
        if not lock.acquire(timeout=seconds):
            raise TimeoutError
        self._lock = lock

    def __enter__(self) -> bool:
        return True  # one thread reads at a time: holding the lock is the turn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


def open_transport(path: str, deadline: float | None) -> SyncTransport:
    """A socket connected to the daemon on ``path``, whose peer is root or this uid.

    A Unix socket whose accept backlog is full refuses a connect with EAGAIN at once,
    however long the timeout: that is a busy daemon, not an absent one, so try again (with a
    growing pause) until the deadline.

    Raises:
        DaemonUnavailable: nothing listens there, we may not connect, it stays too busy, or
            its daemon runs as another user.
    """
    pause = BUSY_PAUSE
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(path)
        except BlockingIOError as exc:
            sock.close()
            if deadline is not None and clock() + pause > deadline:
                raise DaemonUnavailable(
                    f"the daemon on {path} is too busy to accept a connection"
                ) from exc
            time.sleep(pause)
            pause = min(pause * 2, BUSY_PAUSE_MAX)
        except TimeoutError as exc:
            sock.close()
            raise DaemonUnavailable(f"no answer from {path}") from exc
        except OSError as exc:
            sock.close()
            raise unreachable(path, exc) from exc
        else:
            break
    try:
        _, uid, _ = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )
        trusted_peer(path, uid, os.getuid())
    except BaseException:
        sock.close()
        raise
    return SyncTransport(sock)


class SyncTransport:
    """One connection; see the module docstring for what its methods raise."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._receive_lock = allocate_lock()
        self._receiving: int | None = None
        self.closed = False

    def send(self, data: bytes, deadline: float | None) -> None:
        """Write all of ``data``; a send cut short by the deadline closes the connection
        (part of a frame may be out, so the byte stream is out of step for good)."""
        try:
            self._sock.settimeout(_remaining(deadline))
            self._sock.sendall(data)
        except TimeoutError:
            self.close()
            raise

    def reading(self, deadline: float | None) -> _Held:
        """Hold the right to read (one thread at a time); waiting for it ends at the deadline.
        Entering it gives True, the turn to read (see the async transport's ``reading``)."""
        return _Held(self._receive_lock, deadline)

    def receive(self, deadline: float | None) -> bytes:
        """The next bytes from the daemon; ``b""`` once it closed the connection."""
        self._receiving = get_ident()
        try:
            self._sock.settimeout(_remaining(deadline))
            return self._sock.recv(RECEIVE_SIZE)
        finally:
            self._receiving = None

    def wake_reader(self) -> bool:
        """When another thread is blocked reading, shut the socket down so its read returns
        at once, and give the connection up. Returns whether it did.

        ``shutdown`` rather than ``close``: closing a descriptor another thread is blocked
        on does not wake it, and its number could be reused under it.
        """
        reader = self._receiving
        if self.closed or reader is None or reader == get_ident():
            return False
        self.closed = True  # the client's next call opens a new connection
        with suppress(OSError):  # already disconnected: the reader has woken or will
            self._sock.shutdown(socket.SHUT_RDWR)
        return True

    def close(self) -> None:
        """Close the socket; idempotent."""
        self.closed = True
        self._sock.close()


def _remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no limit).

    Raises:
        TimeoutError: none are left (a socket timeout of 0 would mean non-blocking instead).
    """
    if deadline is None:
        return None
    left = deadline - clock()
    if left <= 0:
        raise TimeoutError
    return left
