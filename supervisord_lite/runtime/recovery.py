"""After a crash: find what the previous daemon left running, stop it, and record it as lost.

Three sources name the leftovers, and a run found by any of them is stopped:

- the store's runs that had no end when the daemon died; a run's leader (and so its process
  group) is trusted only if its pid *and* its start time still match, since a pid recycled by
  an unrelated process must be left alone;
- every live process carrying this store's run marker, wherever it went (the leader may be
  long gone: a worker whose parent shell died still carries its run's marker);
- the crashed daemon's cgroup tree (named in the state lock file, or found from a marked
  process' cgroup): every run cgroup in it that still holds a process.

Each run is stopped through its containment with the normal escalation
(``containment.terminate``: the program's stop signal, its stop timeout, SIGKILL, its kill
timeout), then the crashed daemon's cgroup folders are removed. Only then may the programs
start again, so a crash never leads to a second copy of a program.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psutil
import trio

from supervisord_lite.replicas import program_of
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.cgroups import (
    Cgroup,
    CgroupTree,
    cgroup_of,
    find_cgroup2_mount,
    is_tree,
)
from supervisord_lite.runtime.containment import RunScope, read_marker, terminate
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.spawn import PROGRAM_MARKER
from supervisord_lite.store_records import Outcome, RunEnded, RunStarted

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supervisord_lite.config import Config
    from supervisord_lite.runtime.containment import Containment
    from supervisord_lite.store import Store

LOST_REASON = "exit unknown: supervisor crashed"
DEFAULT_STOP = ("TERM", 10.0, 5.0)


def same_process(pid: int, start_time: float | None) -> bool:
    """Whether ``pid`` is still the process that was started at ``start_time``."""
    if start_time is None:
        return False
    now = groups.start_time(pid)
    return now is not None and abs(now - start_time) < 0.01


def _marked_by_run() -> dict[str, list[int]]:
    """Every live process that carries a run marker, by marker (one pass over /proc)."""
    found: dict[str, list[int]] = defaultdict(list)
    me = os.getpid()
    for pid in groups.live_processes():
        if pid != me and (marker := read_marker(pid)) is not None:
            found[marker].append(pid)
    return found


@dataclass(slots=True)
class _Leftover:
    """One run of the crashed daemon, as far as the three sources tell."""

    program: str
    run_id: int
    pgid: int | None = None
    cgroup: Cgroup | None = None
    recorded: bool = False
    marked: set[int] = field(default_factory=set)


def _run_cgroup(pids: set[int], mount: str | None, own_tree: str | None) -> Cgroup | None:
    """The cgroup a crashed daemon made for a run, from where its processes are."""
    if mount is None:
        return None
    for pid in sorted(pids):
        path = cgroup_of(pid, mount)
        tree = os.path.dirname(path) if path is not None else None
        if path is not None and tree is not None and is_tree(tree) and tree != own_tree:
            return Cgroup(path)
    return None


def _trees(named: Sequence[str], mount: str | None, own_tree: str | None) -> set[str]:
    """The crashed daemons' trees named in the lock file that are trees under the mount."""
    if mount is None:
        return set()
    prefix = mount.rstrip("/") + "/"
    return {t for t in named if t.startswith(prefix) and is_tree(t) and t != own_tree}


async def recover(
    store: Store, config: Config, containment: Containment, trees: Sequence[str] = ()
) -> list[str]:
    """Stop what a crashed predecessor left and close its runs as lost; the crashed daemons'
    cgroup trees that could not be removed (still in use).

    ``trees`` are the cgroup trees the crashed daemon recorded (see the module docstring).
    The state lock guarantees no other live daemon uses this store, so every process marked
    for it, and every process in those trees, is a leftover.
    """
    mount = find_cgroup2_mount()
    own_tree = containment.tree.root if containment.tree is not None else None
    old_trees = _trees(trees, mount, own_tree)
    runs: dict[int, _Leftover] = {}
    live = store.live_groups()
    for group in live:
        run = runs[group.run_id] = _Leftover(group.program, group.run_id, recorded=True)
        if same_process(group.pid, group.start_time):
            run.pgid = group.pgid
        else:
            log.warning(
                "%s: run %d: pid %d is gone or is now another process; "
                "looking for the run's other processes by its marker",
                group.program,
                group.run_id,
                group.pid,
            )
    for marker, pids in _marked_by_run().items():
        run_id = containment.run_id(marker)
        if run_id is None:
            continue
        if run_id not in runs:
            runs[run_id] = _Leftover(_program_of(pids), run_id)
        runs[run_id].marked.update(pids)
    for run in runs.values():
        run.cgroup = _run_cgroup(run.marked, mount, own_tree)
        if run.cgroup is not None:
            old_trees.add(os.path.dirname(run.cgroup.path))
    for tree in old_trees:
        for program, run_id, cgroup in CgroupTree(tree).runs():
            if cgroup.populated():
                run = runs.setdefault(run_id, _Leftover(program, run_id))
                run.cgroup = run.cgroup or cgroup
    unknown = [r for r in runs.values() if not r.recorded]
    for run_id in store.known_runs([r.run_id for r in unknown]):
        runs[run_id].recorded = True
    unrecorded: list[RunStarted | RunEnded] = []
    async with trio.open_nursery() as nursery:
        for run in runs.values():
            scope = RunScope(
                pgid=run.pgid,
                marker=containment.marker(run.run_id),
                reaper=containment.reaper,
                cgroup=run.cgroup,
                adopted=False,
            )
            victims = scope.members()
            if not victims:
                continue
            if not run.recorded:
                unrecorded.extend(_unrecorded_run(run.run_id, run.program, victims))
            log.warning(
                "%s: run %d was left running by a daemon that died: stopping pids %s%s",
                run.program,
                run.run_id,
                ", ".join(map(str, victims)),
                f" (cgroup {run.cgroup.path})" if run.cgroup is not None else "",
            )
            nursery.start_soon(_stop_and_report, config, run, scope)
    store.apply(unrecorded)
    store.mark_lost([g.run_id for g in live], at=time.time(), reason=LOST_REASON)
    return [tree for tree in sorted(old_trees) if not CgroupTree(tree).close()]


def _unrecorded_run(run_id: int, program: str, pids: list[int]) -> tuple[RunStarted, RunEnded]:
    """The history of a run the crashed daemon had no time to record: started, then lost."""
    leader = min(pids)
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                leader = pid
                break
    try:
        started = psutil.Process(leader).create_time()
    except psutil.Error:
        started = time.time()
    return (
        RunStarted(
            run_id=run_id, program=program, pid=leader, pgid=leader, at=started, start_time=started
        ),
        RunEnded(
            run_id=run_id, program=program, outcome=Outcome.LOST, at=time.time(), reason=LOST_REASON
        ),
    )


def _program_of(pids: list[int]) -> str:
    """The program a marked process belongs to, from its environment."""
    for pid in pids:
        try:
            name = psutil.Process(pid).environ().get(PROGRAM_MARKER)
        except psutil.Error:
            continue
        if name:
            return name
    return "?"


async def _stop_and_report(config: Config, run: _Leftover, scope: RunScope) -> None:
    spec = config.programs.get(program_of(run.program))
    stop_signal, stop_timeout, kill_timeout = (
        (spec.stop_signal, spec.stop_timeout, spec.kill_timeout)
        if spec is not None
        else DEFAULT_STOP
    )
    survivors = await terminate(
        scope, stop_signal=stop_signal, stop_timeout=stop_timeout, kill_timeout=kill_timeout
    )
    if survivors:
        log.error(
            "%s: run %d: could not kill pids %s",
            run.program,
            run.run_id,
            ", ".join(map(str, survivors)),
        )
