"""One scrape's view of the daemon, read on the event loop in one go.

``gather`` reads only what the daemon already keeps in memory (the supervisor's ``status``,
each runner's snapshot, the counters of the control server, the store writer and the fan-out),
with no await between the reads, so a scrape sees one consistent moment. Everything it returns
is a plain value: the slow part (reading /proc and cgroup files, formatting) then runs in a
worker thread without touching the daemon's objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from supervisord_lite import __version__
from supervisord_lite.runtime.metrics.usage import RunRef, current_runs

if TYPE_CHECKING:
    from supervisord_lite.protocol.messages import ProgramStatus
    from supervisord_lite.runtime.control import ControlServer, ControlStatistics
    from supervisord_lite.runtime.fanout import FanOutStatistics
    from supervisord_lite.runtime.metrics.requests import Latencies, RequestMeter
    from supervisord_lite.runtime.metrics.runs import RunCounters, RunCounts
    from supervisord_lite.runtime.storewriter import StoreWriter, StoreWriterStatistics
    from supervisord_lite.runtime.supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class Sources:
    """The daemon's parts a scrape reads."""

    supervisor: Supervisor
    store: StoreWriter
    control: ControlServer
    runs: RunCounters
    requests: RequestMeter
    store_writes: Latencies


@dataclass(frozen=True, slots=True)
class Scrape:
    """See the module docstring."""

    version: str
    containment: str
    shutting_down: bool
    programs: tuple[ProgramStatus, ...]
    counts: dict[str, RunCounts]
    runs: tuple[RunRef, ...]
    loop_lag: float
    tasks_living: int
    tasks_runnable: int
    control: ControlStatistics
    requests: dict[tuple[str, str], int]
    latencies: dict[str, Latencies]
    store: StoreWriterStatistics
    store_writes: Latencies
    events: FanOutStatistics
    #: program -> probe (``ready``, ``liveness``) -> failed looks.
    probe_failures: dict[str, dict[str, int]]


async def loop_lag() -> float:
    """How long a task that is ready to run waits for its turn now: the time one pass through
    the event loop's run queue takes (a yield and the wakeup after it)."""
    start = trio.current_time()
    await trio.lowlevel.cancel_shielded_checkpoint()
    return trio.current_time() - start


async def gather(sources: Sources) -> Scrape:
    """See the module docstring."""
    lag = await loop_lag()
    supervisor = sources.supervisor
    programs = supervisor.status(stats=True)
    sources.runs.prune({p.name for p in programs})
    stats = trio.lowlevel.current_statistics()
    return Scrape(
        version=__version__,
        containment=supervisor.containment.mechanism,
        shutting_down=supervisor.shutting_down,
        programs=programs,
        counts={p.name: sources.runs.get(p.name) for p in programs},
        runs=current_runs(supervisor),
        loop_lag=lag,
        tasks_living=stats.tasks_living,
        tasks_runnable=stats.tasks_runnable,
        control=sources.control.statistics(),
        requests=dict(sources.requests.outcomes),
        latencies={op: h.copy() for op, h in sources.requests.latencies.items()},
        store=sources.store.statistics(),
        store_writes=sources.store_writes.copy(),
        events=supervisor.events.statistics(),
        probe_failures={r.name: r.probe_failures for r in supervisor.runners.values()},
    )
