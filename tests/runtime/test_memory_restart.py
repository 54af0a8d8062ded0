"""``restart_when.memory``: a real program that allocates past its threshold is restarted
gracefully, and its history says by how much; sampled from /proc here, measured from the
cgroup's memory events where the memory controller is ours."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.runtime.cgroups import CgroupTree
from tests.daemon_harness import running, svctl
from tests.faults.common import wait_until
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite import lifecycle as lc

# Holds 48 MiB (written, so resident) and waits; says so first.
HOG = (
    f'[programs.hog]\ncommand = ["{sys.executable}", "-c", '
    '"import time; a = bytes(1) * (48 << 20); print(1, flush=True); time.sleep(3600)"]\n'
    'start_seconds = 0\nstop_signal = "INT"\n'
    'log = { stdout = "none", stderr = "none" }\n'
)


async def test_a_program_above_its_memory_is_restarted_from_samples(tmp_path: Path) -> None:
    programs = HOG + 'restart_when = { memory = "32MiB", memory_interval = 0.05 }\n'
    async with supervising(tmp_path, programs) as supervisor:
        runner = supervisor.runners["hog"]
        restarted = trio.Event()

        def heard(entered: tuple[lc.State, ...], snap: lc.Snapshot) -> bool:
            if runner.spawns >= 2:
                restarted.set()
            return restarted.is_set()

        runner.watch(heard)
        with trio.fail_after(30):
            await restarted.wait()
        history = await supervisor.store.query(lambda store: store.history("hog"))
    ended = [e for e in history if e.kind == "failed"]
    assert ended, [(e.kind, e.run_id, e.exit_signal, e.reason) for e in history]
    assert ended[0].exit_signal == "INT"  # its stop signal: a graceful stop, not an OOM kill
    assert ended[0].reason.startswith("memory ")
    assert ended[0].reason.endswith(" MiB above restart_when.memory 32.0 MiB (sampled)")
    assert "restarted" in [e.kind for e in history]


def _memory_controller() -> str:
    """Why the cgroup path cannot be tested here ("" when it can)."""
    tree = CgroupTree.open()
    if tree is None:
        return "no writable cgroup2 tree"
    try:
        if "memory" not in tree.controllers():
            return f"the cgroup v2 memory controller is not available in {tree.root}"
    finally:
        tree.close()
    return ""


NO_MEMORY_CONTROLLER = _memory_controller()


@pytest.mark.skipif(bool(NO_MEMORY_CONTROLLER), reason=NO_MEMORY_CONTROLLER or "available")
def test_a_program_above_its_memory_is_restarted_from_cgroup_events(tmp_path: Path) -> None:
    programs = HOG + 'restart_when = { memory = "32MiB", memory_interval = 3600 }\n'
    with running(tmp_path, programs, 'containment = "cgroup"\n') as daemon:

        def restarted() -> bool:
            done = svctl(daemon, "history", "hog", "--json")
            return "(cgroup)" in done.stdout and '"restarted"' in done.stdout

        # memory_interval is an hour: only the kernel's events can be that quick.
        wait_until(restarted, "a restart for the memory, told by the cgroup", within=30)
