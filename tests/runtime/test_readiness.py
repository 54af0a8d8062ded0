"""Readiness, health and the watchdog through a real daemon: each probe kind, a lying sender,
a start that never gets ready, a liveness restart, a watchdog timeout."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from svctl import Client
from tests.daemon_harness import running
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from tests.daemon_harness import Daemon

PY = sys.executable
# Says READY=1 (and a status) on its notify socket once FLAG exists, then pings its watchdog
# until STOP exists.
NOTIFIER = """
import os, socket, sys, time
flag, stop = sys.argv[1], sys.argv[2]
def say(text):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), os.environ["NOTIFY_SOCKET"])
while not os.path.exists(flag):
    time.sleep(0.02)
say("READY=1\\nSTATUS=serving")
while not os.path.exists(stop):
    say("WATCHDOG=1")
    time.sleep(0.1)
time.sleep(3600)
"""


def _program(body: str, name: str = "p") -> str:
    return f"[programs.{name}]\n{body}\n"


def _state(daemon: Daemon, name: str = "p") -> str:
    with Client(daemon.socket, timeout=10) as client:
        return client.status(name)[0].state.value


def _wait_starting(daemon: Daemon, name: str = "p") -> None:
    """Until the program is STARTING (spawned, not ready); the daemon's log if it never is."""
    try:
        wait_until(lambda: _state(daemon, name) == "STARTING", "STARTING")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_state(daemon, name)}\n{daemon.log()}") from exc


def _wait_ready(daemon: Daemon, name: str = "p", within: float = 20) -> None:
    with Client(daemon.socket, timeout=within + 10) as client:
        [result] = client.wait(name, ready=True, timeout=within)
    assert result.ok, result.message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _notifier(tmp_path: Path, extra: str = "") -> str:
    script = tmp_path / "notifier.py"
    script.write_text(NOTIFIER)
    command = f'command = ["{PY}", "{script}", "{tmp_path / "flag"}", "{tmp_path / "stop"}"]'
    return _program(f"{command}\nready.notify = true\n{extra}")


def test_notify_ready_waits_for_ready_1_and_shows_status(tmp_path: Path) -> None:
    with running(tmp_path, _notifier(tmp_path)) as daemon:
        _wait_starting(daemon)
        (tmp_path / "flag").touch()
        _wait_ready(daemon)
        with Client(daemon.socket, timeout=10) as client:
            [status] = client.status("p")
        assert status.ready
        assert status.notify_status == "serving"
        assert status.ready_since is not None


def test_systemd_notify_works_unchanged(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    script = f"while [ ! -e {flag} ]; do sleep 0.02; done; systemd-notify --ready --status=up;"
    program = _program(f'command = ["sh", "-c", "{script} exec sleep 3600"]\nready.notify = true')
    with running(tmp_path, program) as daemon:
        _wait_starting(daemon)
        flag.touch()
        _wait_ready(daemon)


def test_a_datagram_from_outside_the_run_is_ignored(tmp_path: Path) -> None:
    with running(tmp_path, _notifier(tmp_path)) as daemon:
        _wait_starting(daemon)
        path = os.path.join(os.path.dirname(daemon.socket), "notify", "p.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"READY=1", path)  # the test is no process of the program's run
        wait_until(lambda: "not a process of its current run" in daemon.log(), "the refusal")
        assert _state(daemon) == "STARTING"
        (tmp_path / "flag").touch()
        _wait_ready(daemon)


@pytest.mark.parametrize("kind", ["exec", "log", "fd"])
def test_probes_a_program_answers_itself(tmp_path: Path, kind: str) -> None:
    flag = tmp_path / "flag"
    wait = f"while [ ! -e {flag} ]; do sleep 0.02; done;"
    body = {
        "exec": f'command = ["sleep", "3600"]\nready = {{ exec = ["test", "-e", "{flag}"], '
        "interval = 0.05 }",
        "log": f'command = ["sh", "-c", "{wait} echo listening on 8080; exec sleep 3600"]\n'
        'ready.log = "listening on \\\\d+"',
        "fd": f'command = ["sh", "-c", "{wait} echo >&3; exec sleep 3600"]\nready.fd = 3',
    }[kind]
    with running(tmp_path, _program(body)) as daemon:
        _wait_starting(daemon)
        flag.touch()
        _wait_ready(daemon)


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_probes_of_a_server(tmp_path: Path, kind: str) -> None:
    port = _free_port()
    target = f"http://127.0.0.1:{port}/" if kind == "http" else f"127.0.0.1:{port}"
    body = (
        f'command = ["{PY}", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]\n'
        f'cwd = "{tmp_path}"\nready = {{ {kind} = "{target}", interval = 0.1 }}'
    )
    with running(tmp_path, _program(body)) as daemon:
        _wait_ready(daemon)
        with Client(daemon.socket, timeout=10) as client:
            [status] = client.status("p")
        assert status.probe is not None
        assert status.probe.ok
        assert status.probe.detail == ("HTTP 200" if kind == "http" else "connected")


def test_never_ready_is_a_failed_start_and_wait_ready_says_why(tmp_path: Path) -> None:
    body = (
        'command = ["sleep", "3600"]\nstart_retries = 0\n'
        'ready = { exec = ["false"], interval = 0.1, start_timeout = 0.5 }'
    )
    with running(tmp_path, _program(body)) as daemon, Client(daemon.socket, timeout=30) as client:
        [result] = client.wait("p", ready=True, timeout=20)
        assert not result.ok
        assert "not ready within 0.5 s" in result.message
        history = client.history("p", limit=10)
    assert any(e.reason == "not ready within 0.5 s" for e in history)


def test_a_liveness_failure_restarts_the_program(tmp_path: Path) -> None:
    alive = tmp_path / "alive"
    alive.touch()
    body = (
        'command = ["sleep", "3600"]\nstart_seconds = 0.1\n'
        f'liveness = {{ exec = ["test", "-e", "{alive}"], interval = 0.05, '
        "failure_threshold = 2 }"
    )
    with running(tmp_path, _program(body)) as daemon, Client(daemon.socket, timeout=30) as client:
        _wait_ready(daemon)
        [before] = client.status("p")
        assert before.healthy is True
        alive.unlink()

        def restarted() -> bool:
            history = client.history("p", limit=20)
            return any((e.reason or "").startswith("unhealthy: exec test -e") for e in history)

        wait_until(restarted, "the unhealthy run recorded")
        alive.touch()
        wait_until(lambda: client.status("p")[0].restarts >= 1, "a new run")


def test_a_silent_watchdog_ends_the_run_with_sigabrt_and_it_starts_again(tmp_path: Path) -> None:
    program = _notifier(tmp_path, "watchdog = 0.5\nbackoff = { floor = 0.1, initial = 0.1 }")
    (tmp_path / "flag").touch()
    with running(tmp_path, program) as daemon, Client(daemon.socket, timeout=30) as client:
        _wait_ready(daemon)
        (tmp_path / "stop").touch()  # no more WATCHDOG=1

        def timed_out() -> bool:
            history = client.history("p", limit=20)
            return any(
                e.reason == "watchdog timeout: no WATCHDOG=1 within 0.5 s"
                and e.exit_signal == "ABRT"
                for e in history
            )

        wait_until(timed_out, "the watchdog timeout recorded")
        wait_until(lambda: client.status("p")[0].restarts >= 1, "a new run")


# The interpreter the tests run on may sit where another user cannot reach it (under /root).
SYSTEM_PY = shutil.which("python3", path="/usr/bin:/bin")


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a program as another user: needs root")
@pytest.mark.skipif(SYSTEM_PY is None, reason="no python3 in /usr/bin or /bin")
def test_a_program_running_as_another_user_reaches_its_notify_socket() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sl-notify-user-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        flag = folder / "flag"
        flag.touch()
        script = folder / "notifier.py"
        script.write_text(NOTIFIER)
        script.chmod(0o644)
        program = _program(
            f'command = ["{SYSTEM_PY}", "{script}", "{flag}", "{folder / "stop"}"]\n'
            'user = "nobody"\nready.notify = true'
        )
        # Others may connect, so the socket folder is 0711 and nobody reaches notify/ in it.
        with running(folder, program, daemon_extra="socket_mode = 0o666\n") as daemon:
            _wait_ready(daemon)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
