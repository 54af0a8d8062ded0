"""Clients that hurt a daemon: descriptors run out, requests pipelined without reading the
replies, connections that never say hello or never finish a frame, more connections than the
daemon takes. Each test runs a real daemon and real sockets against a real resource limit."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

import msgspec
import pytest

from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import CLOSED, NEED_DATA, Connection, Role
from svctl import Client, DaemonUnavailable
from tests.daemon_harness import running

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

ONE = """\
[programs.one]
command = ["sleep", "3600"]
start_seconds = 0
"""

#: How long a condition that must come true may take on a loaded machine before a test gives up.
PATIENCE = 30.0


def _until(condition: Callable[[], bool], what: str, within: float = PATIENCE) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {within}s: {what}")
        time.sleep(0.05)


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_idle(pid: int) -> None:
    """Until the daemon used no CPU for two half-second looks in a row (it has done what it
    could with what it was sent)."""
    quiet = 0
    last = _cpu_ticks(pid)
    deadline = time.monotonic() + PATIENCE
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_ticks(pid)
        quiet = quiet + 1 if now == last else 0
        last = now


def _hello() -> bytes:
    return Connection(Role.CLIENT).send(m.Hello(version=m.PROTOCOL_VERSION))


def _frame(body: object) -> bytes:
    data = msgspec.msgpack.encode(body)
    return struct.pack(">I", len(data)) + data


def _connect(path: str, payload: bytes = b"") -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(PATIENCE)
    sock.connect(path)
    if payload:
        sock.sendall(payload)
    return sock


def _read_until_closed(sock: socket.socket) -> list[object]:
    """Every message the daemon sends until it closes the connection (bounded)."""
    conn = Connection(Role.CLIENT)
    conn.send(m.Hello(version=m.PROTOCOL_VERSION))  # what _hello() sent on this socket
    out: list[object] = []
    while True:
        data = sock.recv(65536)
        conn.receive_data(data)
        while (event := conn.next_event()) is not NEED_DATA:
            if event is CLOSED:
                return out
            out.append(event)


def _first_message(sock: socket.socket, conn: Connection | None = None) -> object:
    """The next message on ``sock``; ``conn`` carries the conversation on from earlier ones."""
    if conn is None:
        conn = Connection(Role.CLIENT)
        conn.send(m.Hello(version=m.PROTOCOL_VERSION))
    while (event := conn.next_event()) is NEED_DATA:
        conn.receive_data(sock.recv(65536))
    return event


@contextlib.contextmanager
def _sockets() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def test_out_of_descriptors_is_one_line_then_the_daemon_serves_again(tmp_path: Path) -> None:
    # The connections below say hello and stay, so no timeout of the daemon frees them.
    with running(tmp_path, ONE, daemon_extra="client_timeout = 50\n") as daemon:
        pid = daemon.process.pid
        limit = _fd_count(pid) + 16
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
        exhausted = "out of file descriptors"
        with _sockets() as socks:
            # More connections than descriptors left: the rest wait in the listen backlog.
            for _ in range(40):
                socks.append(_connect(daemon.socket, _hello()))
            _until(lambda: _fd_count(pid) >= limit, "the daemon uses every descriptor it may")
            # Long enough for a retry loop without backoff to write many lines.
            time.sleep(1.5)
        with Client(daemon.socket, timeout=PATIENCE) as client:
            assert [s.name for s in client.status()] == ["one"]
        log = daemon.log()
        assert "Traceback" not in log, log
        lines = [line for line in log.splitlines() if exhausted in line]
        assert len(lines) == 1, log
        assert "RLIMIT_NOFILE" in lines[0]


def test_pipelined_requests_unread_replies_keep_memory_bounded(tmp_path: Path) -> None:
    with running(tmp_path, ONE) as daemon:
        pid = daemon.process.pid
        with Client(daemon.socket, timeout=PATIENCE) as client:
            client.wait("one", state="RUNNING", timeout=PATIENCE)
            for _ in range(50):
                client.history("one")
        before = _rss(pid)
        count = 20_000
        payload = _hello() + b"".join(
            _frame({"op": "history", "id": i, "name": "one"}) for i in range(1, count + 1)
        )
        flood = _connect(daemon.socket)
        sent = threading.Event()

        def send_all() -> None:
            # Blocks once the daemon stops reading; ends when the socket is closed under it.
            with contextlib.suppress(OSError):
                flood.settimeout(None)
                flood.sendall(payload)
                sent.set()

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        try:
            _wait_idle(pid)
            grown = _rss(pid) - before
            with Client(daemon.socket, timeout=PATIENCE) as other:
                assert [s.name for s in other.status()] == ["one"]
                assert other.history("one")
            assert grown < 30 * 1024 * 1024, f"RSS grew by {grown / 2**20:.1f} MiB"
            # Reading the replies lets the daemon go on: every request is answered.
            conn = Connection(Role.CLIENT)
            conn.send(m.Hello(version=m.PROTOCOL_VERSION))
            answered = 0
            flood.settimeout(PATIENCE)
            while answered < count:
                conn.receive_data(flood.recv(1 << 20))
                while (event := conn.next_event()) is not NEED_DATA:
                    assert event is not CLOSED
                    if isinstance(event, m.HistoryReply):
                        answered += 1
            assert sent.wait(PATIENCE)
        finally:
            with contextlib.suppress(OSError):
                flood.shutdown(socket.SHUT_RDWR)
            flood.close()
            sender.join(PATIENCE)


def test_silent_and_unfinished_connections_are_closed_after_client_timeout(
    tmp_path: Path,
) -> None:
    with running(tmp_path, ONE, daemon_extra="client_timeout = 0.5\n") as daemon:
        idle = _connect(daemon.socket, _hello())  # said hello: may wait at a frame boundary
        with idle, _sockets() as socks:
            conn = Connection(Role.CLIENT)
            conn.send(m.Hello(version=m.PROTOCOL_VERSION))
            assert isinstance(_first_message(idle, conn), m.Welcome)
            silent = _connect(daemon.socket)
            half_hello = _connect(daemon.socket, _hello()[:5])
            half_frame = _connect(daemon.socket, _hello() + _frame({"op": "ping", "id": 7})[:6])
            socks.extend([silent, half_hello, half_frame])
            for sock in socks:
                replies = _read_until_closed(sock)
                errors = [r for r in replies if isinstance(r, m.Error)]
                assert [e.code for e in errors] == [m.ErrorCode.TIMEOUT], replies
                assert "0.5" in errors[0].message
            # The connection at a frame boundary is still served.
            idle.sendall(_frame({"op": "ping", "id": 8}))
            assert _first_message(idle, conn) == m.Pong(id=8)


def test_connections_beyond_max_connections_are_refused_with_an_error(tmp_path: Path) -> None:
    with running(tmp_path, ONE, daemon_extra="max_connections = 3\n") as daemon:
        with _sockets() as socks:
            for _ in range(3):
                socks.append(_connect(daemon.socket, _hello()))
                assert isinstance(_first_message(socks[-1]), m.Welcome)
            with _connect(daemon.socket, _hello()) as extra:
                replies = _read_until_closed(extra)
            (error,) = replies
            assert isinstance(error, m.Error)
            assert error.code is m.ErrorCode.BUSY
            assert "max_connections" in error.message
            assert "3" in error.message
            with (
                pytest.raises(DaemonUnavailable, match="max_connections") as refused,
                Client(daemon.socket, timeout=PATIENCE) as client,
            ):
                client.ping()
            assert refused.value.exit_code == 3

        # Once connections close, new ones are served again.
        def served() -> bool:
            try:
                with Client(daemon.socket, timeout=PATIENCE) as client:
                    client.ping()
            except DaemonUnavailable:
                return False
            return True

        _until(served, "a connection is served once the others closed")
