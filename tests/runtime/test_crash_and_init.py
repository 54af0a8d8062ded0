"""A daemon killed with SIGKILL, restarted on the same config; and the daemon as PID 1."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from svctl import Client
from tests.daemon_harness import (
    ROOT,
    Daemon,
    pids_with_token,
    start_daemon,
    stop_daemon,
    write_config,
)
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from pathlib import Path

TWENTY = "\n".join(
    f"""[programs.p{i:02d}]
command = ["sleep", "3600"]
start_seconds = 0
stop_timeout = 2
"""
    for i in range(20)
)


def _live(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            continue
    return out


def _sleepers(token: str, daemon_pid: int) -> list[int]:
    return [p for p in _live(pids_with_token(token)) if p != daemon_pid]


def _crash(config: Path, *, synced: bool = False) -> tuple[Daemon, list[int]]:
    """Start a daemon with the twenty programs, SIGKILL it; the daemon and its surviving pids
    (``stop_daemon`` kills what is left of it).

    ``synced``: ask for a history first, which the daemon answers only once everything queued
    for the store is written, so every run is on disk when the SIGKILL comes. Without it the
    kill may come before some runs were recorded.
    """
    first = start_daemon(config)
    with Client(first.socket, timeout=30) as client:
        client.wait(*(f"p{i:02d}" for i in range(20)), state="RUNNING", timeout=20)
        if synced:
            client.history(limit=1)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    time.sleep(0.2)
    return first, _sleepers(first.token, first.process.pid)


@pytest.mark.parametrize("synced", [True, False], ids=["recorded", "maybe-unrecorded"])
def test_restart_after_kill_9_runs_no_duplicate(tmp_path: Path, synced: bool) -> None:
    config = write_config(tmp_path, TWENTY)
    first, survivors = _crash(config, synced=synced)
    second = None
    try:
        assert len(survivors) == 20  # programs outlive a SIGKILLed supervisor...
        second = start_daemon(config)
        with Client(second.socket, timeout=30) as client:
            client.wait(*(f"p{i:02d}" for i in range(20)), state="RUNNING", timeout=20)
            assert _live(survivors) == []  # ...until the next one stops them
            # RUNNING comes at the spawn: a program may still be in its exec, when /proc does
            # not show its environment.
            wait_until(
                lambda: len(_sleepers(second.token, second.process.pid)) == 20,
                "twenty programs",
            )
            history = client.history("p07", limit=10)
        lost = [e for e in history if e.outcome == "lost"]
        assert len(lost) == 1
        assert "supervisor crashed" in lost[0].reason
    finally:
        if second is not None:
            stop_daemon(second)
        stop_daemon(first, grace=0)


def test_a_recycled_pid_is_left_alone(tmp_path: Path) -> None:
    """The store says p00's leader is a pid that now belongs to an unrelated process (another
    start time, no run marker): that process is not touched, while p00's own process, found by
    its run marker, is stopped."""
    config = write_config(tmp_path, TWENTY)
    first, survivors = _crash(config, synced=True)
    second = None
    stranger = subprocess.Popen(["sleep", "3600"], process_group=0)
    try:
        db = sqlite3.connect(tmp_path / "state" / "supervisor.db")
        with db:
            (pid,) = db.execute(
                "SELECT pid FROM runs WHERE program = 'p00' AND ended_at IS NULL"
            ).fetchone()
            db.execute(
                "UPDATE runs SET pid = ?, pgid = ?, start_time = start_time - 1000 WHERE pid = ?",
                (stranger.pid, stranger.pid, pid),
            )
        db.close()
        second = start_daemon(config)
        assert stranger.poll() is None
        assert _live(survivors) == []
    finally:
        if second is not None:
            stop_daemon(second)
        stop_daemon(first, grace=0)
        stranger.kill()
        stranger.wait(timeout=10)


def test_second_daemon_on_the_same_socket_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, TWENTY.split("[programs.p01]")[0])
    first = start_daemon(config)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "supervisord_lite", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
        )
        assert out.returncode == 2
        assert f"already running (pid {first.process.pid})" in out.stderr
        assert "Traceback" not in out.stderr
    finally:
        stop_daemon(first)


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    config = write_config(tmp_path, TWENTY.split("[programs.p01]")[0])
    first = start_daemon(config)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    stop_daemon(first, grace=0)
    assert os.path.exists(first.socket)  # left behind by the crash
    second = start_daemon(config)
    try:
        with Client(second.socket, timeout=10) as client:
            assert [s.name for s in client.status()] == ["p00"]
    finally:
        stop_daemon(second)


@pytest.mark.skipif(os.geteuid() != 0, reason="a new PID namespace (unshare --pid) needs root")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare(1) is not installed")
def test_as_pid_1_it_reaps_orphans_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    programs = """\
[programs.orphan_maker]
command = ["sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.2 &); done; sleep 3600"]
start_seconds = 0
"""
    config = write_config(tmp_path, programs)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'clients'}"}
    proc = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            sys.executable,
            "-m",
            "supervisord_lite",
            "-c",
            str(config),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        daemon = None
        while daemon is None and time.monotonic() < deadline:
            children = psutil.Process(proc.pid).children()
            daemon = children[0] if children else None
            time.sleep(0.05)
        assert daemon is not None, "the daemon did not start inside the namespace"
        socket = str(tmp_path / "run" / "ctl.sock")
        while not os.path.exists(socket) and time.monotonic() < deadline:
            time.sleep(0.05)
        with Client(socket, timeout=20) as client:
            client.wait("orphan_maker", state="RUNNING", timeout=20)
            time.sleep(0.6)  # the orphans have exited and landed on PID 1 by now
            zombies = [c for c in daemon.children() if c.status() == psutil.STATUS_ZOMBIE]
            assert zombies == []
        daemon.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()
        assert b"exited cleanly" in err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
