"""ProgramRunner: one program's life, carried out.

Everything that happens to a program (an operator's request, the leader's exit, the group
emptying, its deadline) reaches ``send`` as a lifecycle event and is stepped at once:
``lifecycle.step`` is pure and fast, so there is no inbox and no task parked on one. The effects
that come back are carried out right there (signal the group, record, publish, arm the timer on
the daemon's ``Deadlines``), except a spawn, which awaits and so runs as a task in the daemon's
shared nursery; its answer comes back through ``send`` like any other event. Events are stepped
in the order they are sent; one sent while a step is under way is stepped right after it.

The runner decides what to do with each effect; the doing sits in collaborators: run_spawn.py
spawns a run, hook_points.py starts, cancels and awaits its hooks, runner_reports.py hands its
records and events on, status_row.py builds its row in ``svctl status``.

So a program with nothing happening to it costs the daemon no task and no nursery: its runner,
its snapshot and its log streams are all there is. Its run's end is watched by an ``ExitWatch``
(exitwatch.py) through the daemon's ``FdWatch``, without a task either.

Whoever waits for an outcome registers a watcher before sending its event, and hears every step
from that event on: the states entered and the snapshot after (the Supervisor's requests hand
them to ``lifecycle.judge``). A state entered for an event sent earlier is never heard.
"""

from __future__ import annotations

import functools
import random
from typing import TYPE_CHECKING, TypeAlias

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.lifecycle.policy import policy_for
from supervisord_lite.runtime import hook_points, runner_reports
from supervisord_lite.runtime.exitwatch import ExitWatch
from supervisord_lite.runtime.health import Health, needs_health
from supervisord_lite.runtime.hooks import ProgramHooks
from supervisord_lite.runtime.logdrops import LogDrops
from supervisord_lite.runtime.logs.streams import ProgramLogs
from supervisord_lite.runtime.memorywatch import MemoryWatch
from supervisord_lite.runtime.run_spawn import spawn_run
from supervisord_lite.runtime.status_row import status_row

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.protocol.messages import ProgramStatus
    from supervisord_lite.runtime.containment import RunScope
    from supervisord_lite.runtime.services import RunnerServices

_LIVE = frozenset({lc.State.STARTING, lc.State.RUNNING, lc.State.STOPPING})
"""States with a process: a transition out of one is a run's end."""

Watcher: TypeAlias = "Callable[[tuple[lc.State, ...], lc.Snapshot], bool]"
"""Hears each step: the states it entered, in order, and the snapshot after it; answers True
once it has heard enough, and is then dropped."""


class ProgramRunner:
    """Runs one program through its lifecycle; see the module docstring."""

    __slots__ = (
        "_closed",
        "_exit",
        "_finished",
        "_health",
        "_hooks",
        "_memory",
        "_queue",
        "_retired",
        "_scope",
        "_services",
        "_spawning",
        "_tasks",
        "_watchers",
        "asked_at",
        "leaving",
        "logs",
        "policy",
        "program",
        "ready_at",
        "snapshot",
        "spawns",
        "waiting_for",
    )

    def __init__(self, program: ProgramConfig, services: RunnerServices) -> None:
        self.program = program
        self.policy = policy_for(program)
        self.snapshot = lc.Snapshot()
        #: How many runs were spawned (``status`` shows the restarts).
        self.spawns = 0
        #: Why the program, wanted up, is not started yet (its dependencies); "" otherwise.
        self.waiting_for = ""
        #: When (wall clock) it was last asked to come up (started, or restarted), and when it
        #: last became RUNNING: ``svctl analyze`` reads the time between.
        self.asked_at: float | None = None
        self.ready_at: float | None = None
        #: The program's output: pipes, queues, log files, followers and their counters.
        self.logs = ProgramLogs(program, services.log_fanout, services.fdwatch)
        self._services = services
        LogDrops(program.name, services, self._snap).watch(self.logs.streams)
        #: Readiness, health, the notify socket and progress (None for a program with none).
        self._health = (
            Health(program, services, self.send, lambda: self._scope, self.logs, self._snap)
            if needs_health(program)
            else None
        )
        #: Looks at the memory of a RUNNING run (restart_when.memory; None without it).
        self._memory = (
            MemoryWatch(program, services, self.send)
            if program.restart_when.memory is not None
            else None
        )
        #: Its hooks, run one at a time (they read ``self.program``: a reload may change them).
        self._hooks = ProgramHooks(self.name, services, lambda: self.program, self._snap)
        # Everything below exists only while something happens to the program.
        self._scope: RunScope | None = None
        self._exit: ExitWatch | None = None
        self._queue: list[lc.Event] | None = None
        self._watchers: list[Watcher] | None = None
        self._tasks: set[trio.CancelScope] | None = None
        self._spawning: trio.Event | None = None
        self._finished: trio.Event | None = None
        self._retired = False
        self._closed = False
        #: Being taken away (a scale-down, a reload that removes or replaces it): it is
        #: stopped and then forgotten, so it does not come up again meanwhile.
        self.leaving = False

    @property
    def name(self) -> str:
        return self.program.name

    def update(self, program: ProgramConfig) -> None:
        """Take a changed config whose changes are all ``hot`` (reloadplan.py) in place: the
        lifecycle decides with the new policy from its next step on (a timer already armed
        keeps its deadline), the log files rotate by the new limits."""
        self.program = program
        self.policy = policy_for(program)
        self.logs.update(program)

    @property
    def run_scope(self) -> RunScope | None:
        """The processes of the current run (None while there is none to signal)."""
        return self._scope

    @property
    def healthy(self) -> bool | None:
        """None without a liveness probe; else whether it has not failed since it last passed."""
        return self._health.healthy if self._health is not None else None

    @property
    def probe_failures(self) -> dict[str, int]:
        """Failed looks by probe (``ready``, ``liveness``) since the program was configured;
        one entry per probe it has, none without probes."""
        return dict(self._health.probe_failures) if self._health is not None else {}

    def _snap(self) -> lc.Snapshot:
        return self.snapshot

    def mark_asked(self) -> None:
        """Note that the program was asked to come up now (by the operator, the daemon's start
        or a dependency's recovery), whether or not its dependencies let it start yet."""
        self.asked_at = self._services.wall_clock()

    def set_waiting(self, why: str) -> None:
        """Say why the program waits for, or was stopped by, a dependency ("" when it does
        not); a change is an event (``change = "dependency"``)."""
        if why == self.waiting_for:
            return
        self.waiting_for = why
        if why:
            runner_reports.publish_waiting(self._services, self.name, self.snapshot, why)

    @property
    def finished(self) -> trio.Event:
        """Set once the runner retired and its logs drained to their files."""
        if self._finished is None:
            self._finished = trio.Event()
            if self._closed:
                self._finished.set()
        return self._finished

    # -- inputs -------------------------------------------------------------------------------

    def send(self, event: lc.Event) -> None:
        """Step the lifecycle with ``event`` and carry out what it says; never blocks.

        Raises:
            LifecycleError: the runtime broke the event contract (a bug; see lifecycle).
        """
        if self.leaving and isinstance(event, lc.WantUp | lc.Restart):
            return  # a run started now would outlive its runner
        if self._queue is not None:  # called back by an effect of the step under way
            self._queue.append(event)
            return
        self._queue = queue = [event]
        try:
            while queue:
                self._step(queue.pop(0))
        finally:
            self._queue = None

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` every step from now on, until it answers True or is unwatched."""
        if self._watchers is None:
            self._watchers = []
        self._watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        if self._watchers is not None and watcher in self._watchers:
            self._watchers.remove(watcher)
            if not self._watchers:
                self._watchers = None

    async def wait_spawned(self) -> None:
        """Return once no spawn is in flight (at once when none is)."""
        while self._spawning is not None:
            await self._spawning.wait()

    def retire(self) -> None:
        """Stop watching the run and drain the logs to their files, in a task; ``finished``
        is set once that is done. The program must be down, or the daemon going away."""
        if self._retired:
            return
        self._retired = True
        self.leaving = True
        if self._exit is not None:
            self._exit.cancel()
            self._exit = None
        for scope in self._tasks or ():
            scope.cancel()
        if self._health is not None:
            self._health.close(self._services.notify)
        if self._memory is not None:
            self._memory.close()
        self._hooks.cancel()
        self._services.nursery.start_soon(self._close, name=f"retire {self.name}")

    async def wait_hooks(self) -> None:
        """Return once none of the program's hooks is running (a ``post_stop`` after a stop)."""
        await self._hooks.wait_idle()

    # -- status -------------------------------------------------------------------------------

    def status(
        self, *, stats: bool = False, clocks: tuple[float, float] | None = None
    ) -> ProgramStatus:
        """The program's row (status_row.py); ``clocks`` is (trio's clock, the wall clock) read
        once for a whole status reply (read here when None)."""
        return status_row(
            self.program,
            self.snapshot,
            spawns=self.spawns,
            logs=self.logs.statistics() if stats else (),
            containment=self._services.containment.mechanism,
            health=self._health,
            ready_at=self.ready_at,
            waiting_for=self.waiting_for,
            asked_at=self.asked_at,
            clocks=clocks,
            wall_clock=self._services.wall_clock,
        )

    # -- one step -----------------------------------------------------------------------------

    def _step(self, event: lc.Event) -> None:
        before = self.snapshot
        draw = random.random() if self.policy.backoff_jitter else 0.0
        after, effects = lc.step(self.policy, before, event, now=trio.current_time(), draw=draw)
        self.snapshot = after
        if isinstance(event, lc.Restart) and after != before:
            self.mark_asked()
        if after.pgid is None:
            self._scope = None  # the run is over (or not tracked yet): nothing to signal
        entered: list[lc.State] = []
        ended = next((e.exit for e in effects if isinstance(e, lc.Record) and e.exit), None)
        for effect in effects:
            match effect:
                case lc.Record():
                    runner_reports.record_step(self._services, self.name, effect, before, after)
                    if effect.outcome is not None:  # the run is over
                        hook_points.run_over(self._hooks, effect.exit)
                case lc.Publish(old=old, new=new):
                    entered.append(new)
                    if new is lc.State.RUNNING:
                        self.ready_at = self._services.wall_clock()
                    # Only the transition out of a live state is the run's end.
                    own = ended if old in _LIVE else None
                    pid = after.pid if new in _LIVE else (before.pid if own else None)
                    runner_reports.publish_transition(
                        self._services, self.name, old, new, after, ended=own, pid=pid
                    )
                    hook_points.entered(self._hooks, new, after.pid)
                case lc.SetDeadline(at=at):
                    # A superseded timer still fires; the lifecycle ignores it as stale.
                    self._services.deadlines.at(at, self._deadline_passed)
                case lc.ClearDeadline():
                    pass
                case lc.SignalGroup(signal=signame):
                    self._signal(signame)
                case lc.StopGracefully(signal=signame):
                    self.start_task(functools.partial(self._stop_gracefully, signame, after))
                case lc.Spawn():
                    self._spawning = trio.Event()
                    self._services.nursery.start_soon(self._spawn, name=f"spawn {self.name}")
        moved = after.state is not before.state or after.pgid != before.pgid
        health = self._health
        if health is not None and moved:
            health.on_step(before, after)
        if self._memory is not None and moved:
            self._memory.on_step(after, self._scope)
        if self._watchers is not None:
            heard = tuple(entered)
            self._watchers = [w for w in self._watchers if not w(heard, after)] or None
        if after.state is not before.state and self._services.on_state is not None:
            self._services.on_state(self.name)

    def _deadline_passed(self) -> None:
        self.send(lc.DeadlineReached())

    # -- effects that await -------------------------------------------------------------------

    async def _spawn(self) -> None:
        """Spawn a run in one of the daemon's spawn slots; the answer is the next event.

        A thousand programs starting at once would otherwise each hold their pipes, child
        environment and argv while queueing for trio's spawn threads; freed together, those
        leave the heap fragmented (about 12 KiB per program that stays resident). A spawn is
        CPU-bound in the daemon, so a few at a time start them as fast.
        """
        try:
            failed = await hook_points.pre_start(self._hooks)
            if failed is not None:
                self.send(failed)
                return
            async with self._services.spawn_slots:
                answer = await self._spawn_now()
            self.send(answer)
        finally:
            spawning, self._spawning = self._spawning, None
            if spawning is not None:
                spawning.set()

    async def _spawn_now(self) -> lc.Event:
        services = self._services
        run = await spawn_run(self.program, services, self.logs, self._health)
        if isinstance(run, lc.SpawnFailed):
            return run
        self.spawns += 1
        self._scope = run.scope
        self._exit = ExitWatch(run.process, run.scope, run.logs, self, services.fdwatch)
        self._exit.start(services.nursery)
        return lc.Spawned(pid=run.process.pid, pgid=run.process.pid, run_id=run.run_id)

    async def _stop_gracefully(self, signame: str, stopping: lc.Snapshot) -> None:
        await hook_points.stop_gracefully(
            self._hooks, self.name, signame, stopping, self._snap, self._signal
        )

    def _signal(self, signame: str) -> None:
        if self._scope is not None:
            self._scope.stop(signame)

    def start_task(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` in the shared nursery, cancelled if the runner retires first."""
        self._services.nursery.start_soon(self._cancellable, fn, name=f"watch {self.name}")

    async def _cancellable(self, fn: Callable[[], Awaitable[None]]) -> None:
        with trio.CancelScope() as scope:
            if self._retired:
                return
            if self._tasks is None:
                self._tasks = set()
            tasks = self._tasks
            tasks.add(scope)
            try:
                await fn()
            finally:
                tasks.discard(scope)
                if not tasks and self._tasks is tasks:
                    self._tasks = None

    def reaped(self, process: trio.Process, scope: RunScope) -> None:
        """The leader is reaped: forget it, and record what the OOM killer took."""
        self._exit = None
        self._services.containment.reaper.release(process.pid)
        runner_reports.record_oom_kills(self._services, self.name, process.pid, scope.cgroup)

    async def _close(self) -> None:
        """Retired: drain the log queues to their files (bounded), after a spawn in flight."""
        try:
            with trio.CancelScope(shield=True):
                await self.wait_spawned()
                await self.logs.aclose()
        finally:
            self._closed = True
            if self._finished is not None:
                self._finished.set()
