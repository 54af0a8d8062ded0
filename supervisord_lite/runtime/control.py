"""The control socket: bytes <-> protocol.Connection <-> handlers.

Binding the socket is ``control_socket``'s job. Each connection is served in its own task; each
request in it gets a task too, so one client can follow events and issue requests over one
connection. A peer that breaks the protocol is answered with an ``Error`` and its connection
closed; nothing it sends can affect another connection.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import TYPE_CHECKING

import trio

from supervisord_lite.errors import ProtocolError
from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import CLOSED, NEED_DATA, Connection, Role, error_reply
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.handlers import Handlers, welcome

if TYPE_CHECKING:
    from collections.abc import Iterable

RECEIVE_SIZE = 65536
#: Requests answered from memory without waiting for anything: served in the connection's
#: read loop itself, which keeps the most frequent ones (status polling) cheap.
INLINE_REQUESTS = (m.Ping, m.Status)
_PEERCRED = struct.Struct("3i")


def peer_uid(sock: trio.socket.SocketType) -> int:
    """The connecting process' uid, as the kernel saw it at connect time."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    return int(_PEERCRED.unpack(raw)[1])


class ControlServer:
    """Serves connections on a bound socket until cancelled."""

    def __init__(self, sock: socket.socket, handlers: Handlers, allow_uids: Iterable[int]) -> None:
        self._sock = trio.socket.from_stdlib_socket(sock)
        self._handlers = handlers
        self._allowed = {0, os.geteuid(), *allow_uids}
        self.connections = 0
        self.refused = 0
        self.failed = 0

    async def serve(self) -> None:
        listener = trio.SocketListener(self._sock)
        await trio.serve_listeners(self._serve_one, [listener])

    async def _serve_one(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        async with stream:
            try:
                await _Session(stream, self._handlers, self._allowed, self).run()
            except Exception:  # noqa: BLE001 - the connection boundary: one peer never ends the daemon
                self.failed += 1
                log.exception("a control connection failed; it was closed, the daemon goes on")


class _Session:
    """One connection: decode, dispatch to handlers, serialise writes."""

    def __init__(
        self,
        stream: trio.SocketStream,
        handlers: Handlers,
        allowed: set[int],
        server: ControlServer,
    ) -> None:
        self._stream = stream
        self._handlers = handlers
        self._allowed = allowed
        self._server = server
        self._conn = Connection(Role.SERVER)
        self._send_lock = trio.Lock()
        self._streams: dict[int, trio.CancelScope] = {}
        self._scope = trio.CancelScope()

    async def send(self, msg: m.ServerMessage) -> None:
        """Write one message; a peer that has gone ends the session, not the daemon."""
        data = self._conn.send(msg)
        async with self._send_lock:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._peer_gone()
            except OSError as exc:
                if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
                    raise
                self._peer_gone()

    def _peer_gone(self) -> None:
        # Everything still running for this peer (requests, streams) is cancelled with it.
        self._scope.cancel()

    async def run(self) -> None:
        with self._scope:
            await self._run()
        if self._scope.cancelled_caught:
            log.debug("a control client went away mid-request")

    async def _run(self) -> None:
        uid = peer_uid(self._stream.socket)
        if uid not in self._allowed:
            self._server.refused += 1
            log.warning("refused a control connection from uid %d", uid)
            await self.send(
                m.Error(
                    code=m.ErrorCode.PERMISSION_DENIED, message=f"uid {uid} may not use this daemon"
                )
            )
            return
        async with trio.open_nursery() as nursery:
            await self._read_loop(nursery)
            nursery.cancel_scope.cancel()

    async def _read_loop(self, nursery: trio.Nursery) -> None:
        while True:
            try:
                data = await self._stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""  # a reset reads as the end of the stream
            self._conn.receive_data(data)
            while True:
                try:
                    event = self._conn.next_event()
                except ProtocolError as exc:
                    log.warning("closing a control connection: %s", exc)
                    await self.send(error_reply(exc))
                    return
                if event is NEED_DATA:
                    break
                if event is CLOSED:
                    return
                if isinstance(event, m.Hello):
                    await self.send(welcome())
                elif isinstance(event, m.Cancel):
                    await self._cancel(event)
                elif isinstance(event, INLINE_REQUESTS):
                    # Answered from memory, never blocking: no task of their own to schedule.
                    await self._handlers.handle(event, self.send)
                elif isinstance(event, m.Request):
                    nursery.start_soon(self._run_request, event)

    async def _run_request(self, request: m.Request) -> None:
        with trio.CancelScope() as scope:
            self._streams[request.id] = scope
            try:
                await self._handlers.handle(request, self.send)
            finally:
                self._streams.pop(request.id, None)
        if scope.cancelled_caught:
            await self.send(m.End(id=request.id, message="cancelled"))

    async def _cancel(self, request: m.Cancel) -> None:
        scope = self._streams.get(request.target)
        if scope is None:
            # It ended on its own (its End may still be on the way): nothing left to cancel.
            await self.send(m.Ok(id=request.id, message=f"request {request.target} has ended"))
            return
        scope.cancel()
        await self.send(m.Ok(id=request.id, message="cancelled"))
