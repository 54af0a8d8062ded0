"""The async client's I/O, on anyio: the same client code runs under trio and asyncio.

The twin of ``_sync_io.py``, with the same names and rules: deadlines are ``clock()`` values
(None: no limit) and one that passes raises ``TimeoutError``; a lost connection raises
``OSError``; ``receive`` returns ``b""`` once the daemon closed its end. anyio's own
exceptions never get past this module.

Several tasks may share a connection: writes are serialised, and one task at a time reads
(:meth:`AsyncTransport.reading`), feeding the session for all of them. A caller's own cancel
scope (or asyncio timeout) ends a wait like a deadline does.
"""

from __future__ import annotations

import math
import os
import socket
import struct
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import anyio
from anyio.abc import SocketAttribute

from svctl._session import BUSY_PAUSE, BUSY_PAUSE_MAX, trusted_peer
from svctl.errors import DaemonUnavailable, unreachable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import SocketStream

__all__ = ["AsyncTransport", "Lock", "clock", "open_transport"]

RECEIVE_SIZE: Final = 65536
_PEERCRED: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid

Lock = anyio.Lock
clock = anyio.current_time


def _at(deadline: float | None) -> float:
    return math.inf if deadline is None else deadline


async def open_transport(path: str, deadline: float | None) -> AsyncTransport:
    """A stream connected to the daemon on ``path``, whose peer is root or this uid.

    A full accept backlog (EAGAIN) is a busy daemon: tried again with a growing pause
    until the deadline.

    Raises:
        DaemonUnavailable: nothing listens there, we may not connect, no connection by the
            deadline, or its daemon runs as another user.
    """
    pause = BUSY_PAUSE
    with anyio.CancelScope(deadline=_at(deadline)):
        while True:
            try:
                stream = await anyio.connect_unix(path)
            except BlockingIOError:
                await anyio.sleep(pause)
                pause = min(pause * 2, BUSY_PAUSE_MAX)
                continue
            except OSError as exc:
                raise unreachable(path, exc) from exc
            try:
                raw: socket.socket = stream.extra(SocketAttribute.raw_socket)
                _, uid, _ = _PEERCRED.unpack(
                    raw.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
                )
                trusted_peer(path, uid, os.getuid())
            except BaseException:
                await anyio.aclose_forcefully(stream)
                raise
            return AsyncTransport(stream)
    raise DaemonUnavailable(f"no connection to {path} in time (too busy?)")


class AsyncTransport:
    """One connection; see the module docstring for what its methods raise."""

    def __init__(self, stream: SocketStream) -> None:
        self._stream = stream
        self._send_lock = anyio.Lock()
        #: Whether a task is reading, and what wakes the others when its turn ends.
        self._reading = False
        self._fed = anyio.Event()
        self.closed = False

    async def send(self, data: bytes, deadline: float | None) -> None:
        """Write all of ``data``; a send cut short (deadline, cancellation) closes the
        connection: part of a frame may be out, so the byte stream is out of step for good."""
        with anyio.CancelScope(deadline=_at(deadline)) as scope:
            async with self._send_lock:
                try:
                    await self._stream.send(data)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                    raise ConnectionError(str(exc) or "the connection is closed") from exc
                except anyio.get_cancelled_exc_class():
                    await self.aclose()
                    raise
        if scope.cancelled_caught:
            raise TimeoutError

    @asynccontextmanager
    async def reading(self, deadline: float | None) -> AsyncIterator[bool]:
        """Take a turn at reading, or wait for another task's turn to end: True when this
        task may ``receive`` now; False when another task read (and fed the session) while
        this one waited, so the caller looks at the session again before it asks again.

        Every reader's turn ends with every waiter woken, not just the next one: a task whose
        reply came in another's read must not wait behind a third task's turn, which may be a
        quiet stream's read that never returns. Waiting ends at the deadline (TimeoutError).
        """
        if self._reading:
            fed = self._fed
            with anyio.CancelScope(deadline=_at(deadline)) as scope:
                await fed.wait()
            if scope.cancelled_caught:
                raise TimeoutError
            yield False
            return
        self._reading = True
        try:
            yield True
        finally:
            self._reading = False
            fed, self._fed = self._fed, anyio.Event()
            fed.set()

    async def receive(self, deadline: float | None) -> bytes:
        """The next bytes from the daemon; ``b""`` once it closed the connection."""
        with anyio.CancelScope(deadline=_at(deadline)):
            try:
                return await self._stream.receive(RECEIVE_SIZE)
            except anyio.EndOfStream:
                return b""
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise ConnectionError(str(exc) or "the connection is closed") from exc
        raise TimeoutError

    def wake_reader(self) -> bool:
        """False: tasks share the session, so a task that ends a stream another task reads
        needs no shortcut (the daemon's End reaches the reader)."""
        return False

    async def aclose(self) -> None:
        """Close the connection; idempotent, and done even when cancelled."""
        self.closed = True
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()
