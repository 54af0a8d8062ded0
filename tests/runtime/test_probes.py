"""Probes that look from outside, against real commands, a real HTTP server and real ports."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.config import ProgramConfig
from supervisord_lite.config_probes import ReadyProbe
from supervisord_lite.runtime.probes import check

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROGRAM = ProgramConfig(name="p", command=("true",))


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = int(self.path.strip("/") or 200)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_exec_passes_on_exit_0_and_says_what_it_printed(tmp_path: Path) -> None:
    probe = ReadyProbe(exec=("sh", "-c", "echo accepting; exit 0"))
    result = await check(probe, PROGRAM, cwd=str(tmp_path))
    assert result.ok
    assert result.detail == "exit 0: accepting"


async def test_exec_fails_on_another_exit(tmp_path: Path) -> None:
    probe = ReadyProbe(exec=("sh", "-c", "echo no >&2; exit 3"))
    result = await check(probe, PROGRAM, cwd=str(tmp_path))
    assert not result.ok
    assert result.detail == "exit 3: no"


async def test_exec_runs_in_the_programs_folder_with_its_env(tmp_path: Path) -> None:
    program = ProgramConfig(name="p", command=("true",), cwd=str(tmp_path), env={"WHO": "me"})
    probe = ReadyProbe(
        exec=("sh", "-c", 'test "$PWD" = "$1" && test "$WHO" = me', "-", str(tmp_path))
    )
    assert (await check(probe, program, cwd="/")).ok


async def test_exec_that_overruns_is_killed_with_its_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    probe = ReadyProbe(exec=("sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"), timeout=0.5)
    with trio.fail_after(10):
        result = await check(probe, PROGRAM, cwd=str(tmp_path))
    assert not result.ok
    assert result.detail == "timed out after 0.5 s"
    try:
        pidfd = os.pidfd_open(int(pidfile.read_text()))
    except ProcessLookupError:
        return  # gone already
    try:
        with trio.fail_after(10):
            await trio.lowlevel.wait_readable(pidfd)  # readable once the process has exited
    finally:
        os.close(pidfd)


async def test_exec_of_a_missing_command(tmp_path: Path) -> None:
    result = await check(ReadyProbe(exec=("no-such-cmd-xyz",)), PROGRAM, cwd=str(tmp_path))
    assert not result.ok
    assert "no-such-cmd-xyz" in result.detail


@pytest.mark.parametrize(
    ("path", "statuses", "ok", "detail"),
    [
        ("/200", (), True, "HTTP 200"),
        ("/204", (), True, "HTTP 204"),
        ("/503", (), False, "HTTP 503"),
        ("/301", (), False, "HTTP 301"),
        ("/301", (301,), True, "HTTP 301"),
    ],
)
async def test_http(
    http_server: str, path: str, statuses: tuple[int, ...], ok: bool, detail: str
) -> None:
    # A first request builds the HTTP client (its TLS context too): seconds on a loaded host.
    probe = ReadyProbe(http=http_server + path, http_status=statuses, timeout=30.0)
    result = await check(probe, PROGRAM, cwd="/")
    assert (result.ok, result.detail) == (ok, detail)
    assert result.latency >= 0


async def test_http_refused() -> None:
    port = _free_port()
    result = await check(ReadyProbe(http=f"http://127.0.0.1:{port}/"), PROGRAM, cwd="/")
    assert not result.ok
    assert result.detail.startswith("ConnectError")


async def test_tcp_connects_to_a_listening_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = await check(ReadyProbe(tcp=f"127.0.0.1:{port}"), PROGRAM, cwd="/")
    assert (result.ok, result.detail) == (True, "connected")


async def test_tcp_refused() -> None:
    result = await check(ReadyProbe(tcp=f"127.0.0.1:{_free_port()}"), PROGRAM, cwd="/")
    assert not result.ok
    assert "refused" in result.detail.lower()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
