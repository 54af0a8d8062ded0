"""Signals at awkward moments, and programs that run as another user."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import psutil
import pytest

from svctl import Client
from tests.daemon_harness import running, start_daemon, stop_daemon, write_config
from tests.faults.common import ignores_term, wait_until

if TYPE_CHECKING:
    from pathlib import Path


def test_sighup_during_shutdown_is_refused_not_fatal(tmp_path: Path) -> None:
    programs = """\
[programs.slow_to_stop]
command = ["sh", "-c", "trap '' TERM; sleep 3600"]
start_seconds = 0
stop_timeout = 1.5
"""
    daemon = start_daemon(write_config(tmp_path, programs))
    try:
        with Client(daemon.socket, timeout=20) as client:
            client.wait("slow_to_stop", state="RUNNING", timeout=20)
            (program,) = client.status("slow_to_stop")
        wait_until(lambda: ignores_term(program.pid or 0), "the program's trap of TERM")
        daemon.process.send_signal(signal.SIGTERM)
        with Client(daemon.socket, timeout=20) as client:
            client.wait("slow_to_stop", state="STOPPING", timeout=20)
        daemon.process.send_signal(signal.SIGHUP)
        assert daemon.process.wait(timeout=30) == 0
        assert "reload refused: the daemon is shutting down" in daemon.log()
        assert "Traceback" not in daemon.log()
    finally:
        stop_daemon(daemon, grace=0)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
@pytest.mark.parametrize("containment", ["cgroup", "subreaper"])
def test_a_program_runs_as_its_user_with_only_that_users_groups(
    tmp_path: Path, containment: str
) -> None:
    os.chmod(tmp_path, 0o755)
    programs = """\
[programs.as_nobody]
command = ["sleep", "3600"]
user = "nobody"
start_seconds = 0.2
"""
    setting = f'containment = "{containment}"\n'
    with (
        running(tmp_path, programs, daemon_extra=setting) as daemon,
        Client(daemon.socket, timeout=20) as client,
    ):
        (result,) = client.wait("as_nobody", state="RUNNING", timeout=20)
        assert result.ok
        (status,) = client.status("as_nobody")
        assert status.pid is not None
        process = psutil.Process(status.pid)
        assert process.uids().real == process.uids().effective == 65534
        assert 0 not in process.gids()
        with open(f"/proc/{status.pid}/status") as f:
            groups = next(line for line in f if line.startswith("Groups:")).split()[1:]
        assert "0" not in groups
        assert process.environ()["HOME"] != "/root"
        if containment == "cgroup":
            with open(f"/proc/{status.pid}/cgroup") as f:
                assert "supervisord-lite." in f.read()
