"""What a program runner tells the rest of the daemon, handed on where it goes.

``reports.py`` turns a lifecycle step into records and events without touching anything; these
functions stamp them with the wall clock and hand them on: a record to the store writer, an
event to the event log (whose subscribers and webhooks follow it), a transition also as a line
of the daemon's log. None of them waits: the store writer and the event log queue what they
are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.reports import describe_transition, noted, state_changed, store_op
from supervisord_lite.store_records import EventRecorded

if TYPE_CHECKING:
    from supervisord_lite import lifecycle as lc
    from supervisord_lite.runtime.cgroups import Cgroup
    from supervisord_lite.runtime.services import RunnerServices


def record_step(
    services: RunnerServices,
    name: str,
    record: lc.Record,
    before: lc.Snapshot,
    after: lc.Snapshot,
) -> None:
    """Write a step's ``Record`` (a spawn, a run's end...) to the store."""
    at = services.wall_clock()
    op = store_op(name, record, before, after, at=at, start_time=groups.start_time)
    services.store.submit(op)


def publish_transition(
    services: RunnerServices,
    name: str,
    old: lc.State,
    new: lc.State,
    snap: lc.Snapshot,
    *,
    ended: lc.ExitStatus | None,
    pid: int | None,
) -> None:
    """Log a transition and publish it; ``ended`` is how the run ended when the transition is
    its end, ``pid`` the process the event is about."""
    log.info("%s: %s", name, describe_transition(old, new, snap))
    at = services.wall_clock()
    services.events.publish(state_changed(name, old, new, snap, at=at, ended=ended, pid=pid))


def publish_waiting(services: RunnerServices, name: str, snap: lc.Snapshot, why: str) -> None:
    """Publish that the program waits for, or was stopped by, a dependency (``why``)."""
    at = services.wall_clock()
    services.events.publish(noted(name, snap, "dependency", why, at=at))


def record_oom_kills(services: RunnerServices, name: str, pid: int, cgroup: Cgroup | None) -> None:
    """After a run's leader ``pid`` is reaped: record what the kernel's OOM killer took from
    the run's ``cgroup``, if anything."""
    if cgroup is not None and (oom := cgroup.oom_kills()):
        services.store.submit(
            EventRecorded(
                program=name,
                kind="oom_killed",
                at=services.wall_clock(),
                pid=pid,
                pgid=pid,
                reason=f"{oom} process(es) killed by the kernel's OOM killer",
            )
        )
