"""Stopping really stops: escalation, whole groups, escaped descendants, adopted orphans.

Each test runs a real daemon (tests/daemon_harness.py) and checks the processes themselves
through /proc, by the token every process of the test carries.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from svctl import Client
from tests.daemon_harness import pids_with_token, running
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from tests.daemon_harness import Daemon


def _program_pids(daemon: Daemon) -> list[int]:
    """Live processes of the test other than the daemon itself (zombies excluded)."""
    live = []
    for pid in pids_with_token(daemon.token):
        if pid == daemon.process.pid:
            continue
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                live.append(pid)
        except psutil.NoSuchProcess:
            continue
    return live


def _zombie_children(daemon: Daemon) -> list[int]:
    try:
        children = psutil.Process(daemon.process.pid).children()
    except psutil.NoSuchProcess:
        return []
    return [c.pid for c in children if c.status() == psutil.STATUS_ZOMBIE]


ESCAPERS = """\
[programs.setsid_grandchild]
command = ["sh", "-c", "setsid sleep 3600 & sleep 3600"]
start_seconds = 0.3

[programs.double_forker]
command = ["sh", "-c", "(setsid sh -c 'sleep 3600 & exit 0' &); sleep 3600"]
start_seconds = 0.3

[programs.background_then_exit]
command = ["sh", "-c", "sleep 3600 & sleep 0.5; exit 0"]
start_seconds = 0
autorestart = "never"

[programs.children_ignore_term]
command = ["sh", "-c", "trap '' TERM; (trap '' TERM; sleep 3600) & sleep 3600"]
start_seconds = 0.3
stop_timeout = 0.5
kill_timeout = 5
"""


@pytest.mark.parametrize("containment", ["cgroup", "subreaper"])
def test_stop_leaves_no_descendant_and_no_zombie(tmp_path: Path, containment: str) -> None:
    if containment == "cgroup" and os.geteuid() != 0:
        pytest.skip("a writable cgroup2 tree needs root here")
    setting = f'containment = "{containment}"\n'
    with (
        running(tmp_path, ESCAPERS, daemon_extra=setting) as daemon,
        Client(daemon.socket, timeout=30) as client,
    ):
        client.wait("setsid_grandchild", "double_forker", "children_ignore_term", state="RUNNING")
        assert len(_program_pids(daemon)) >= 9
        results = client.stop(all=True)
        assert all(r.ok for r in results), results
        assert _program_pids(daemon) == []
        # The adopted orphans' exits are reaped as the kernel reports them, which may be just
        # after the stop's answer (the cgroup empties when they die, before their reaping).
        wait_until(lambda: _zombie_children(daemon) == [], "the daemon reaped every child")
        status = {s.name: s for s in client.status()}
        assert {s.state for s in status.values()} == {"STOPPED"}
        kinds = [e.kind for e in client.history("children_ignore_term")]
        assert kinds[-1] == "killed"


def test_leader_exit_takes_its_group_down(tmp_path: Path) -> None:
    """A program that exits while its background child lives on: the run ends only when the
    child is gone, and the exit code is the leader's."""
    programs = """\
[programs.parent]
command = ["sh", "-c", "sleep 3600 & exit 4"]
start_seconds = 0
autorestart = "never"
stop_timeout = 1
"""
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("parent", state="EXITED", timeout=20)
        (status,) = client.status("parent")
        assert status.exit_code == 4
        assert _program_pids(daemon) == []


MANY_EXITS = "\n".join(
    f"""[programs.p{i}]
command = ["sh", "-c", "sleep 0.3 & sleep 0.2 & sleep 0.5; exit {i + 1}"]
start_seconds = 0
autorestart = "never"
"""
    for i in range(20)
)


def test_subreaper_never_steals_a_managed_exit_status(tmp_path: Path) -> None:
    """Twenty programs exit together while their orphaned children are being reaped by the
    daemon: every program's exit code is still its own."""
    with (
        running(tmp_path, MANY_EXITS, daemon_extra='containment = "subreaper"\n') as daemon,
        Client(daemon.socket, timeout=30) as client,
    ):
        names = [f"p{i}" for i in range(20)]
        client.wait(*names, state="EXITED", timeout=20)
        codes = {s.name: s.exit_code for s in client.status()}
        assert codes == {f"p{i}": i + 1 for i in range(20)}
        assert _zombie_children(daemon) == []
        assert _program_pids(daemon) == []


@pytest.mark.parametrize("containment", ["cgroup", "subreaper"])
def test_status_names_the_mechanism_in_force(tmp_path: Path, containment: str) -> None:
    if containment == "cgroup" and os.geteuid() != 0:
        pytest.skip("a writable cgroup2 tree needs root here")
    programs = '[programs.one]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
    setting = f'containment = "{containment}"\n'
    with (
        running(tmp_path, programs, daemon_extra=setting) as daemon,
        Client(daemon.socket, timeout=30) as client,
    ):
        (status,) = client.status("one")
        assert status.containment == containment


PROGRAMS_DIR = Path(__file__).resolve().parent.parent / "programs"

COUNTS_TERM = f"""\
[programs.counter]
command = ["{sys.executable}", "{PROGRAMS_DIR / "counts_term.py"}"]
start_seconds = 0
stop_timeout = 1
"""


@pytest.mark.parametrize("containment", ["cgroup", "subreaper"])
def test_a_stop_sends_the_stop_signal_once(tmp_path: Path, containment: str) -> None:
    """The program exits at a second SIGTERM: a stop must end it by SIGKILL after its timeout,
    having delivered exactly one SIGTERM."""
    if containment == "cgroup" and os.geteuid() != 0:
        pytest.skip("a writable cgroup2 tree needs root here")
    setting = f'containment = "{containment}"\n'
    with (
        running(tmp_path, COUNTS_TERM, daemon_extra=setting) as daemon,
        Client(daemon.socket, timeout=30) as client,
    ):
        client.wait("counter", state="RUNNING", timeout=20)
        deadline = time.monotonic() + 20
        while b"ready" not in (tmp_path / "logs" / "counter.stdout.log").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (result,) = client.stop("counter")
        assert result.ok
        out = (tmp_path / "logs" / "counter.stdout.log").read_text()
        assert out.count("TERM") == 1, out
        assert client.history("counter")[-1].kind == "killed"
