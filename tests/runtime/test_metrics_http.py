"""The metrics endpoint over HTTP: what it refuses, its bounds, a Unix socket, a port in use,
and a real Prometheus scraping it.

``prometheus`` comes from Debian's ``prometheus`` package (.ci/run installs it); where it is
missing, the test that needs it skips and says so.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.runtime.metrics import http as metrics_http
from svctl import Client
from tests.daemon_harness import ROOT, write_config
from tests.runtime.metrics_helpers import (
    PROGRAMS,
    address,
    get,
    metrics_daemon,
    raw,
)

if TYPE_CHECKING:
    from pathlib import Path


PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is missing (Debian's prometheus package)"
)


# -- HTTP -------------------------------------------------------------------------------------


def test_other_paths_methods_and_malformed_requests_are_refused(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        host, port = address(daemon)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("GET", "/")
            missing = conn.getresponse()
            missing.read()
            conn.request("POST", "/metrics")
            post = conn.getresponse()
            post.read()
            # The same connection still serves a scrape (keep-alive).
            conn.request("GET", "/metrics?x=1")
            ok = conn.getresponse()
            body = ok.read()
        finally:
            conn.close()
        garbage = raw(host, port, b"NOT HTTP\r\n\r\n")
        huge = raw(
            host, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
        )
        with_body = raw(
            host, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        )
    assert missing.status == 404
    assert post.status == 405
    assert post.getheader("Allow") == "GET"
    assert ok.status == 200
    assert b"supervisord_lite_program_up" in body
    assert garbage.startswith(b"HTTP/1.1 400 ")
    assert huge.startswith(b"HTTP/1.1 431 ")
    assert with_body.startswith(b"HTTP/1.1 413 ")


def test_connections_are_bounded(tmp_path: Path) -> None:
    from supervisord_lite.runtime.metrics.http import MAX_CONNECTIONS

    with metrics_daemon(tmp_path) as daemon:
        host, port = address(daemon)
        held = [http.client.HTTPConnection(host, port, timeout=10) for _ in range(MAX_CONNECTIONS)]
        try:
            # Each scrapes once and keeps its connection (keep-alive): every slot is taken.
            for conn in held:
                conn.request("GET", "/metrics")
                assert conn.getresponse().read()
            extra = socket.create_connection((host, port), timeout=10)
            with extra:
                assert extra.recv(1) == b""
        finally:
            for conn in held:
                conn.close()
        # The slots come back when the connections go.
        deadline = time.monotonic() + 10
        while True:
            try:
                assert get(daemon)[0] == 200
                break
            except (ConnectionError, http.client.HTTPException):
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_a_unix_socket_endpoint(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path, '[daemon.metrics]\nlisten = "run/metrics.sock"\n'):
        path = tmp_path / "run" / "metrics.sock"
        mode = stat.S_IMODE(path.stat().st_mode)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
    assert mode == 0o600
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b'supervisord_lite_program_up{program="web"} 1.0' in response
    assert not path.exists()  # removed at shutdown


def test_an_address_in_use_stops_the_daemon_from_starting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path, PROGRAMS, f'[daemon.metrics]\nlisten = "127.0.0.1:{port}"\n'
        )
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'clients'}"}
        done = subprocess.run(
            [sys.executable, "-m", "supervisord_lite", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    assert done.returncode == 1
    assert f"metrics: cannot listen on 127.0.0.1:{port}" in done.stderr + done.stdout


def test_the_daemon_loads_the_endpoint_only_when_metrics_are_on() -> None:
    # A daemon without metrics does not pay for prometheus-client and h11 at start.
    code = (
        "import sys, supervisord_lite.runtime\n"
        "print('prometheus_client' in sys.modules, 'h11' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'clients'}"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env
    )
    assert done.stdout.split() == ["False", "False"], done.stderr


# -- a real Prometheus ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _query(port: int, query: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


@needs_prometheus
def test_prometheus_scrapes_the_daemon_and_answers_a_query(tmp_path: Path) -> None:
    with metrics_daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.restart("web")
        host, port = address(daemon)
        web_port = _free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: supervisord-lite\n"
            f"    static_configs:\n      - targets: ['{host}:{port}']\n"
        )
        assert PROMETHEUS is not None
        log = (tmp_path / "prometheus.log").open("wb")
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{web_port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 40
            result: list[dict[str, object]] = []
            query = 'supervisord_lite_program_restarts_total{program="web"}'
            while not result:
                assert prometheus.poll() is None, (tmp_path / "prometheus.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
                with contextlib.suppress(OSError):
                    result = _query(web_port, query)
                if not result:
                    time.sleep(0.2)
            up = _query(web_port, 'up{job="supervisord-lite"}')
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(prometheus.pid, signal.SIGKILL)
            prometheus.wait(timeout=10)
            log.close()
    [series] = result
    assert series["metric"]["job"] == "supervisord-lite"  # type: ignore[index]
    assert series["value"][1] == "1"  # type: ignore[index]
    assert up[0]["value"][1] == "1"  # type: ignore[index]


async def test_a_connection_that_sends_nothing_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    # In process, with the bound lowered: the daemon's is 30 s.
    monkeypatch.setattr(metrics_http, "REQUEST_TIMEOUT", 0.2)
    sock = metrics_http.bind_metrics_socket("127.0.0.1:0")

    async def render(accept: str) -> tuple[bytes, str]:
        return b"", "text/plain"

    server = metrics_http.MetricsServer(sock, render)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.serve)
            host, port = sock.getsockname()
            silent = await trio.open_tcp_stream(host, port)
            slow = await trio.open_tcp_stream(host, port)
            await slow.send_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
            with trio.fail_after(10):
                assert await silent.receive_some(100) == b""
                assert await slow.receive_some(100) == b""
            await silent.aclose()
            await slow.aclose()
            nursery.cancel_scope.cancel()
    finally:
        sock.close()
