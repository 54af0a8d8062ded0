"""The programs brought up at boot and down at shutdown, in priority and dependency order.

Boot starts what the operator's intent (intent.py), or else ``autostart``, wants up, a priority
group at a time, highest first. Shutdown runs the other way: dependents stop before what they
need (dependencies.py), lowest priority first within that, each group concurrently; the runs
still alive at the shutdown timeout are SIGKILLed through their containment (containment.py).
The daemon's start-up and shutdown around these are in runtime/__init__.py.
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING

from supervisord_lite.errors import StoreError
from supervisord_lite.runtime import exit_rules, replicasets, runner_requests
from supervisord_lite.runtime.concurrently import gather
from supervisord_lite.runtime.containment import terminate
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.store import Store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supervisord_lite.runtime.containment import RunScope
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["boot", "by_priority", "kill_survivors", "load_state", "stop_all", "wait_retired"]


def by_priority(runners: Sequence[ProgramRunner], *, descending: bool) -> list[list[ProgramRunner]]:
    """``runners`` in groups of one priority each, highest first with ``descending``."""
    ordered = sorted(runners, key=lambda r: r.program.priority, reverse=descending)
    return [list(g) for _, g in itertools.groupby(ordered, key=lambda r: r.program.priority)]


async def load_state(sup: Supervisor) -> None:
    """Read what the store keeps for the programs (the replicated programs' instance
    counts, the operator's intents, the scheduled programs' last runs) and arm the
    schedules and watches. The Supervisor calls it once, before the control server answers, so
    no client sees a program before the daemon knows what it wants."""
    try:
        kept = await sup.store.query(Store.replica_counts)
    except StoreError as exc:
        log.error("cannot read the kept replica counts, the config's apply: %s", exc)
    else:
        replicasets.restore(sup, kept)
    await sup.intents.load(sup.runners)
    await sup.scheduler.open()
    sup.watches.refresh()


async def boot(sup: Supervisor) -> None:
    """Start the programs the operator's intent (intent.py), or else ``autostart``, wants
    up, a priority group at a time, highest first; return once each was spawned (or failed
    to be), so READY=1 means the programs are launched. The store's state is loaded first."""
    autostart = [r for r in sup.runners.values() if sup.intents.wants_up(r.program)]
    for group in by_priority(autostart, descending=True):
        sent = [r for r in group if sup.gate.want_up(r) is None]
        for runner in sent:
            await runner.wait_spawned()
    sup.booted = True
    exit_rules.judge_exit(sup, None)


async def stop_all(sup: Supervisor) -> None:
    """Refuse new work, stop every program (lowest priority first, each priority group
    concurrently) and retire the runners. Callers bound it with a cancel scope and then call
    ``kill_survivors``."""
    sup.shutting_down = True
    sup.watches.close()
    for level in reversed(sup.gate.graph.levels()):
        in_level = [sup.runners[n] for n in level if n in sup.runners]
        for group in by_priority(in_level, descending=False):
            await gather([functools.partial(runner_requests.stop_one, sup, r, True) for r in group])
    for runner in sup.runners.values():
        await runner.wait_hooks()  # a post_stop under way (each bounded by its timeout)
    for runner in sup.runners.values():
        runner.retire()


async def kill_survivors(sup: Supervisor) -> list[str]:
    """SIGKILL every run still alive through its containment (its cgroup, or its group,
    their descendants and its escapees) and wait for them, each up to its program's
    kill_timeout; the runs that were still alive, as "name (pgid N)"."""
    owners = {
        sup.containment.marker(r.snapshot.run_id): r
        for r in sup.runners.values()
        if r.snapshot.run_id is not None
    }
    fallback = max((r.program.kill_timeout for r in sup.runners.values()), default=0.0)
    survivors = [s for s in list(sup.containment.live.values()) if s.alive()]

    async def kill(scope: RunScope) -> None:
        owner = owners.get(scope.marker)
        timeout = owner.program.kill_timeout if owner is not None else fallback
        if not await terminate(scope, kill_timeout=timeout):
            scope.release()

    await gather([functools.partial(kill, s) for s in survivors])
    for runner in sup.runners.values():
        runner.retire()
    return [
        f"{owner.name if (owner := owners.get(s.marker)) else s.marker} (pgid {s.pgid})"
        for s in survivors
    ]


async def wait_retired(sup: Supervisor) -> None:
    """Wait until the retired runners' tasks ended; each first drains its log queues to
    its files (bounded), so followers see a program's last output; then close the
    handed-over sockets. Callers bound it."""
    try:
        for runner in list(sup.runners.values()):
            await runner.finished.wait()
    finally:
        sup.listeners.close()
