"""Supervisor: owns the ProgramRunners and answers the requests made of them.

It holds the runners and what they share, and is what the request handlers, the daemon's
start-up and shutdown (runtime/__init__.py) and the tests talk to. The work is done in modules
that take the Supervisor, one job each:

- naming.py: which runners a request's names stand for, and their order;
- runner_requests.py: one runner's start, stop or restart, and the verdict heard;
- waiting.py: waiting for programs to reach a state or be ready;
- reloading.py and replicasets.py: reshaping the runners (a reload, a scale, a rolling
  restart), each with the Supervisor's reshaping lock held;
- boot_and_shutdown.py: the programs brought up and down in priority and dependency order
  (higher priorities are started first and stopped last);
- exit_rules.py: when the daemon ends on its own.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

import msgspec
import trio

from supervisord_lite import daemon_exit
from supervisord_lite import lifecycle as lc
from supervisord_lite.errors import ShuttingDown
from supervisord_lite.replicas import instances
from supervisord_lite.runtime import (
    boot_and_shutdown,
    exit_rules,
    naming,
    reloading,
    replicasets,
    runner_requests,
    waiting,
)
from supervisord_lite.runtime.concurrently import gather
from supervisord_lite.runtime.dependencies import DependencyGate
from supervisord_lite.runtime.fdwatch import FdWatch
from supervisord_lite.runtime.intent import Intents
from supervisord_lite.runtime.listeners import Listeners
from supervisord_lite.runtime.logs.fanout import LogFanOut
from supervisord_lite.runtime.notifysocket import NotifySockets, notify_folder
from supervisord_lite.runtime.overlapping import OverlappingRuns
from supervisord_lite.runtime.program import ProgramRunner
from supervisord_lite.runtime.scheduler import Scheduler
from supervisord_lite.runtime.services import RunnerServices
from supervisord_lite.runtime.watching import Watches

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from supervisord_lite.config import Config, DaemonConfig, ProgramConfig
    from supervisord_lite.protocol.messages import ActionResult, ProgramState, ProgramStatus
    from supervisord_lite.reloadplan import ReloadPlan
    from supervisord_lite.runtime.containment import Containment
    from supervisord_lite.runtime.deadlines import Deadlines
    from supervisord_lite.runtime.eventlog import EventLog
    from supervisord_lite.runtime.storewriter import StoreWriter


#: Spawns in flight at once. More do not start programs faster (a spawn is CPU-bound in the
#: daemon) and cost memory while they queue.
SPAWN_SLOTS = 4


class Supervisor:
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        store: StoreWriter,
        events: EventLog,
        containment: Containment,
        nursery: trio.Nursery,
        deadlines: Deadlines,
        listeners: Listeners | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.events = events
        self.runners: dict[str, ProgramRunner] = {}
        self.containment = containment
        self.shutting_down = False
        self.started_at = time.time()
        #: Held while the set of runners is reshaped: a reload, a scale, a rolling restart.
        self._reload_lock = trio.Lock()
        #: The handed-over sockets (bound here unless the caller bound them): a bind that
        #: fails is a config error. Closed by ``wait_retired``.
        if listeners is None:
            listeners = Listeners()
            listeners.bind(config)
        self.listeners = listeners
        #: Every program's output, for log followers (it outlives runners replaced by reloads).
        self.log_fanout = LogFanOut()
        fdwatch = FdWatch(nursery)
        #: What every runner borrows: the nursery for its few tasks, the watchers, the timers.
        self.services = RunnerServices(
            nursery=nursery,
            base_dir=config.base_dir,
            store=store,
            events=events,
            containment=containment,
            log_fanout=self.log_fanout,
            fdwatch=fdwatch,
            deadlines=deadlines,
            spawn_slots=trio.CapacityLimiter(SPAWN_SLOTS),
            notify=NotifySockets(notify_folder(config), fdwatch, nursery),
            on_state=functools.partial(exit_rules.state_changed, self),
            listeners=self.listeners,
        )
        #: Why and with which status the daemon ends on its own (daemon_exit.py), once it does.
        self.ending: daemon_exit.Ending | None = None
        #: Called once ``ending`` is set (the daemon's shutdown).
        self.on_ending: Callable[[], None] | None = None
        #: Whether ``boot`` is over (the ``all-exited`` rule waits for it: exit_rules.py).
        self.booted = False
        self._loaded = False
        #: The operator's last start or stop of each program (intent.py).
        self.intents = Intents(store, self.services.wall_clock)
        for program in config.programs.values():
            for each in instances(program):
                self.add(each)
        #: Holds programs until their dependencies allow them to start.
        self.gate = DependencyGate(self.runners)
        #: The extra runs of scheduled programs with ``overlap`` (overlapping.py).
        self.overlapping = OverlappingRuns(self)
        #: The scheduled programs' timers (scheduler.py).
        self.scheduler = Scheduler(
            self.runners,
            self.intents,
            store,
            nursery,
            self.gate.want_up,
            self.overlapping.start,
            self.services.wall_clock,
        )
        #: The watched files of programs, and the config's (watching.py).
        self.watches = Watches(self.runners, self.services, lambda: self.config, self.reload)
        #: Told the ``[daemon]`` settings a reload applied (the control server's ``apply``).
        self.daemon_appliers: list[Callable[[DaemonConfig], None]] = []
        #: Told the whole config a reload applied (the webhooks' ``apply``).
        self.config_appliers: list[Callable[[Config], None]] = []

    # -- runners ------------------------------------------------------------------------------

    def add(self, program: ProgramConfig) -> ProgramRunner:
        runner = ProgramRunner(program, self.services)
        self.runners[program.name] = runner
        return runner

    def lookup(self, names: Iterable[str], *, every: bool = False) -> list[ProgramRunner]:
        """The runners ``names`` stand for (naming.py).

        Raises:
            NoSuchProgram: some names are unknown; the error lists the known ones.
        """
        return naming.lookup(self, names, every=every)

    def has_instances(self, name: str) -> bool:
        """Whether ``name``'s runs go by ``NAME:i`` names (naming.py)."""
        return naming.has_instances(self.config, name)

    def instances_of(self, name: str) -> list[ProgramRunner]:
        """A replicated program's runners, by index."""
        return naming.instances_of(self, name)

    def known_names(self) -> list[str]:
        """What a request may name: each runner, and each replicated program."""
        return naming.known_names(self)

    # -- requests -----------------------------------------------------------------------------

    def status(
        self, names: Sequence[str] = (), *, stats: bool = False
    ) -> tuple[ProgramStatus, ...]:
        """The named programs' status (all with no names), in config order; ``stats`` adds
        their log counters."""
        clocks = (trio.current_time(), self.services.wall_clock())
        if not names:
            runners: Iterable[ProgramRunner] = naming.ordered(self, self.runners.values())
        else:
            wanted = {r.name for r in self.lookup(names)}
            runners = (r for r in naming.ordered(self, self.runners.values()) if r.name in wanted)
        return tuple(self._status_of(r, stats, clocks) for r in runners)

    def _status_of(
        self, runner: ProgramRunner, stats: bool, clocks: tuple[float, float]
    ) -> ProgramStatus:
        status = runner.status(stats=stats, clocks=clocks)
        name = status.name
        intent = self.intents.wire(name)
        next_run = self.scheduler.next_run(name)
        check = self.watches.last_check(name)
        if intent is None and next_run is None and check is None:
            return status
        return msgspec.structs.replace(status, intent=intent, next_run=next_run, reload_check=check)

    async def start(
        self, names: Sequence[str], *, every: bool = False, wait: bool = True
    ) -> tuple[ActionResult, ...]:
        self._refuse_when_shutting_down()
        runners = self.lookup(names, every=every)
        self._intend(runners, lc.Want.UP)
        return await self._act(runners, runner_requests.start_one, wait)

    async def stop(
        self,
        names: Sequence[str],
        *,
        every: bool = False,
        wait: bool = True,
        with_dependents: bool = False,
    ) -> tuple[ActionResult, ...]:
        """Stop the named programs; one that running programs depend on is refused (naming
        them) unless ``with_dependents``, which stops them first, dependents before what they
        need."""
        self._refuse_when_shutting_down()
        runners = self.lookup(names, every=every)
        asked = {r.name for r in runners}
        dependents = {d for r in runners for d in self.gate.graph.dependents(r.name)} - asked
        active = (lc.State.STARTING, lc.State.RUNNING, lc.State.BACKOFF)
        up = sorted(
            d
            for d in dependents
            if self.runners[d].snapshot.want is lc.Want.UP
            and self.runners[d].snapshot.state in active
        )
        if up and not with_dependents:
            refused = []
            for runner in runners:
                mine = sorted(set(up) & self.gate.graph.dependents(runner.name))
                message = (
                    f"{', '.join(mine)} depend on it: stop them first, or stop with"
                    " --with-dependents"
                )
                refused.append(
                    runner_requests.result(runner, ok=not mine, message=message if mine else "")
                )
            if any(not r.ok for r in refused):
                return tuple(refused)
        self._intend([*runners, *(self.runners[d] for d in up)], lc.Want.DOWN)
        results: list[ActionResult] = []
        for level in reversed(self.gate.graph.levels([*asked, *up])):
            batch = [self.runners[n] for n in level if n in asked or n in up]
            results.extend(await self._act(batch, runner_requests.stop_one, wait))
        order = {name: i for i, name in enumerate([r.name for r in runners])}
        return tuple(sorted(results, key=lambda r: order.get(r.name, -1)))

    async def restart(
        self,
        names: Sequence[str],
        *,
        every: bool = False,
        wait: bool = True,
        rolling: bool = False,
        max_unavailable: int | None = None,
    ) -> tuple[ActionResult, ...]:
        """Restart the programs; ``rolling``: a few instances at a time, each batch ready
        before the next (runtime/replicasets.py)."""
        self._refuse_when_shutting_down()
        runners = self.lookup(names, every=every)
        self._intend(runners, lc.Want.UP)
        if not rolling:
            return await self._act(runners, runner_requests.restart_one, wait)
        async with self._reload_lock:
            return await replicasets.rolling_restart(self, runners, max_unavailable)

    def _intend(self, runners: Iterable[ProgramRunner], want: lc.Want) -> None:
        """Record the operator's word on each of ``runners`` (intent.py); an extra run
        (overlapping.py) has none: it ends with its run."""
        for runner in runners:
            if runner.name not in self.overlapping:
                self.intents.record(runner.name, want)

    async def scale(self, name: str, count: int, *, wait: bool = True) -> tuple[ActionResult, ...]:
        """Run ``count`` instances of replicated program ``name`` (runtime/replicasets.py).

        Raises:
            NoSuchProgram: no program has that name.
            BadRequest: the program is not replicated.
        """
        self._refuse_when_shutting_down()
        async with self._reload_lock:
            return await replicasets.scale(self, name, count, wait=wait)

    async def wait_state(
        self, names: Sequence[str], state: ProgramState
    ) -> tuple[ActionResult, ...]:
        """Block until every named program is in ``state`` (waiting.py); callers bound it."""
        return await waiting.wait_state(self.lookup(names), state)

    async def wait_ready(self, names: Sequence[str]) -> tuple[ActionResult, ...]:
        """Block until every named program is ready, or can no longer be (waiting.py)."""
        return await waiting.wait_ready(self.gate, self.lookup(names))

    def not_in_state(self, names: Sequence[str], state: ProgramState) -> list[str]:
        """The named programs that are not in ``state`` now."""
        return [r.name for r in self.lookup(names) if r.snapshot.state != state]

    # -- acting on runners -------------------------------------------------------------------

    async def _act(
        self,
        runners: list[ProgramRunner],
        action: Callable[[Supervisor, ProgramRunner, bool], Awaitable[ActionResult]],
        wait: bool,
    ) -> tuple[ActionResult, ...]:
        return tuple(await gather([functools.partial(action, self, r, wait) for r in runners]))

    def _refuse_when_shutting_down(self) -> None:
        if self.shutting_down:
            raise ShuttingDown("the daemon is shutting down")

    # -- reshaping the runners -----------------------------------------------------------------

    async def reload(self, *, dry_run: bool = False) -> ReloadPlan:
        """Re-read the config file and, unless ``dry_run``, carry out the plan (reloading.py).

        Raises:
            ConfigError: the new file is invalid; the running config stays in force.
        """
        self._refuse_when_shutting_down()
        async with self._reload_lock:
            return await reloading.reload(self, dry_run=dry_run)

    async def retire_runner(self, runner: ProgramRunner, keep_name: bool = False) -> ActionResult:
        """Stop ``runner`` for good (no request brings it up meanwhile), let its hooks and
        logs finish, and forget it unless ``keep_name``; how its stop went."""
        runner.leaving = True
        stopped = await runner_requests.stop_one(self, runner, True)
        await runner.wait_hooks()
        runner.retire()
        await runner.finished.wait()
        if not keep_name and self.runners.get(runner.name) is runner:
            del self.runners[runner.name]  # an extra run (overlapping.py) may be gone already
        return stopped

    async def replace_runner(self, runner: ProgramRunner, program: ProgramConfig) -> None:
        was_up = runner.snapshot.want is lc.Want.UP
        await self.retire_runner(runner, True)
        fresh = self.add(program)
        fresh.spawns = runner.spawns  # its restarts count on; its history is the store's
        self.gate.refresh()
        if self.intents.wants_up(program, was_up=was_up):
            self.gate.want_up(fresh)

    # -- boot and shutdown --------------------------------------------------------------------

    async def load_state(self) -> None:
        """Read what the store keeps for the programs, once, before the control server
        answers (boot_and_shutdown.py)."""
        if self._loaded:
            return
        self._loaded = True
        await boot_and_shutdown.load_state(self)

    async def boot(self) -> None:
        """Start the programs wanted up, a priority group at a time (boot_and_shutdown.py)."""
        await self.load_state()
        await boot_and_shutdown.boot(self)

    async def stop_all(self) -> None:
        """Refuse new work and stop every program in order (boot_and_shutdown.py); callers
        bound it and then call ``kill_survivors``."""
        await boot_and_shutdown.stop_all(self)

    async def kill_survivors(self) -> list[str]:
        """SIGKILL the runs still alive; them, as "name (pgid N)" (boot_and_shutdown.py)."""
        return await boot_and_shutdown.kill_survivors(self)

    async def wait_retired(self) -> None:
        """Wait for the retired runners' tasks, then close the handed-over sockets
        (boot_and_shutdown.py); callers bound it."""
        await boot_and_shutdown.wait_retired(self)
