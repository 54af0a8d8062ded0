"""Out of resources while spawning: no descriptors left (RLIMIT_NOFILE lowered on the running
daemon), no process slot left (a pids limit): the spawn is a failed start of that program
(recorded with the error, backoff, FATAL after the retries), never the daemon's end; once the
resource is back the program starts again."""

from __future__ import annotations

import contextlib
import os
import resource
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from svctl import Client
from tests.daemon_harness import running
from tests.faults.common import CONTAINMENT_MODES

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.daemon_harness import Daemon

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0

[programs.late]
command = ["sleep", "3600"]
autostart = false
start_seconds = 0
start_retries = 2
backoff = { initial = 0.05, floor = 0.05, max = 0.1 }
"""


def _lowest_free_fd(pid: int) -> int:
    used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
    return next(n for n in range(len(used) + 1) if n not in used)


@contextlib.contextmanager
def _no_new_descriptors(pid: int) -> Iterator[None]:
    """The process may keep the descriptors it has, but open no other (prlimit on it)."""
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (_lowest_free_fd(pid), hard))
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))


def _exhausted_start(
    daemon: Daemon, client: Client, limit: contextlib.AbstractContextManager[None]
) -> str:
    """Start ``late`` under ``limit``: it fails and ends FATAL while the daemon lives on; the
    recorded reason of its failure."""
    client.wait("web", state="RUNNING", timeout=20)
    client.start("late")  # its log files are opened once, as by any earlier run
    client.stop("late")
    with limit:
        (result,) = client.start("late")
        assert not result.ok, result
        assert result.state == "FATAL", result
        assert daemon.process.poll() is None, daemon.log()
        assert client.status("web")[0].state == "RUNNING"
    (result,) = client.start("late")
    assert result.ok, (result, daemon.log())
    fatal = [e for e in client.history("late", limit=20) if e.kind == "fatal"]
    assert fatal, client.history("late", limit=20)
    return fatal[-1].reason


@pytest.mark.parametrize("containment", CONTAINMENT_MODES)
def test_out_of_descriptors_is_a_failed_start(tmp_path: Path, containment: str) -> None:
    extra = f'containment = "{containment}"\n'
    with (
        running(tmp_path, PROGRAMS, daemon_extra=extra) as daemon,
        Client(daemon.socket, timeout=30) as client,  # connected before the limit
    ):
        reason = _exhausted_start(daemon, client, _no_new_descriptors(daemon.process.pid))
        assert "Too many open files" in reason, reason


PIDS_ROOT = "/sys/fs/cgroup/pids"


@contextlib.contextmanager
def _no_new_tasks(pid: int) -> Iterator[None]:
    """The process (and its threads) may fork or start nothing more: a v1 pids cgroup whose
    pids.max is what it holds now."""
    group = os.path.join(PIDS_ROOT, f"svl-test-{uuid.uuid4().hex[:8]}")
    with open(f"/proc/{pid}/cgroup") as f:
        home = next(line.split(":", 2)[2].strip() for line in f if ":pids:" in line)
    os.mkdir(group)
    try:
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        with open(os.path.join(group, "pids.current")) as f:
            current = f.read().strip()
        with open(os.path.join(group, "pids.max"), "w") as f:
            f.write(current)
        yield
    finally:
        home_procs = os.path.join(PIDS_ROOT, home.lstrip("/"), "cgroup.procs")
        with contextlib.suppress(ProcessLookupError), open(home_procs, "w") as f:
            f.write(str(pid))  # back home, unless it is gone
        os.rmdir(group)


@pytest.mark.skipif(
    not os.access(PIDS_ROOT, os.W_OK), reason="no writable v1 pids hierarchy (needs root)"
)
@pytest.mark.parametrize("containment", CONTAINMENT_MODES)
def test_no_process_slot_left_is_a_failed_start(tmp_path: Path, containment: str) -> None:
    extra = f'containment = "{containment}"\n'
    with (
        running(tmp_path, PROGRAMS, daemon_extra=extra) as daemon,
        Client(daemon.socket, timeout=30) as client,
    ):
        reason = _exhausted_start(daemon, client, _no_new_tasks(daemon.process.pid))
        # The spawn runs in one of trio's worker threads: when the store writer holds the idle
        # one (the start's STARTING event is being written to the event log), what fails first
        # is starting a thread, else the fork itself. Either way no task could be started.
        assert "Resource temporarily unavailable" in reason or "new thread" in reason, reason


@pytest.mark.skipif(
    not os.access(PIDS_ROOT, os.W_OK), reason="no writable v1 pids hierarchy (needs root)"
)
@pytest.mark.timeout(90)
def test_no_thread_for_the_store_holds_its_records_back(tmp_path: Path) -> None:
    with (
        running(tmp_path, PROGRAMS) as daemon,
        Client(daemon.socket, timeout=30) as client,
    ):
        client.wait("web", state="RUNNING", timeout=20)
        client.history("web", limit=1)  # the store is written up to here
        time.sleep(TRIO_THREAD_IDLE + 1)  # trio's idle worker threads are gone by now
        with _no_new_tasks(daemon.process.pid):
            (result,) = client.start("late")  # no spawn, and no thread to write the store
            assert not result.ok, result
            assert daemon.process.poll() is None, daemon.log()
        assert "cannot start a worker thread" in daemon.log()
        client.shutdown(wait=True)
        assert daemon.process.wait(timeout=30) == 0, daemon.log()
    assert "state store: writing again (0 records still held back)" in daemon.log()


#: How long trio keeps an idle worker thread before it exits (trio's own constant).
TRIO_THREAD_IDLE = 10
