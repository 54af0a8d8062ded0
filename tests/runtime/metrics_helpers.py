"""Helpers of the metrics tests: a daemon with the endpoint on, its address, scrapes parsed
into samples."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import time
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

from svctl import Client
from tests.daemon_harness import Daemon, running

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
"""web and talker run (talker writes a line to each stream first); crasher exits 3 at once."""

TCP = '[daemon.metrics]\nlisten = "127.0.0.1:0"\n'

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def address(daemon: Daemon) -> tuple[str, int]:
    """The endpoint's address, from the line the daemon logs when it starts serving."""
    found = re.search(r"metrics: serving http://([0-9.]+):(\d+)/metrics", daemon.log())
    assert found, daemon.log()
    return found[1], int(found[2])


def get(daemon: Daemon, accept: str | None = None) -> tuple[int, dict[str, str], str]:
    """GET /metrics: (status, headers with lower-case names, body)."""
    host, port = address(daemon)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Accept": accept} if accept else {})
        response = conn.getresponse()
        body = response.read().decode()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def scrape(daemon: Daemon) -> str:
    status, _, body = get(daemon)
    assert status == 200, body
    return body


def samples_of(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def settled(daemon: Daemon) -> None:
    with Client(daemon.socket, timeout=20) as client:
        client.wait("web", "talker", state="RUNNING", timeout=15)
        client.wait("crasher", state="EXITED", timeout=15)


def scrape_until(daemon: Daemon, name: str, expected: float, **labels: str) -> Samples:
    """Scrape until a sample is ``expected`` (bounded): for counters the daemon moves on its own
    time, such as the log pump's."""
    deadline = time.monotonic() + 15
    while True:
        samples = samples_of(scrape(daemon))
        if samples.get((name, frozenset(labels.items()))) == expected:
            return samples
        assert time.monotonic() < deadline, f"{name}{labels} never reached {expected}"
        time.sleep(0.05)


@contextlib.contextmanager
def metrics_daemon(tmp_path: Path, daemon_extra: str = TCP) -> Iterator[Daemon]:
    """A daemon running ``PROGRAMS`` with the endpoint on, each program settled."""
    with running(tmp_path, PROGRAMS, daemon_extra) as daemon:
        settled(daemon)
        yield daemon


def raw(host: str, port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes (bounded)."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
