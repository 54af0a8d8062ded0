"""The Prometheus endpoint (``[daemon.metrics]``, docs/metrics.md): a real daemon, real HTTP,
the exposition checked by ``promtool`` and scraped by a real Prometheus.

``promtool`` and ``prometheus`` come from Debian's ``prometheus`` package (.ci/run installs it);
where they are missing, the tests that need them skip and say so.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
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
from prometheus_client.parser import text_string_to_metric_families

from supervisord_lite.config import MetricsConfig, load
from supervisord_lite.errors import ConfigError
from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.metrics.requests import RequestMeter
from supervisord_lite.runtime.metrics.runs import RunCounters
from supervisord_lite.store_records import EventRecorded, Outcome, RunEnded, RunStarted
from svctl import Client
from tests.daemon_harness import ROOT, Daemon, running, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0.2
stop_timeout = 5

[programs.talker]
command = ["sh", "-c", "echo hello; echo oops >&2; exec sleep 3600"]
start_seconds = 0.2
stop_timeout = 5

[programs.crasher]
command = ["sh", "-c", "exit 3"]
autorestart = "never"
start_seconds = 0
"""

TCP = '[daemon.metrics]\nlisten = "127.0.0.1:0"\n'
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is missing (Debian's prometheus package)"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is missing (Debian's prometheus package)"
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- helpers ----------------------------------------------------------------------------------


def _address(daemon: Daemon) -> tuple[str, int]:
    """The endpoint's address, from the line the daemon logs when it starts serving."""
    found = re.search(r"metrics: serving http://([0-9.]+):(\d+)/metrics", daemon.log())
    assert found, daemon.log()
    return found[1], int(found[2])


def _get(daemon: Daemon, accept: str | None = None) -> tuple[int, dict[str, str], str]:
    host, port = _address(daemon)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Accept": accept} if accept else {})
        response = conn.getresponse()
        body = response.read().decode()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def _scrape(daemon: Daemon) -> str:
    status, _, body = _get(daemon)
    assert status == 200, body
    return body


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _settled(daemon: Daemon) -> None:
    with Client(daemon.socket, timeout=20) as client:
        client.wait("web", "talker", state="RUNNING", timeout=15)
        client.wait("crasher", state="EXITED", timeout=15)


def _scrape_until(daemon: Daemon, name: str, value: float, **labels: str) -> Samples:
    """Scrape until a sample has ``value`` (bounded): for counters the daemon moves on its own
    time, such as the log pump's."""
    deadline = time.monotonic() + 15
    while True:
        samples = _samples(_scrape(daemon))
        if samples.get((name, frozenset(labels.items()))) == value:
            return samples
        assert time.monotonic() < deadline, f"{name}{labels} never reached {value}"
        time.sleep(0.05)


@contextlib.contextmanager
def _daemon(tmp_path: Path, daemon_extra: str = TCP) -> Iterator[Daemon]:
    with running(tmp_path, PROGRAMS, daemon_extra) as daemon:
        _settled(daemon)
        yield daemon


def _raw(host: str, port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes (bounded)."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- the config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9105", "127.0.0.1:9105"),
        ("localhost:0", "localhost:0"),
        ("[::1]:9105", "[::1]:9105"),
        ("run/metrics.sock", "/base/run/metrics.sock"),
        ("/run/m.sock", "/run/m.sock"),
    ],
)
def test_listen_takes_host_port_or_a_socket_path(listen: str, expected: str) -> None:
    config = load(f'[daemon.metrics]\nlisten = "{listen}"\n', base_dir="/base")
    assert config.daemon.metrics == MetricsConfig(listen=expected)


def test_metrics_are_off_without_listen() -> None:
    assert load("").daemon.metrics.listen is None
    assert load("[daemon.metrics]\n").daemon.metrics.listen is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('listen = "9105"', ("$.daemon.metrics.listen", "expected HOST:PORT")),
        ('listen = "host:70000"', ("$.daemon.metrics.listen", "expected HOST:PORT")),
        ('listen = ""', ("$.daemon.metrics.listen", "must not be empty")),
        ("listen = 9105", ("$.daemon.metrics.listen", "expected a string, got an integer")),
        ('port = "x"', ("$.daemon.metrics.port", "unknown field")),
    ],
)
def test_a_bad_metrics_table_names_the_field(text: str, problem: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(f"[daemon.metrics]\n{text}\n")
    [(path, message)] = [(p.path, p.message) for p in info.value.problems]
    assert path == problem[0]
    assert message.startswith(problem[1])


# -- the counters -----------------------------------------------------------------------------


def test_run_counters_count_what_the_history_records() -> None:
    counters = RunCounters()
    for op in (
        RunStarted(run_id=1, program="web", pid=10, pgid=10, at=0.0),
        RunEnded(run_id=1, program="web", outcome=Outcome.FAILED, at=1.0, exit_code=3),
        EventRecorded(program="web", kind="spawn_failed", at=2.0),
        EventRecorded(program="web", kind="oom_killed", at=2.0),
        EventRecorded(program="web", kind="backoff", at=2.0),
        RunStarted(run_id=2, program="gone", pid=11, pgid=11, at=0.0),
    ):
        counters.observe(op)
    web = counters.get("web")
    assert (web.starts, web.spawn_failures, web.oom_kills) == (1, 1, 1)
    assert web.exits == {"completed": 0, "failed": 1, "stopped": 0, "killed": 0}
    counters.prune({"web"})
    assert set(counters.programs) == {"web"}
    assert counters.get("gone").starts == 0


async def test_requests_are_timed_to_their_first_reply() -> None:
    now = [0.0]
    meter = RequestMeter(clock=lambda: now[0])
    sent: list[m.ServerMessage] = []

    async def send(msg: m.ServerMessage) -> None:
        sent.append(msg)

    with meter.measure(m.Status(id=1), send) as measured:
        now[0] = 0.002
        await measured(m.StatusReply(id=1, programs=()))
        now[0] = 9.0
        await measured(m.End(id=1))
    with meter.measure(m.Stop(id=2, names=("x",)), send) as measured:
        await measured(m.Error(id=2, code=m.ErrorCode.NO_SUCH_PROGRAM, message="no"))
    with meter.measure(m.Ping(id=3), send):
        pass
    assert len(sent) == 3
    assert meter.outcomes == {
        ("status", "ok"): 1,
        ("stop", "no_such_program"): 1,
        ("ping", "cancelled"): 1,
    }
    status = meter.latencies["status"]
    assert status.total == 0.002
    assert dict(status.cumulative())["0.001"] == 0
    assert dict(status.cumulative())["0.0025"] == 1
    assert dict(status.cumulative())["+Inf"] == 1
    assert "ping" not in meter.latencies


# -- what a scrape shows ----------------------------------------------------------------------


@pytest.mark.parametrize("containment", ["auto", "subreaper"])
def test_a_scrape_shows_each_program(tmp_path: Path, containment: str) -> None:
    p = "supervisord_lite_program_"
    with _daemon(tmp_path, f'containment = "{containment}"\n' + TCP) as daemon:
        written = p + "log_written_bytes_total"
        _scrape_until(daemon, written, 5, program="talker", stream="stderr")
        samples = _scrape_until(daemon, written, 6, program="talker", stream="stdout")
    assert _value(samples, p + "up", program="web") == 1
    assert _value(samples, p + "ready", program="web") == 1
    assert _value(samples, p + "up", program="crasher") == 0
    assert _value(samples, p + "state", program="web", state="RUNNING") == 1
    assert _value(samples, p + "state", program="web", state="STOPPED") == 0
    assert _value(samples, p + "state", program="crasher", state="EXITED") == 1
    assert _value(samples, p + "starts_total", program="crasher") == 1
    assert _value(samples, p + "exits_total", program="crasher", outcome="failed") == 1
    assert _value(samples, p + "exits_total", program="web", outcome="failed") == 0
    assert _value(samples, p + "last_exit_code", program="crasher") == 3
    assert _value(samples, p + "uptime_seconds", program="web") >= 0
    assert (p + "uptime_seconds", frozenset({("program", "crasher")})) not in samples
    # The run's resources: its processes (the sh that exec'd sleep, or sleep itself).
    assert _value(samples, p + "processes", program="web") >= 1
    assert _value(samples, p + "memory_bytes", program="web") > 0
    assert _value(samples, p + "cpu_seconds_total", program="web") >= 0
    assert _value(samples, p + "log_read_bytes_total", program="talker", stream="stdout") == 6
    assert _value(samples, p + "log_written_bytes_total", program="talker", stream="stderr") == 5
    assert _value(samples, p + "log_queue_capacity_bytes", program="talker", stream="stdout") > 0
    [build] = [dict(k[1]) for k in samples if k[0] == "supervisord_lite_build_info"]
    assert build["containment"] in ("cgroup", "subreaper")
    if containment == "subreaper":
        assert build["containment"] == "subreaper"
    assert _value(samples, "process_open_fds") > 0
    assert _value(samples, "supervisord_lite_event_loop_lag_seconds") >= 0


def test_probes_show_health_and_their_last_look(tmp_path: Path) -> None:
    programs = """\
[programs.probed]
command = ["sleep", "3600"]
stop_timeout = 5
ready = { exec = ["true"], interval = 0.1 }
liveness = { exec = ["true"], interval = 0.2 }
"""
    p = "supervisord_lite_program_"
    with running(tmp_path, programs, TCP) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.wait("probed", state="RUNNING", timeout=15)
        samples = _scrape_until(daemon, p + "healthy", 1, program="probed")
    assert _value(samples, p + "ready", program="probed") == 1
    assert _value(samples, p + "probe_ok", program="probed") == 1
    assert _value(samples, p + "probe_latency_seconds", program="probed") >= 0
    assert _value(samples, p + "probe_time_seconds", program="probed") > 0


def test_restarts_and_stops_are_counted(tmp_path: Path) -> None:
    with _daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.restart("web")
            client.restart("web")
            client.stop("talker")
        samples = _samples(_scrape(daemon))
    p = "supervisord_lite_program_"
    assert _value(samples, p + "restarts_total", program="web") == 2
    assert _value(samples, p + "starts_total", program="web") == 3
    assert _value(samples, p + "exits_total", program="web", outcome="stopped") == 2
    assert _value(samples, p + "exits_total", program="talker", outcome="stopped") == 1
    assert _value(samples, p + "wanted_up", program="talker") == 0
    assert _value(samples, p + "state", program="talker", state="STOPPED") == 1


def test_requests_are_counted_by_op_and_outcome(tmp_path: Path) -> None:
    with _daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.status()
            with contextlib.suppress(Exception):
                client.stop("nope")
        samples = _samples(_scrape(daemon))
    requests = "supervisord_lite_requests_total"
    assert _value(samples, requests, op="status", outcome="ok") >= 1
    assert _value(samples, requests, op="stop", outcome="no_such_program") == 1
    count = "supervisord_lite_request_duration_seconds_count"
    assert _value(samples, count, op="stop") == 1
    inf = _value(samples, "supervisord_lite_request_duration_seconds_bucket", op="stop", le="+Inf")
    assert inf == 1
    assert _value(samples, "supervisord_lite_control_connections_total") >= 2


@needs_promtool
def test_the_exposition_passes_promtool(tmp_path: Path) -> None:
    with _daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.status()
            client.restart("web")
        text = _scrape(daemon)
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_openmetrics_when_the_accept_header_asks(tmp_path: Path) -> None:
    with _daemon(tmp_path) as daemon:
        accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        status, headers, body = _get(daemon, accept)
        plain_status, plain_headers, _ = _get(daemon)
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith("# EOF\n")
    assert plain_status == 200
    assert plain_headers["content-type"].startswith("text/plain; version=0.0.4")


def test_every_metric_is_documented(tmp_path: Path) -> None:
    with _daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.status()
        text = _scrape(daemon)
    suffix = {"counter": "_total", "info": "_info"}
    exposed = {f.name + suffix.get(f.type, "") for f in text_string_to_metric_families(text)}
    page = (ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", page, re.MULTILINE))
    assert exposed == documented


# -- HTTP -------------------------------------------------------------------------------------


def test_other_paths_methods_and_malformed_requests_are_refused(tmp_path: Path) -> None:
    with _daemon(tmp_path) as daemon:
        host, port = _address(daemon)
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
        garbage = _raw(host, port, b"NOT HTTP\r\n\r\n")
        huge = _raw(
            host, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
        )
        with_body = _raw(
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

    with _daemon(tmp_path) as daemon:
        host, port = _address(daemon)
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
                assert _get(daemon)[0] == 200
                break
            except (ConnectionError, http.client.HTTPException):
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_a_unix_socket_endpoint(tmp_path: Path) -> None:
    with _daemon(tmp_path, '[daemon.metrics]\nlisten = "run/metrics.sock"\n'):
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
    with _daemon(tmp_path) as daemon:
        with Client(daemon.socket, timeout=20) as client:
            client.restart("web")
        host, port = _address(daemon)
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
