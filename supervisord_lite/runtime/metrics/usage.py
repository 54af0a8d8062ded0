"""CPU time, memory and process count of each program's current run, read at scrape time.

A run with a cgroup is measured by the kernel's own accounting: ``cpu.stat`` (``usage_usec``
covers every process the run ever had, exited ones included) and ``memory.current`` where the
memory controller is on for it; without that controller, memory is the resident set of the
processes in ``cgroup.procs``. A run without a cgroup is its process group and every descendant
of its members, found in one pass over the host's processes (done only when such a run exists);
its CPU time is what those processes used plus what their reaped children used, so CPU time
of a descendant reaped by the daemon itself is not in it.

``measure`` does blocking file reads: it is called in a worker thread, with plain values
gathered on the event loop (``current_runs``). Processes that vanish while being read are
simply not counted: a scrape sees a moment. ``with_usage`` does both for a status request
that asks for usage (``Status(usage=True)``, ``svctl top``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
import psutil
import trio

from supervisord_lite.protocol.messages import RunUsage
from supervisord_lite.runtime import process_groups as groups

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

    from supervisord_lite.protocol.messages import ProgramStatus
    from supervisord_lite.runtime.supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class RunRef:
    """Where to find a program's current run: its process group, and its cgroup if it has one."""

    program: str
    pgid: int
    cgroup: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What one run uses now; ``source`` is ``cgroup`` or ``processes``."""

    cpu_seconds: float
    memory_bytes: int
    processes: int
    source: str


def current_runs(
    supervisor: Supervisor, names: Collection[str] | None = None
) -> tuple[RunRef, ...]:
    """Where the current run of each program (of ``names``, or all) is; a program with no
    run alive is left out. On the event loop: it reads the runners' snapshots."""
    tree = supervisor.containment.tree
    runs = []
    for runner in supervisor.runners.values():
        snap = runner.snapshot
        if snap.pgid is None or (names is not None and runner.name not in names):
            continue
        cgroup = None
        if tree is not None and snap.run_id is not None:
            cgroup = tree.run_path(runner.name, snap.run_id)
        runs.append(RunRef(runner.name, snap.pgid, cgroup))
    return tuple(runs)


async def with_usage(
    supervisor: Supervisor, programs: tuple[ProgramStatus, ...]
) -> tuple[ProgramStatus, ...]:
    """``programs`` with the usage of their current runs, measured in a worker thread."""
    runs = current_runs(supervisor, {p.name for p in programs})
    found = await trio.to_thread.run_sync(measure, runs) if runs else {}
    return tuple(
        msgspec.structs.replace(
            p,
            usage=RunUsage(
                cpu_seconds=u.cpu_seconds, memory_bytes=u.memory_bytes, processes=u.processes
            ),
        )
        if (u := found.get(p.name)) is not None
        else p
        for p in programs
    )


def measure(runs: Sequence[RunRef]) -> dict[str, Usage]:
    """Each run's usage, by program name."""
    found: dict[str, Usage] = {}
    by_tree: list[RunRef] = []
    for run in runs:
        usage = _from_cgroup(run.cgroup) if run.cgroup is not None else None
        if usage is None:
            by_tree.append(run)
        else:
            found[run.program] = usage
    if by_tree:
        trees = _trees({run.pgid for run in by_tree})
        for run in by_tree:
            found[run.program] = _from_processes(trees.get(run.pgid, []), "processes")
    return found


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the run ended and its cgroup is gone, or the file is not offered here
        return None


def _from_cgroup(path: str) -> Usage | None:
    """The run's usage from its cgroup; None when the cgroup is gone (the caller falls back)."""
    stat = _read(os.path.join(path, "cpu.stat"))
    procs = _read(os.path.join(path, "cgroup.procs"))
    if stat is None or procs is None:
        return None
    usec = 0
    for line in stat.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            usec = int(value)
            break
    pids = [int(p) for p in procs.split()]
    # memory.current is there only where the memory controller is on for the run.
    current = _read(os.path.join(path, "memory.current"))
    memory = int(current) if current is not None else _from_processes(pids, "cgroup").memory_bytes
    return Usage(usec / 1e6, memory, len(pids), "cgroup")


def _trees(pgids: set[int]) -> dict[int, list[int]]:
    """For each process group: its members and all their descendants, from one pass over the
    host's processes."""
    table = groups.live_processes()
    members: dict[int, set[int]] = {}
    for pid, (_, pgid) in table.items():
        if pgid in pgids:
            members.setdefault(pgid, set()).add(pid)
    return {pgid: sorted(groups.with_descendants(found, table)) for pgid, found in members.items()}


def _from_processes(pids: Iterable[int], source: str) -> Usage:
    cpu = 0.0
    memory = 0
    count = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                rss = process.memory_info().rss
        except psutil.Error:
            continue  # it exited meanwhile
        cpu += times.user + times.system + times.children_user + times.children_system
        memory += rss
        count += 1
    return Usage(cpu, memory, count, source)
