"""The daemon as a container's init: PID 1 of its own PID namespace (``unshare --pid --fork
--mount-proc``), ending on its own by its exit rules, with the exit status a container runtime
would see, and every program stopped before it goes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.daemon_exit import EXIT_PROGRAMS_FAILED
from tests.daemon_harness import ROOT, TOKEN_VAR, kill_by_token, pids_with_token, write_config

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare(1) is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="a PID namespace needs root here"),
]

QUIET = 'log = { stdout = "none", stderr = "none" }\n'
# Traps TERM (and says so in a file) and waits; its setsid grandchild is not sent the TERM its
# parent gets, so the stop lasts until the shutdown times out and SIGKILLs it.
SIDE_SH = (
    "trap 'echo term > side.txt; exit 0' TERM; setsid sleep 3600 & touch side.up;"
    " while :; do sleep 1 & wait $!; done"
)
SIDE = (
    f'[programs.side]\ncommand = ["sh", "-c", "{SIDE_SH}"]\nstart_seconds = 0\npriority = 1\n'
    "stop_timeout = 20\n" + QUIET
)


def main(end: str, extra: str = "", *, wait_for_side: bool = True) -> str:
    """The main program: waits for side to be up (unless told not to), then runs ``end``."""
    wait = "while [ ! -e side.up ]; do sleep 0.05; done; " if wait_for_side else ""
    return (
        f'[programs.main]\ncommand = ["sh", "-c", "{wait}{end}"]\nautorestart = "never"\n'
        f"start_seconds = 0\n{extra}\n" + QUIET
    )


def run_as_pid1(
    folder: Path, programs: str, daemon_extra: str = "", *, shutdown_timeout: float = 10
) -> tuple[int, str]:
    """Run the daemon as PID 1 of a new PID namespace until it exits; its status and log."""
    config = write_config(folder, programs, 'containment = "subreaper"\n' + daemon_extra)
    text = config.read_text().replace(
        "shutdown_timeout = 10", f"shutdown_timeout = {shutdown_timeout}"
    )
    config.write_text(text)
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        TOKEN_VAR: token,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "clients")]),
    }
    argv = ["unshare", "--pid", "--fork", "--mount-proc"]
    log = folder / "daemon.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*argv, sys.executable, "-m", "supervisord_lite", "-c", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=folder,
        )
    try:
        status = process.wait(timeout=40)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        left = pids_with_token(token)
        kill_by_token(token)
    assert left == [], f"processes left behind: {left}"
    return status, log.read_text(errors="replace")


def test_a_critical_program_decides_the_exit_status_of_pid_1(tmp_path: Path) -> None:
    programs = SIDE + main("exit 3", "critical = true")
    status, log = run_as_pid1(tmp_path, programs, shutdown_timeout=0.5)
    # The critical program's status, not 4 (programs SIGKILLed at shutdown_timeout).
    assert status == 3, log
    assert "critical program main exited (exit 3)" in log
    assert (tmp_path / "side.txt").read_text() == "term\n", log  # stopped in order, by TERM
    assert "shutdown timed out after 0.5s; SIGKILLed: side" in log
    assert "supervisord-lite 1 serving" in log  # it was PID 1


def test_all_exited_gives_a_batch_container_its_status(tmp_path: Path) -> None:
    programs = (
        '[programs.job]\ncommand = ["true"]\nautorestart = "never"\nstart_seconds = 0\n'
        + QUIET
        + main("exit 4", wait_for_side=False)
    )
    status, log = run_as_pid1(tmp_path, programs, 'exit_when = "all-exited"\n')
    assert status == EXIT_PROGRAMS_FAILED, log
    assert "every program has exited; failed: main" in log
