"""``restart_when.memory`` carried out: a run that stays above its threshold is told to the
lifecycle (``OverMemory``), which restarts it gracefully.

Only a RUNNING program is looked at, one run at a time; nothing is looked at otherwise.

Where the run has a cgroup of its own with the memory controller, the threshold is its
``memory.high`` (written when the cgroup is made: containment.py). Above it the kernel reclaims
the run's memory and counts it in ``memory.events`` (``high``); every change of that file is a
file-modified event, which inotify delivers as a readable descriptor (as for ``cgroup.events``:
cgroups.py). Only then is ``memory.current`` read: still above the threshold, the run is over
its memory. Nothing runs between two events.

Elsewhere the kernel tells nothing about a process tree's memory, so it is sampled: every
``memory_interval`` seconds the resident set sizes of the run's processes (its cgroup's, or its
leader's tree and its adopted escapees) are read from /proc and summed; two samples in a row
above the threshold make the run over its memory, so a short peak is not enough. Each sample is
a wake-up and a few small reads per process of the run: its idle cost grows with the number of
such programs divided by the interval.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Final

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.cgroups import Cgroup
    from supervisord_lite.runtime.containment import RunScope
    from supervisord_lite.runtime.services import RunnerServices

__all__ = ["MemoryWatch", "run_pids", "tree_rss"]

_PAGE: Final = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    """A process' resident set size in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _children(pid: int) -> list[int]:
    """A process' children (of all its threads); none once it is gone."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return found


def _tree(roots: Iterable[int]) -> set[int]:
    """``roots`` and all their descendants, walked through /proc/PID/task/TID/children."""
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(_children(pid))
    return seen


def run_pids(scope: RunScope) -> set[int]:
    """The processes of a run: its cgroup's, else its leader's tree and its escapees'."""
    if scope.cgroup is not None:
        pids = scope.cgroup.pids()
        if pids:
            return set(pids)
    roots = set(scope.escaped())
    if scope.pgid is not None:
        roots.add(scope.pgid)  # the leader's pid is its group's id
    return _tree(roots)


def tree_rss(scope: RunScope) -> int:
    """The resident set sizes of a run's processes, summed (shared pages count in each)."""
    return sum(_rss(pid) for pid in run_pids(scope))


class MemoryWatch:
    """Watches the memory of one program's RUNNING run; see the module docstring."""

    __slots__ = ("_program", "_send", "_services", "_watching")

    def __init__(
        self,
        program: ProgramConfig,
        services: RunnerServices,
        send: Callable[[lc.Event], None],
    ) -> None:
        self._program = program
        self._services = services
        self._send = send
        self._watching: tuple[int, trio.CancelScope] | None = None

    def on_step(self, snap: lc.Snapshot, scope: RunScope | None) -> None:
        """Watch the run while the program is RUNNING; stop watching otherwise."""
        run_id = snap.run_id
        if snap.state is lc.State.RUNNING and scope is not None and run_id is not None:
            if self._watching is not None and self._watching[0] == run_id:
                return
            self.close()
            cancel = trio.CancelScope()
            self._watching = (run_id, cancel)
            self._services.nursery.start_soon(
                self._watch, scope, cancel, name=f"memory {self._program.name}"
            )
        else:
            self.close()

    def close(self) -> None:
        if self._watching is not None:
            self._watching[1].cancel()
            self._watching = None

    async def _watch(self, scope: RunScope, cancel: trio.CancelScope) -> None:
        with cancel:
            limit = self._program.restart_when.memory
            assert limit is not None
            cgroup = scope.cgroup
            if cgroup is not None and cgroup.memory_current() is not None:
                found = await self._from_events(cgroup, limit)
            else:
                found = await self._sampled(scope, limit)
            used, source = found
            log.warning(
                "%s: memory %d bytes above restart_when.memory %d (%s): restarting",
                self._program.name,
                used,
                limit,
                source,
            )
            self._watching = None
            self._send(lc.OverMemory(used=used, limit=limit, source=source))

    async def _from_events(self, cgroup: Cgroup, limit: int) -> tuple[int, str]:
        """Wait for the kernel's events on memory.events until memory.current is above."""
        fd = cgroup.watch_file("memory.events")
        try:
            while True:
                used = cgroup.memory_current()
                if used is not None and used > limit:
                    return used, "cgroup"
                await trio.lowlevel.wait_readable(fd)
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 4096)
        finally:
            os.close(fd)

    async def _sampled(self, scope: RunScope, limit: int) -> tuple[int, str]:
        """Sample every ``memory_interval`` until two samples in a row are above."""
        interval = self._program.restart_when.memory_interval
        above = False
        while True:
            try:
                used = tree_rss(scope)  # small /proc reads: not worth a thread
            except OSError as exc:
                if exc.errno not in groups.OUT_OF_FDS:
                    raise
                used = 0  # out of descriptors: look again next time
            if used > limit and above:
                return used, "sampled"
            above = used > limit
            await trio.sleep(interval)
