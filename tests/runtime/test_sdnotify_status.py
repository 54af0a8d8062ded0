"""systemd's ``STATUS=`` line follows the programs: a real daemon, a real ``$NOTIFY_SOCKET``
datagram socket made here, and the states changed through ``svctl``."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from tests.daemon_harness import start_daemon, stop_daemon, svctl, write_config

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

TWO = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0

[programs.worker]
command = ["sleep", "3600"]
start_seconds = 0
"""


def _status_until(sock: socket.socket, wanted: str) -> list[str]:
    """Every ``STATUS=`` line received, up to and including ``wanted``."""
    seen = []
    while True:
        lines = sock.recv(4096).decode().splitlines()
        seen.extend(line.removeprefix("STATUS=") for line in lines if line.startswith("STATUS="))
        if wanted in seen:
            return seen


def test_the_status_line_follows_state_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(20)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        daemon = start_daemon(write_config(tmp_path, TWO))
        try:
            _status_until(sock, "2 programs: 2 running")
            assert svctl(daemon, "stop", "worker").returncode == 0
            _status_until(sock, "2 programs: 1 running, 1 stopped")
            assert svctl(daemon, "start", "worker").returncode == 0
            _status_until(sock, "2 programs: 2 running")
        finally:
            stop_daemon(daemon)
        _status_until(sock, "2 programs: 2 stopped")
    assert daemon.process.returncode == 0
