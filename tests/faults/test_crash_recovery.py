"""kill -9 of the daemon: the next daemon on the same store stops every process of every old run
(even when the run's leader is gone), removes the dead daemon's cgroups, and does not take a
zombie for a process it could not kill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.containment import RUN_MARKER, store_id
from supervisord_lite.runtime.spawn import PROGRAM_MARKER
from svctl import Client
from tests.daemon_harness import Daemon, kill_by_token, start_daemon, stop_daemon, write_config
from tests.faults.common import CONTAINMENT_MODES, read_pid_file, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

WORKER = """\
[programs.worker]
command = ["sh", "-c", "sleep 3600 & echo $! > worker.pid; wait"]
start_seconds = 0
stop_timeout = 2
"""


def _crash(daemon: Daemon) -> None:
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(timeout=10)


@contextlib.contextmanager
def _daemons() -> Iterator[list[Daemon]]:
    """Daemons started by a test: each is stopped (or its processes killed) afterwards."""
    started: list[Daemon] = []
    try:
        yield started
    finally:
        for daemon in reversed(started):
            stop_daemon(daemon, grace=10 if daemon.process.poll() is None else 0)


@pytest.mark.parametrize("containment", CONTAINMENT_MODES)
def test_a_worker_whose_leader_died_is_stopped_after_a_crash(
    tmp_path: Path, containment: str
) -> None:
    """The store names the run's leader, which died (of SIGPIPE) after the daemon did; its
    worker, now an orphan, is still stopped before the program starts again."""
    config = write_config(tmp_path, WORKER, daemon_extra=f'containment = "{containment}"\n')
    with _daemons() as daemons:
        first = start_daemon(config)
        daemons.append(first)
        with Client(first.socket, timeout=30) as client:
            client.wait("worker", state="RUNNING", timeout=20)
            client.history(limit=1)  # the run is on disk
            (status,) = client.status("worker")
        worker = read_pid_file(tmp_path / "worker.pid")
        _crash(first)
        assert status.pid is not None
        os.kill(status.pid, signal.SIGPIPE)  # the leader dies; the worker lives on
        # Gone for good: reaped by init, so no process of that pid is left to match the store.
        wait_until(lambda: not os.path.exists(f"/proc/{status.pid}"), "the leader to be reaped")
        assert groups.is_alive(worker)

        second = start_daemon(config)
        daemons.append(second)
        assert not groups.is_alive(worker), second.log()
        assert [t for t in first.trees if os.path.exists(t)] == []
        with Client(second.socket, timeout=30) as client:
            client.wait("worker", state="RUNNING", timeout=20)
            history = client.history("worker", limit=10)
        assert [e.outcome for e in history if e.outcome == "lost"] == ["lost"]


@pytest.mark.skipif(os.geteuid() != 0, reason="a writable cgroup2 tree needs root here")
def test_the_dead_daemons_cgroups_are_removed_even_when_empty(tmp_path: Path) -> None:
    """Its programs died with it or after it: nothing is left to stop, but its cgroup folders
    still are, and the next daemon removes them."""
    config = write_config(tmp_path, WORKER, daemon_extra='containment = "cgroup"\n')
    with _daemons() as daemons:
        first = start_daemon(config)
        daemons.append(first)
        with Client(first.socket, timeout=30) as client:
            client.wait("worker", state="RUNNING", timeout=20)
        _crash(first)
        kill_by_token(first.token)
        assert first.trees
        assert all(os.path.exists(t) for t in first.trees)
        daemons.append(start_daemon(config))
        assert [t for t in first.trees if os.path.exists(t)] == []


def test_a_zombie_is_not_reported_as_unkillable(tmp_path: Path) -> None:
    """A leftover that dies on the stop signal stays a zombie until its parent reaps it (here the
    test, standing in for an init that reaps late): it is dead, not "could not kill"."""
    config = write_config(tmp_path, WORKER.replace("worker", "other"))
    marker = f"{store_id(str(tmp_path / 'state' / 'supervisor.db'))}:424242"
    env = {**os.environ, RUN_MARKER: marker, PROGRAM_MARKER: "other"}
    leftover = subprocess.Popen(["sleep", "3600"], env=env, process_group=0)
    try:
        with _daemons() as daemons:
            daemon = start_daemon(config)
            daemons.append(daemon)
            assert not groups.is_alive(leftover.pid)
            with Client(daemon.socket, timeout=30) as client:
                client.history(limit=1)  # recovery and start-up are logged by now
            assert "stopping pids" in daemon.log()
            assert "could not kill" not in daemon.log()
    finally:
        with contextlib.suppress(ProcessLookupError):
            leftover.kill()
        assert leftover.wait(timeout=10) == -signal.SIGTERM
