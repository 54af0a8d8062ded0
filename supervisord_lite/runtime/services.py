"""What every program runner of a daemon shares, in one bundle the Supervisor builds once.

A runner holds no task, nursery, timer or watcher of its own: it borrows these. ``nursery`` is
where a runner starts the few tasks that must await (a spawn, the end of a run that outlives its
leader, draining its logs when it retires); ``fdwatch`` watches every pipe and pidfd of the
daemon from one task; ``deadlines`` runs every program's timer on one timerfd.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import trio

    from supervisord_lite.runtime.containment import Containment
    from supervisord_lite.runtime.deadlines import Deadlines
    from supervisord_lite.runtime.eventlog import EventLog
    from supervisord_lite.runtime.fdwatch import FdWatch
    from supervisord_lite.runtime.listeners import Listeners
    from supervisord_lite.runtime.logs.fanout import LogFanOut
    from supervisord_lite.runtime.notifysocket import NotifySockets
    from supervisord_lite.runtime.storewriter import StoreWriter


@dataclass(frozen=True, slots=True)
class RunnerServices:
    """See the module docstring. ``base_dir`` is the working folder of a program that names
    none (the config file's folder); ``spawn_slots`` bounds the spawns in flight at once."""

    nursery: trio.Nursery
    base_dir: str
    store: StoreWriter
    events: EventLog
    containment: Containment
    log_fanout: LogFanOut
    fdwatch: FdWatch
    deadlines: Deadlines
    spawn_slots: trio.CapacityLimiter
    notify: NotifySockets | None = None
    listeners: Listeners | None = None
    wall_clock: Callable[[], float] = field(default=time.time)
    #: Told the name of a program whose state changed, after the step (the daemon's exit rule).
    on_state: Callable[[str], None] | None = None
