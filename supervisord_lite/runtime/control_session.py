"""One control connection: bytes <-> protocol.Connection <-> handlers, within bounds.

Each request of a connection runs in a task of its own, so one client can follow events and
issue requests over one connection; replies are written one whole frame at a time. The bounds
(docs/config.md, ``[daemon]``):

- At most ``MAX_IN_FLIGHT`` requests (streams included) run at once. While that many do,
  nothing more is read from the peer: a client that pipelines requests without reading the
  replies fills its socket buffers and the kernel makes it wait, and the replies held for it
  never outnumber the requests in flight.
- The peer must say hello within ``client_timeout`` of connecting, and finish each frame within
  ``client_timeout`` of beginning it; otherwise it is told so (``Error(timeout)``) and closed.
  Between frames it may stay quiet for ever (a follower of events).
- A peer that breaks the protocol is answered with an ``Error`` and closed. Every Error that
  ends a connection is sent with ``goodbye``, which lets the peer read it before the close.
- A peer has the role its credentials give it under ``[daemon.access]`` (or ``read`` when its
  hello asks for no more); a request beyond that role is answered ``permission_denied`` naming
  the role it needs (``protocol/access.py``), and the connection goes on.
"""

from __future__ import annotations

import errno
import math
import socket
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from supervisord_lite.errors import ProtocolError
from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.access import allows, needed_role
from supervisord_lite.protocol.connection import CLOSED, NEED_DATA, Connection, Role, error_reply
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.handlers import Handlers, welcome
from supervisord_lite.vocabulary import AccessRole

if TYPE_CHECKING:
    from supervisord_lite.protocol.connection import Message
    from supervisord_lite.runtime.control import ControlServer

RECEIVE_SIZE = 65536
#: Requests answered from memory without waiting for anything: served in the connection's
#: read loop itself, which keeps the most frequent ones (status polling) cheap.
INLINE_REQUESTS = (m.Ping, m.Status)
#: Requests (streams included) one connection may have running at once.
MAX_IN_FLIGHT = 32
#: How long a connection being closed gets to take its last Error and close its end.
GOODBYE_GRACE = 1.0
#: At most this much of what a closing peer still sends is read (and dropped) before closing.
GOODBYE_DRAIN = 1 << 20
_PEERCRED = struct.Struct("3i")
_FRAME_HEADER = 4


@dataclass(frozen=True)
class PeerCredentials:
    """Who connected, as the kernel saw it at connect time (``SO_PEERCRED``)."""

    pid: int
    uid: int
    gid: int


def supplementary_groups(pid: int) -> frozenset[int]:
    """The ``Groups:`` of ``pid`` from ``/proc/PID/status``.

    None are read when the process has gone already, or when the daemon cannot open the file
    (out of descriptors): the caller then has the role its uid and primary gid give it, and
    the second case is logged.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Groups:"):
                    return frozenset(int(g) for g in line.split()[1:])
    except (FileNotFoundError, ProcessLookupError):
        pass  # the peer exited between connect and now: its uid and gid still count
    except OSError as exc:
        log.warning("could not read the groups of control client pid %d: %s", pid, exc)
    return frozenset()


def peer_credentials(sock: trio.socket.SocketType) -> PeerCredentials:
    """The connecting process' credentials."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, gid = _PEERCRED.unpack(raw)
    return PeerCredentials(pid=pid, uid=uid, gid=gid)


async def goodbye(stream: trio.SocketStream, last: bytes) -> None:
    """Send ``last`` (an Error frame), end our side and read what the peer still sends until it
    closes, all within ``GOODBYE_GRACE``. Closing a Unix socket with unread data makes the peer
    read ECONNRESET instead of the end of stream, and it might not read the Error first."""
    with trio.move_on_after(GOODBYE_GRACE):
        try:
            await stream.send_all(last)
            await stream.send_eof()
            drained = 0
            while drained < GOODBYE_DRAIN and (data := await stream.receive_some(RECEIVE_SIZE)):
                drained += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the peer is gone already: nothing left to tell it
        except OSError as exc:
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                raise


class FrameProgress:
    """Whether a peer is in the middle of a frame: 4 bytes of length, then that many bytes.

    The protocol's Connection knows this too but does not say; the control server needs it to
    tell a peer that stopped half-way through a frame from one that is quiet between frames.
    """

    def __init__(self) -> None:
        self._header = 0  # length bytes seen of the current frame's prefix
        self._length = 0
        self._left = 0  # body bytes still to come

    @property
    def mid_frame(self) -> bool:
        return self._header > 0 or self._left > 0

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._left:
                step = min(self._left, end - pos)
                self._left -= step
                pos += step
                continue
            take = min(_FRAME_HEADER - self._header, end - pos)
            for byte in data[pos : pos + take]:
                self._length = (self._length << 8) | byte
            self._header += take
            pos += take
            if self._header == _FRAME_HEADER:
                self._left, self._header, self._length = self._length, 0, 0


class Session:
    """One connection: decode, dispatch to handlers, serialise writes."""

    def __init__(
        self, stream: trio.SocketStream, handlers: Handlers, server: ControlServer
    ) -> None:
        self._stream = stream
        self._handlers = handlers
        self._server = server
        self._conn = Connection(Role.SERVER)
        self._send_lock = trio.Lock()
        self._streams: dict[int, trio.CancelScope] = {}
        self._scope = trio.CancelScope()
        self._slots = trio.Semaphore(MAX_IN_FLIGHT)
        self._progress = FrameProgress()
        self._greeted = False
        self._waiting_since = trio.current_time()  # for a hello, or for the rest of a frame

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
            last = await self._run()
            if last is not None:
                # Every task of this connection has ended: nothing else writes to it now.
                await goodbye(self._stream, self._conn.send(last))
        if self._scope.cancelled_caught:
            log.debug("a control client went away mid-request")

    async def _run(self) -> m.Error | None:
        """Serve the connection; the Error to part with, if it must be closed."""
        self._creds = peer_credentials(self._stream.socket)
        role = self._server.role_of(self._creds)
        if role is None:
            uid = self._creds.uid
            self._server.refused_uid += 1
            log.warning("refused a control connection from uid %d", uid)
            return m.Error(
                code=m.ErrorCode.PERMISSION_DENIED, message=f"uid {uid} may not use this daemon"
            )
        self._role = role
        async with trio.open_nursery() as nursery:
            last = await self._read_loop(nursery)
            nursery.cancel_scope.cancel()
        return last

    def _deadline(self) -> float:
        """When the peer must have sent more: a hello, or the rest of a frame it began."""
        if self._greeted and not self._progress.mid_frame:
            return math.inf
        return self._waiting_since + self._server.client_timeout

    async def _receive(self) -> bytes | None:
        """The next bytes from the peer (``b""`` at its end); None when it took too long."""
        with trio.move_on_at(self._deadline()):
            try:
                return await self._stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""  # a reset reads as the end of the stream
        return None

    def _too_slow(self) -> m.Error:
        self._server.timed_out += 1
        waited = f"{self._server.client_timeout:g}s"
        if not self._greeted:
            message = f"no hello within {waited} of connecting: closing the connection"
        else:
            message = f"a frame was begun and not finished within {waited}: closing the connection"
        log.warning("closing a control connection: %s", message)
        return m.Error(code=m.ErrorCode.TIMEOUT, message=message)

    async def _read_loop(self, nursery: trio.Nursery) -> m.Error | None:
        while True:
            data = await self._receive()
            if data is None:
                return self._too_slow()
            began = not self._progress.mid_frame
            self._progress.feed(data)
            self._conn.receive_data(data)
            handled = 0
            while True:
                try:
                    event = self._conn.next_event()
                except ProtocolError as exc:
                    self._server.protocol_errors += 1
                    log.warning("closing a control connection: %s", exc)
                    return error_reply(exc)
                if event is NEED_DATA:
                    break
                if event is CLOSED:
                    return None
                handled += 1
                await self._dispatch(event, nursery)
            if self._greeted and self._progress.mid_frame and (began or handled):
                # A frame began in what was just read, or the daemon itself took its time
                # over the messages before it: the peer's time for this frame starts now.
                self._waiting_since = trio.current_time()

    async def _dispatch(self, event: Message, nursery: trio.Nursery) -> None:
        if isinstance(event, m.Hello):
            self._greeted = True
            if event.read_only:
                self._role = AccessRole.READ
            await self.send(welcome())
        elif isinstance(event, m.Request) and not allows(self._role, event):
            await self.send(self._refusal(event))
        elif isinstance(event, m.Cancel):
            await self._cancel(event)
        elif isinstance(event, INLINE_REQUESTS):
            # Answered from memory, never blocking: no task of their own to schedule.
            await self._handlers.handle(event, self.send)
        elif isinstance(event, m.Request):
            if not self._slots.value:
                self._server.throttled += 1
            await self._slots.acquire()  # until then, nothing more is read from this peer
            nursery.start_soon(self._run_request, event)

    def _refusal(self, request: m.Request) -> m.Error:
        self._server.refused_role += 1
        needed = needed_role(request)
        message = (
            f"{m.tag_of(type(request))!r} needs the {needed} role; this connection has "
            f"{self._role} (uid {self._creds.uid})"
        )
        return m.Error(id=request.id, code=m.ErrorCode.PERMISSION_DENIED, message=message)

    async def _run_request(self, request: m.Request) -> None:
        try:
            with trio.CancelScope() as scope:
                self._streams[request.id] = scope
                try:
                    await self._handlers.handle(request, self.send)
                finally:
                    self._streams.pop(request.id, None)
            if scope.cancelled_caught:
                await self.send(m.End(id=request.id, message="cancelled"))
        finally:
            self._slots.release()

    async def _cancel(self, request: m.Cancel) -> None:
        scope = self._streams.get(request.target)
        if scope is None:
            # It ended on its own (its End may still be on the way): nothing left to cancel.
            await self.send(m.Ok(id=request.id, message=f"request {request.target} has ended"))
            return
        scope.cancel()
        await self.send(m.Ok(id=request.id, message="cancelled"))
