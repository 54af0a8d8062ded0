"""Stopping under faults: the shutdown deadline kills through the run's containment (a setsid
descendant of a TERM-ignoring program included) and leaves no cgroup; a SIGSTOPped program is
woken with SIGCONT after its stop signal, so it exits cleanly instead of being SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from supervisord_lite.runtime import process_groups as groups
from svctl import Client
from tests.daemon_harness import running, start_daemon, stop_daemon, write_config
from tests.faults.common import CONTAINMENT_MODES, read_pid_file, wait_until

STUBBORN = """\
[programs.stubborn]
command = ["sh", "-c", "trap '' TERM; setsid sleep 3600 & echo $! > escaped.pid; sleep 3600"]
start_seconds = 0
stop_timeout = 30
kill_timeout = 5
"""


@pytest.mark.parametrize("containment", CONTAINMENT_MODES)
def test_the_shutdown_deadline_kills_the_whole_run(tmp_path: Path, containment: str) -> None:
    """The program ignores SIGTERM past the shutdown timeout; its setsid descendant (another
    session, TERM ignored too) dies with it, and the daemon's cgroups are removed."""
    config = write_config(tmp_path, STUBBORN, daemon_extra=f'containment = "{containment}"\n')
    config.write_text(config.read_text().replace("shutdown_timeout = 10", "shutdown_timeout = 1"))
    daemon = start_daemon(config)
    try:
        with Client(daemon.socket, timeout=30) as client:
            client.wait("stubborn", state="RUNNING", timeout=20)
        escaped = read_pid_file(tmp_path / "escaped.pid")
        session = os.getsid(daemon.process.pid)
        wait_until(lambda: os.getsid(escaped) != session, "the descendant's setsid")
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=40) == 4, daemon.log()
        assert not groups.is_alive(escaped), daemon.log()
        assert "left in place" not in daemon.log()
        assert [t for t in daemon.trees if os.path.exists(t)] == []
    finally:
        stop_daemon(daemon, grace=0)


def _commands(pgid: int) -> list[str]:
    """The command names (``/proc/PID/comm``) of a process group's members."""
    names = []
    for pid in groups.group_members(pgid):
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return names


PAUSED = """\
[programs.paused]
command = ["sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 3600 & wait"]
start_seconds = 0
stop_timeout = 30
"""


@pytest.mark.parametrize("containment", CONTAINMENT_MODES)
def test_a_stopped_program_is_woken_to_exit_cleanly(tmp_path: Path, containment: str) -> None:
    extra = f'containment = "{containment}"\n'
    with (
        running(tmp_path, PAUSED, daemon_extra=extra) as daemon,
        Client(daemon.socket, timeout=60) as client,
    ):
        client.wait("paused", state="RUNNING", timeout=20)
        log = tmp_path / "logs" / "paused.stdout.log"
        wait_until(lambda: log.exists() and b"ready" in log.read_bytes(), "the program's start")
        (status,) = client.status("paused")
        assert status.pid is not None
        # Stopped before its sleep is exec'd (the shell's forked child still runs the shell's
        # TERM handler, which exec then forgets), the TERM would be lost and the sleep would
        # keep the group alive until SIGKILL: stop it once the sleep runs.
        pgid = status.pid
        wait_until(lambda: "sleep" in _commands(pgid), "the shell's sleep")
        os.killpg(status.pid, signal.SIGSTOP)
        (result,) = client.stop("paused")
        assert result.ok, result
        ended = [e for e in client.history("paused", limit=5) if e.outcome is not None]
        assert ended[-1].outcome == "stopped", ended
