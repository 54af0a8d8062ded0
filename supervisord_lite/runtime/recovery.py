"""After a crash: find what the previous daemon left running, stop it, and record it as lost.

The store lists every run that had no end when the daemon died. A run's leader is trusted only
if its pid *and* its start time still match: a pid recycled by an unrelated process is left
alone. For a run that matches, its process group and every process carrying its run marker (its
escaped descendants, now orphans of init) are stopped with the normal escalation: the program's
stop signal, its stop timeout, SIGKILL, its kill timeout. Only then may the programs start
again, so a crash never leads to a second copy of a program.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import defaultdict
from typing import TYPE_CHECKING

import psutil
import trio

from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.containment import read_marker
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.spawn import PROGRAM_MARKER
from supervisord_lite.store_records import Outcome, RunEnded, RunStarted

if TYPE_CHECKING:
    from supervisord_lite.config import Config
    from supervisord_lite.runtime.containment import Containment
    from supervisord_lite.store import Store
    from supervisord_lite.store_records import LiveGroup

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
    for pid in psutil.pids():
        if pid != me and (marker := read_marker(pid)) is not None:
            found[marker].append(pid)
    return found


def _kill(pids: set[int], signame: str) -> None:
    signum = signal.Signals[f"SIG{signame}"]
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue


async def _wait_gone(pids: set[int]) -> None:
    for pid in pids:
        await groups.wait_pid_exit(pid)


async def _stop(pids: set[int], how: tuple[str, float, float]) -> set[int]:
    """Stop processes with the usual escalation; those still alive at the end."""
    stop_signal, stop_timeout, kill_timeout = how
    _kill(pids, stop_signal)
    with trio.move_on_after(stop_timeout):
        await _wait_gone(pids)
    left = {p for p in pids if psutil.pid_exists(p)}
    if left:
        _kill(left, "KILL")
        with trio.move_on_after(kill_timeout):
            await _wait_gone(left)
    return {p for p in left if psutil.pid_exists(p)}


def _targets(group: LiveGroup, containment: Containment, marked: dict[str, list[int]]) -> set[int]:
    pids = set(groups.group_members(group.pgid))
    pids.update(marked.get(containment.marker(group.run_id), ()))
    return pids


async def recover(store: Store, config: Config, containment: Containment) -> int:
    """Stop what a crashed predecessor left and close its runs as lost; how many processes
    were stopped.

    Two kinds of leftovers: runs the store lists as never ended (their leader trusted only if
    its pid and start time still match), and processes carrying this store's marker for a run
    the store never heard of (the daemon died between the spawn and the write). The state lock
    guarantees no other live daemon uses this store, so those marked processes are ours.
    """
    left = store.live_groups()
    marked = _marked_by_run()
    prefix = containment.marker(0).rsplit(":", 1)[0] + ":"
    ours = {int(m.rsplit(":", 1)[1]): pids for m, pids in marked.items() if m.startswith(prefix)}
    known = store.known_runs(list(ours))
    targets: list[tuple[str, int, set[int]]] = []
    for group in left:
        if not same_process(group.pid, group.start_time):
            log.warning(
                "%s: run %d: pid %d is gone or is now another process; nothing to stop",
                group.program,
                group.run_id,
                group.pid,
            )
            continue
        targets.append((group.program, group.run_id, _targets(group, containment, marked)))
    unrecorded = []
    for run_id, pids in ours.items():
        if run_id not in known:
            program = _program_of(pids)
            unrecorded.append(_unrecorded_run(run_id, program, pids))
            targets.append((program, run_id, set(pids)))
    async with trio.open_nursery() as nursery:
        for program, run_id, victims in targets:
            spec = config.programs.get(program)
            how = (
                (spec.stop_signal, spec.stop_timeout, spec.kill_timeout)
                if spec is not None
                else DEFAULT_STOP
            )
            log.warning(
                "%s: run %d was left running by a daemon that died: stopping pids %s",
                program,
                run_id,
                ", ".join(map(str, sorted(victims))),
            )
            nursery.start_soon(_stop_and_report, program, run_id, victims, how)
    if unrecorded:
        store.apply([op for run in unrecorded for op in run])
    if left:
        store.mark_lost([g.run_id for g in left], at=time.time(), reason=LOST_REASON)
    return sum(len(victims) for _, _, victims in targets)


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


async def _stop_and_report(
    program: str, run_id: int, pids: set[int], how: tuple[str, float, float]
) -> None:
    survivors = await _stop(pids, how)
    if survivors:
        log.error(
            "%s: run %d: could not kill pids %s",
            program,
            run_id,
            ", ".join(map(str, sorted(survivors))),
        )
