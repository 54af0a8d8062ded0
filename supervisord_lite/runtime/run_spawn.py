"""Spawning one run of a program, with everything the run needs around its process.

``spawn.py`` starts a process from a config; a run needs more around it, in order: a run id
from the store, its log files and pipes, what its probes hand it (an ``fd`` probe's pipe, the
notify socket), a cgroup, the sockets it inherits, and the subreaper told of its leader before
anything can reap it. When any of that fails, what was made for the run is undone and the
failure becomes the lifecycle's ``SpawnFailed``: the runner only hears which event to send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from supervisord_lite import lifecycle as lc
from supervisord_lite.errors import LogPathError, SpawnError
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.spawn import spawn

if TYPE_CHECKING:
    import trio

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.containment import RunScope
    from supervisord_lite.runtime.health import Health
    from supervisord_lite.runtime.logs.pump import RunLogs
    from supervisord_lite.runtime.logs.streams import ProgramLogs
    from supervisord_lite.runtime.services import RunnerServices


@dataclass(frozen=True, slots=True)
class SpawnedRun:
    """A run whose leader started: its process, the scope its processes are signalled
    through, its output on the way to the log files, and its id in the store."""

    process: trio.Process
    scope: RunScope
    logs: RunLogs
    run_id: int


async def spawn_run(
    program: ProgramConfig,
    services: RunnerServices,
    logs: ProgramLogs,
    health: Health | None,
) -> SpawnedRun | lc.SpawnFailed:
    """Spawn a run of ``program``: the run, or the ``SpawnFailed`` to send for it.

    The run's log pumps are started in the daemon's nursery; a cgroup made for a run that did
    not start is removed. Errors other than a spawn or log path failure propagate.
    """
    containment = services.containment
    run_id = services.store.store.allocate_run_id()
    run_logs: RunLogs | None = None
    cgroup = None
    given = None
    spawned = False
    try:
        run_logs = logs.open_run()
        given = health.prepare_spawn() if health is not None else None
        cgroup = containment.cgroup_for(program, run_id)
        with containment.reaper.spawning():
            process = await spawn(
                program,
                cwd=services.base_dir,
                stdout=run_logs.stdout,
                stderr=run_logs.stderr,
                marker=containment.marker(run_id),
                cgroup=cgroup,
                extra_env=health.env() if health is not None else None,
                give_fd=given,
                sockets=(
                    services.listeners.handed(program) if services.listeners is not None else ()
                ),
            )
            containment.reaper.manage(process.pid)
        spawned = True
        logs.start_run(run_logs, services.nursery)  # before the finally drops unused pipes
    except (SpawnError, LogPathError) as exc:
        if cgroup is not None:
            cgroup.remove()
        log.error("%s: %s", program.name, exc)
        return lc.SpawnFailed(reason=str(exc))
    finally:
        if run_logs is not None:
            run_logs.close_child_ends()  # the child has them; EOF must not wait for us
        if health is not None:
            health.spawned(given, spawned)
    scope = containment.scope(process.pid, run_id, cgroup)
    return SpawnedRun(process=process, scope=scope, logs=run_logs, run_id=run_id)
