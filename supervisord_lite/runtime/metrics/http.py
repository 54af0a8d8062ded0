"""The metrics endpoint's HTTP/1.1 server: h11 (sans-IO) driven by trio, no thread per scrape.

It answers ``GET /metrics`` with whatever ``render(accept)`` returns, 404 for any other path,
405 for any other method, 400 for a malformed request, 413 for a request with a body. Keep-alive
is served (Prometheus reuses its connection between scrapes). While nobody scrapes, the server
is one task parked on ``accept``.

Bounds, so a scraper (or anything else that connects) cannot hold the daemon's memory or tasks:
at most ``MAX_CONNECTIONS`` connections at once (one more is closed as soon as it is accepted),
a request head of at most ``MAX_HEAD`` bytes, a whole request within ``REQUEST_TIMEOUT`` of the
connect or of the previous response, a response taken by the peer within ``SEND_TIMEOUT``;
otherwise the connection is closed. A failure in ``render`` is logged with its traceback and
answered 500; it never reaches the daemon.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from http import HTTPStatus
from typing import TYPE_CHECKING

import h11
import trio

from supervisord_lite.errors import DaemonError
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    Render = Callable[[str], Awaitable[tuple[bytes, str]]]

MAX_CONNECTIONS = 16
MAX_HEAD = 8 * 1024
REQUEST_TIMEOUT = 30.0
SEND_TIMEOUT = 30.0
RECEIVE_SIZE = 16 * 1024
LISTEN_BACKLOG = 64
#: How long, and for how many bytes, the rest of a refused request is read before closing.
LINGER = 2.0
LINGER_BYTES = 64 * 1024
PATH = b"/metrics"


def bind_metrics_socket(listen: str) -> socket.socket:
    """A listening socket for ``listen``: ``HOST:PORT``, or a Unix socket path (it has a ``/``).

    A Unix socket is bound under umask 0177 (mode 0600, never looser for a moment) in a folder
    created 0700 if missing; a stale socket file nobody answers on is replaced.

    Raises:
        DaemonError: the address is in use, cannot be resolved or bound, or the path holds
            something else than a socket.
    """
    return _bind_unix(listen) if "/" in listen else _bind_tcp(listen)


def _bind_tcp(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise DaemonError(f"metrics: cannot resolve {listen!r}: {exc.strerror}") from exc
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"metrics: cannot listen on {listen}: {exc.strerror}") from exc
    return sock


def _bind_unix(path: str) -> socket.socket:
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DaemonError(f"metrics: cannot prepare {path!r}: {exc.strerror}") from exc
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise DaemonError(
                f"metrics: {path!r} exists and is not a socket: refusing to replace it"
            )
        if _answers(path):
            raise DaemonError(f"metrics: something already listens on {path!r}")
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"metrics: cannot listen on {path!r}: {exc.strerror}") from exc
    finally:
        os.umask(old_umask)
    return sock


def _answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def url_of(sock: socket.socket) -> str:
    """Where the endpoint is, for the daemon's log: ``http://HOST:PORT/metrics`` or the path."""
    address = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{address}"
    host = f"[{address[0]}]" if sock.family == socket.AF_INET6 else address[0]
    return f"http://{host}:{address[1]}{PATH.decode()}"


class MetricsServer:
    """Serves the endpoint on a bound socket until cancelled; see the module docstring."""

    def __init__(self, sock: socket.socket, render: Render) -> None:
        self._sock = trio.socket.from_stdlib_socket(sock)
        self._render = render
        #: Connections being served now; those turned away because there were too many.
        self.open = 0
        self.turned_away = 0

    async def serve(self) -> None:
        await trio.serve_listeners(self._serve_one, [trio.SocketListener(self._sock)])

    async def _serve_one(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self.open >= MAX_CONNECTIONS:
                self.turned_away += 1
                return
            self.open += 1
            try:
                await _Exchange(stream, self._render).run()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the peer went away: nothing to answer
            except OSError as exc:
                if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
                    raise
            finally:
                self.open -= 1


class _Exchange:
    """One connection: requests in, responses out, until either side closes or a bound hits."""

    def __init__(self, stream: trio.SocketStream, render: Render) -> None:
        self._stream = stream
        self._render = render
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        #: A response could not be sent within SEND_TIMEOUT: the connection is given up.
        self._stalled = False

    async def run(self) -> None:
        conn = self._conn
        while True:
            request: h11.Request | None = None
            with trio.move_on_after(REQUEST_TIMEOUT):
                try:
                    request = await self._read_request()
                except h11.RemoteProtocolError as exc:
                    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        status = exc.error_status_hint
                        await self._send_bounded(status, b"bad request\n", close=True)
                    return
            if request is None:
                return  # closed by the peer, or silent for too long
            await self._answer(request)
            if self._stalled or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read_request(self) -> h11.Request | None:
        event = await self._next_event()
        if not isinstance(event, h11.Request):
            return None
        return event

    async def _next_event(self) -> object:
        """The next event h11 makes of the bytes, reading more as needed."""
        while True:
            event = self._conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._conn.receive_data(await self._stream.receive_some(RECEIVE_SIZE))

    async def _answer(self, request: h11.Request) -> None:
        headers = dict(request.headers)
        if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            await self._send_bounded(413, b"a metrics request has no body\n", close=True)
            return
        with trio.move_on_after(REQUEST_TIMEOUT) as timer:
            end = await self._next_event()  # EndOfMessage: there is no body to read
        if timer.cancelled_caught or not isinstance(end, h11.EndOfMessage):
            return
        if request.method != b"GET":
            await self._send_bounded(405, b"only GET is served\n", extra=[(b"allow", b"GET")])
            return
        if request.target.partition(b"?")[0] != PATH:
            await self._send_bounded(404, b"the metrics are at /metrics\n")
            return
        accept = headers.get(b"accept", b"").decode("latin-1")
        try:
            body, content_type = await self._render(accept)
        except Exception:  # noqa: BLE001 - a bug in a scrape: logged in full, the daemon goes on
            log.exception("metrics: rendering a scrape failed")
            await self._send_bounded(500, b"internal error\n", close=True)
            return
        await self._send_bounded(200, body, content_type=content_type)

    async def _send_bounded(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "text/plain; charset=utf-8",
        close: bool = False,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        if close:
            headers.append((b"connection", b"close"))
        conn = self._conn
        reason = HTTPStatus(status).phrase.encode()
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data = (data or b"") + (conn.send(h11.Data(data=body)) or b"")
        data += conn.send(h11.EndOfMessage()) or b""
        with trio.move_on_after(SEND_TIMEOUT) as timer:
            await self._stream.send_all(data)
        self._stalled = timer.cancelled_caught
        if close and not self._stalled:
            await self._linger()

    async def _linger(self) -> None:
        """Close our side and read what the peer still sends (bounded) before the socket is
        closed: closing with unread bytes would make the kernel reset the connection, and the
        peer could lose the response it has not read yet."""
        await self._stream.send_eof()
        unread = LINGER_BYTES
        with trio.move_on_after(LINGER):
            while unread > 0 and (data := await self._stream.receive_some(RECEIVE_SIZE)):
                unread -= len(data)
