"""Scheduled programs (``schedule``, ``every``): each waits on a trio deadline for its next due
time, then is started, once.

One task per scheduled program, in the daemon's nursery, asleep until its next due time
(``schedules.py`` computes it; nothing is polled). At a due time the run is started through
the dependency gate, as an operator's start would be, unless:

- the previous run is still going (STARTING, RUNNING, BACKOFF, STOPPING): the due run is
  skipped and recorded (``schedule_skipped``), so two runs never overlap; with ``overlap``
  it starts beside it instead (overlapping.py), unless ``overlap_max`` runs go already
  (then it is skipped and recorded so);
- the operator stopped the program (its intent is down, runtime/intent.py): the schedule is
  paused until the operator starts it again.

Every due time is recorded in the store (``ScheduleFired``, run or skipped), so a daemon that
starts again knows which runs it missed: ``catch_up = "one"`` runs one of them at once.

Due times are wall-clock; the wait is on the monotonic clock (a trio deadline), so a wall clock
that jumps moves a run by the jump until the next one is planned.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.errors import StoreError
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.reports import run_event
from supervisord_lite.schedules import ScheduleSpec, spec_of
from supervisord_lite.store import Store
from supervisord_lite.store_records import ScheduleFired

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from supervisord_lite.runtime.intent import Intents
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.storewriter import StoreWriter

__all__ = ["SKIPPED", "Scheduler"]

SKIPPED = "schedule_skipped"
"""The history's event kind for a due run skipped because the previous one still goes."""

_BUSY = (lc.State.STARTING, lc.State.RUNNING, lc.State.BACKOFF, lc.State.STOPPING)


class Scheduler:
    """The scheduled programs' timers; see the module docstring."""

    def __init__(
        self,
        runners: Mapping[str, ProgramRunner],
        intents: Intents,
        store: StoreWriter,
        nursery: trio.Nursery,
        start: Callable[[ProgramRunner], object],
        overlap: Callable[[ProgramRunner], str | None],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._runners = runners
        self._intents = intents
        self._store = store
        self._nursery = nursery
        self._start = start
        self._overlap = overlap
        self._wall_clock = wall_clock
        self._last: dict[str, float] = {}
        self._timers: dict[str, tuple[ScheduleSpec, trio.CancelScope]] = {}
        self._next: dict[str, float] = {}

    async def open(self) -> None:
        """Read the last due runs from the store and arm every scheduled program (at boot),
        running one missed run of each with ``catch_up = "one"``."""
        try:
            self._last = await self._store.query(Store.last_runs)
        except StoreError as exc:
            log.error("the scheduled programs' last runs cannot be read (no catch-up): %s", exc)
        self.refresh(boot=True)

    def refresh(self, *, boot: bool = False) -> None:
        """Arm the programs that became scheduled or whose schedule changed (a reload),
        disarm those that left or are no longer scheduled."""
        for name in list(self._timers):
            runner = self._runners.get(name)
            spec = spec_of(runner.program) if runner is not None else None
            if spec is None or spec != self._timers[name][0]:
                self._timers.pop(name)[1].cancel()
                self._next.pop(name, None)
        for name, runner in self._runners.items():
            spec = spec_of(runner.program)
            if spec is not None and name not in self._timers:
                scope = trio.CancelScope()
                self._timers[name] = (spec, scope)
                catch_up = boot and runner.program.catch_up == "one"
                self._next[name] = spec.next_due(self._wall_clock(), self._last.get(name))
                self._nursery.start_soon(self._run, name, spec, scope, catch_up)

    def next_run(self, name: str) -> float | None:
        """When ``name`` is next due (wall clock); None unscheduled, or paused by the
        operator."""
        intent = self._intents.get(name)
        if intent is not None and intent.want is lc.Want.DOWN:
            return None
        return self._next.get(name)

    async def _run(
        self, name: str, spec: ScheduleSpec, scope: trio.CancelScope, catch_up: bool
    ) -> None:
        with scope:
            last = self._last.get(name)
            missed = spec.missed(self._wall_clock(), last) if catch_up else None
            if missed is not None:
                log.info("%s: catching up the run due at %s", name, _when(missed))
                self._due(name, missed, catching_up=True)
                last = missed
            while True:
                now = self._wall_clock()
                due = spec.next_due(now, last)
                self._next[name] = due
                await trio.sleep_until(trio.current_time() + max(0.0, due - now))
                self._due(name, due)
                last = due

    def _due(self, name: str, due: float, *, catching_up: bool = False) -> None:
        """A run of ``name`` is due: start it, or say why not."""
        self._last[name] = due
        self._store.submit(ScheduleFired(program=name, at=due))
        runner = self._runners.get(name)
        if runner is None:
            return
        intent = self._intents.get(name)
        if intent is not None and intent.want is lc.Want.DOWN:
            log.info("%s: the run due at %s is paused: stopped by the operator", name, _when(due))
            return
        if runner.snapshot.state in _BUSY:
            why = "the previous run still goes"
            if runner.program.overlap:
                refused = self._overlap(runner)
                if refused is None:
                    log.info("%s: the run due at %s started beside the previous", name, _when(due))
                    return
                why = refused
            reason = f"the run due at {_when(due)} is skipped: {why}"
            log.warning("%s: %s", name, reason)
            at = self._wall_clock()
            self._store.submit(run_event(name, runner.snapshot, SKIPPED, at=at, reason=reason))
            return
        what = "catching up the run" if catching_up else "the run"
        log.info("%s: starting %s due at %s", name, what, _when(due))
        self._start(runner)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(at))
