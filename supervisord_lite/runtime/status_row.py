"""One program's row in ``svctl status``, read from its runner's parts.

The row mixes what the lifecycle knows (state, want, pid, the last exit), what the daemon's
clocks say (uptime on trio's monotonic clock, the start time on the wall clock, so a jump of
the wall clock does not bend the uptime), the log counters, and what the program's probes last
saw. The Supervisor adds the rest (the operator's intent, the next scheduled run, the last
reload check), which it keeps itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.protocol.messages import ProgramStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.protocol.messages import LogStreamStats
    from supervisord_lite.runtime.health import Health


def status_row(
    program: ProgramConfig,
    snap: lc.Snapshot,
    *,
    spawns: int,
    logs: tuple[LogStreamStats, ...],
    containment: str,
    health: Health | None,
    ready_at: float | None,
    waiting_for: str,
    asked_at: float | None,
    clocks: tuple[float, float] | None,
    wall_clock: Callable[[], float],
) -> ProgramStatus:
    """The row of ``program`` in state ``snap`` after ``spawns`` runs, with ``logs`` its log
    counters (empty when not asked for); ``clocks`` is (trio's clock, the wall clock) read once for
    a whole status reply (read here, only for a program with a run, when None)."""
    started_at = uptime = None
    if snap.spawned_at is not None and snap.pid is not None:
        now, wall = clocks or (trio.current_time(), wall_clock())
        uptime = max(0.0, now - snap.spawned_at)
        started_at = wall - uptime
    last = snap.last_exit
    running = snap.state is lc.State.RUNNING
    return ProgramStatus(
        name=program.name,
        state=snap.state,
        want=snap.want,
        pid=snap.pid,
        started_at=started_at,
        uptime=uptime,
        exit_code=last.code if last else None,
        exit_signal=last.signal if last else None,
        message=snap.message,
        restarts=max(0, spawns - 1),
        logs=logs,
        containment=containment,
        ready=running,
        ready_since=ready_at if running else None,
        healthy=health.healthy if health is not None else None,
        probe=health.last if health is not None else None,
        notify_status=health.status_text if health is not None else None,
        waiting_for=waiting_for,
        progress=health.progress.progress() if health is not None else None,
        asked_at=asked_at,
        depends_on=dict(program.depends_on),
    )
