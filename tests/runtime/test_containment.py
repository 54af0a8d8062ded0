"""Process groups, run markers, cgroups and recovery checks, on real processes (no daemon)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest
import trio

from supervisord_lite.runtime import cgroups
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.containment import (
    RUN_MARKER,
    RunScope,
    marked_processes,
    read_marker,
    terminate,
)
from supervisord_lite.runtime.reaper import Reaper
from supervisord_lite.runtime.recovery import same_process

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def procs():
    """Popen objects started by a test; each one's process group is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _spawn(procs, script: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["sh", "-c", script], process_group=0, env={**os.environ, **(env or {})}
    )
    procs.append(proc)
    return proc


async def test_group_members_and_wait_empty(procs) -> None:
    proc = _spawn(procs, "sleep 0.4 & sleep 0.4 & sleep 0.1")
    await trio.sleep(0.05)
    members = groups.group_members(proc.pid)
    assert proc.pid in members
    assert len(members) == 4  # the shell and its three sleeps
    with trio.fail_after(10):
        await trio.to_thread.run_sync(proc.wait)
        assert groups.group_alive(proc.pid)  # the two background sleeps remain
        await groups.wait_group_empty(proc.pid)
    assert not groups.group_alive(proc.pid)
    assert groups.group_members(proc.pid) == []


async def test_signal_group_reaches_every_member(procs) -> None:
    proc = _spawn(procs, "sleep 30 & sleep 30 & wait")
    await trio.sleep(0.1)
    assert groups.signal_group(proc.pid, "TERM")
    with trio.fail_after(10):
        await groups.wait_group_empty(proc.pid)
    await trio.to_thread.run_sync(proc.wait)
    assert not groups.group_alive(proc.pid)


async def test_run_marker_is_read_from_the_environment(procs) -> None:
    proc = _spawn(procs, "sleep 30 & wait", env={RUN_MARKER: "abc:7"})
    await trio.sleep(0.1)
    assert read_marker(proc.pid) == "abc:7"
    found = marked_processes("abc:7", [proc.pid])
    assert proc.pid in found
    assert len(found) == 2  # the shell and its sleep
    assert marked_processes("abc:8", [proc.pid]) == []
    assert read_marker(os.getpid()) is None or read_marker(os.getpid()) != "abc:7"


def test_same_process_checks_the_start_time() -> None:
    me = psutil.Process()
    assert same_process(me.pid, me.create_time())
    assert not same_process(me.pid, me.create_time() - 100)
    assert not same_process(me.pid, None)


def test_cgroup2_mount_is_found_from_mountinfo(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    assert cgroups.find_cgroup2_mount(str(info)) == "/sys/fs/cgroup/unified"
    info.write_text("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n")
    assert cgroups.find_cgroup2_mount(str(info)) is None
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("4:memory:/x\n0::/system.slice/sl.service\n")
    assert cgroups.own_cgroup(str(proc_cgroup)) == "/system.slice/sl.service"


def _cgroup_tree() -> cgroups.CgroupTree:
    tree = cgroups.CgroupTree.open()
    if tree is None:
        pytest.skip(
            "no writable cgroup2 hierarchy with cgroup.kill here (needs root or delegation)"
        )
    return tree


def _start_in_cgroup(procs, group: cgroups.Cgroup) -> subprocess.Popen[bytes]:
    script = "setsid sleep 30 & sleep 30 & echo ready; wait"
    proc = subprocess.Popen(
        cgroups.trampoline(group, ["sh", "-c", script]), process_group=0, stdout=subprocess.PIPE
    )
    procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    return proc


async def test_cgroup_holds_escaped_descendants_and_kill_empties_it(procs) -> None:
    tree = _cgroup_tree()
    try:
        group = tree.create("t", 1, {})
        proc = await trio.to_thread.run_sync(_start_in_cgroup, procs, group)
        assert len(group.pids()) == 3  # the shell, the escaped sleep and the plain one
        assert group.populated()
        with trio.fail_after(10):
            assert group.signal(signal.SIGKILL)
            await group.wait_empty()
        assert not group.populated()
        await trio.to_thread.run_sync(proc.wait)
        group.remove()
        assert not await trio.Path(group.path).exists()
    finally:
        tree.close()
    assert not await trio.Path(tree.root).exists()


def test_resource_limits_map_to_cgroup_files() -> None:
    from supervisord_lite.config import load

    config = load(
        '[programs.a]\ncommand = ["true"]\nmemory_max = 1048576\npids_max = 10\ncpu_max = 0.5\n',
        base_dir="/",
    )
    assert config.programs["a"].resource_limits() == {
        "memory.max": "1048576",
        "pids.max": "10",
        "cpu.max": "50000 100000",
    }


def test_spawning_guard_defers_reaping() -> None:
    from supervisord_lite.runtime.reaper import Reaper

    reaper = Reaper()
    with reaper.spawning():
        assert reaper.reap() == 0  # deferred: a new child may not be registered yet
    assert sys.platform.startswith("linux")
    assert time.monotonic() > 0


async def test_a_stop_reaches_a_run_that_has_not_joined_its_cgroup_yet(procs) -> None:
    """A stop right after a spawn: the trampoline has not written cgroup.procs yet, so the
    cgroup is empty and only the process group holds the run."""
    tree = _cgroup_tree()
    try:
        group = tree.create("t", 2, {})
        proc = _spawn(procs, "sleep 30")  # in its own process group, not in the cgroup
        scope = RunScope(pgid=proc.pid, marker="abc:9", reaper=Reaper(), cgroup=group)
        assert not group.populated()
        scope.stop("TERM")
        with trio.fail_after(10):
            returncode = await trio.to_thread.run_sync(proc.wait)
        assert returncode == -signal.SIGTERM
        group.remove()
    finally:
        tree.close()


def _start_with_setsid_child(procs) -> tuple[subprocess.Popen[bytes], int]:
    """A TERM-ignoring shell with a child in a session of its own; (the shell, the child)."""
    script = "trap '' TERM; setsid sh -c 'echo $$; exec sleep 30' & sleep 30"
    proc = subprocess.Popen(["sh", "-c", script], process_group=0, stdout=subprocess.PIPE)
    procs.append(proc)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())  # printed once setsid has run


async def test_sigkill_reaches_a_descendant_in_another_session(procs) -> None:
    """Without a cgroup, SIGKILL also goes to descendants that left the group (a setsid child
    of a live parent is nobody's escapee yet: killing the group alone would leave it)."""
    proc, escaped = await trio.to_thread.run_sync(_start_with_setsid_child, procs)
    assert os.getsid(escaped) == escaped
    scope = RunScope(pgid=proc.pid, marker="abc:10", reaper=Reaper())
    assert escaped in scope.members()
    try:
        with trio.fail_after(10):
            assert await terminate(scope, kill_timeout=5) == []
            # Not a subreaper, this test does not adopt it: it is no member once its parent
            # died, but it was sent the SIGKILL (it would sleep on for 30 s otherwise).
            await groups.wait_pid_exit(escaped)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(escaped, signal.SIGKILL)


async def test_a_stop_signal_wakes_a_stopped_run(procs) -> None:
    proc = _spawn(procs, "sleep 30")
    os.killpg(proc.pid, signal.SIGSTOP)
    scope = RunScope(pgid=proc.pid, marker="abc:11", reaper=Reaper())
    scope.stop("TERM")
    with trio.fail_after(10):
        returncode = await trio.to_thread.run_sync(proc.wait)
    assert returncode == -signal.SIGTERM


async def test_terminate_counts_a_zombie_as_gone(procs) -> None:
    """A leftover found by its marker dies on the stop signal and stays a zombie until its
    parent (this test) reaps it: it is not a survivor."""
    proc = _spawn(procs, "exec sleep 30", env={RUN_MARKER: "abc:12"})
    scope = RunScope(pgid=None, marker="abc:12", reaper=Reaper(), adopted=False)
    assert scope.members() == [proc.pid]
    with trio.fail_after(10):
        assert await terminate(scope, stop_signal="TERM", stop_timeout=5, kill_timeout=5) == []
    assert psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE


def _lowest_free_fd() -> int:
    used = {int(fd) for fd in os.listdir("/proc/self/fd")}
    return next(n for n in range(len(used) + 1) if n not in used)


def test_reaping_out_of_descriptors_waits_for_them() -> None:
    """Out of descriptors, /proc cannot be read to list our children: the reap is put off (the
    reaper's task retries), never an error that would end the daemon."""
    import resource

    child = subprocess.Popen(["true"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    reaper = Reaper()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_lowest_free_fd(), hard))
    try:
        reaped_starved = reaper.reap()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert reaped_starved == 0
    assert reaper.reap() >= 1
    with pytest.raises(ChildProcessError):  # reaped by the reaper
        os.waitpid(child.pid, os.WNOHANG)
    child.returncode = 0  # so Popen does not wait for it again
