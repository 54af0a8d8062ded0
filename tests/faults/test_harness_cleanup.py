"""The daemon harness (tests/daemon_harness.py) leaves nothing behind a daemon killed with
SIGKILL, not even a program it cannot see by the test's token: a program in the middle of an
exec shows an empty ``/proc/PID/environ`` for a moment, which is what a program spawned just
before the kill is likely to be doing. Here a program drops the token for good (``env -i``),
so the harness must find it by the daemon's session or cgroup tree, as it would find one
caught mid-exec.
"""

from __future__ import annotations

import os
import shutil
import signal
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.runtime import process_groups as groups
from svctl import Client
from tests.daemon_harness import TOKEN_VAR, start_daemon, stop_daemon, write_config
from tests.faults.common import CONTAINMENT_MODES, wait_until

if TYPE_CHECKING:
    from pathlib import Path

SLEEP = shutil.which("sleep") or "/bin/sleep"

UNMARKED = f"""\
[programs.unmarked]
command = ["env", "-i", "UNMARKED=1", "{SLEEP}", "3600"]
start_seconds = 0
"""


def _environ(pid: int) -> bytes:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()


@pytest.mark.parametrize("containment", CONTAINMENT_MODES)
def test_a_program_without_the_token_is_killed_after_its_daemon_was(
    tmp_path: Path, containment: str
) -> None:
    config = write_config(tmp_path, UNMARKED, daemon_extra=f'containment = "{containment}"\n')
    daemon = start_daemon(config)
    pid = started = None
    try:
        with Client(daemon.socket, timeout=20) as client:
            client.wait("unmarked", state="RUNNING", timeout=10)
            (status,) = client.status("unmarked")
        pid = status.pid
        assert pid is not None
        started = groups.start_time(pid)
        wait_until(lambda: _environ(pid) == b"UNMARKED=1\0", "the program to drop the token")
        assert TOKEN_VAR.encode() not in _environ(pid)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(timeout=10)
        stop_daemon(daemon, grace=0)
        assert not groups.is_alive(pid), "the program outlived the harness' cleanup"
    finally:
        if pid is not None and groups.start_time(pid) == started and groups.is_alive(pid):
            os.kill(pid, signal.SIGKILL)
        stop_daemon(daemon, grace=0)
