"""Supervisor: owns the ProgramRunners, applies the config and reloads, shuts down in order.

Requests never reach into a runner's state: they send it an event and then watch its
transitions until the program reached the goal or clearly failed to. Priority orders the work:
higher priorities are started first and stopped last.
"""

from __future__ import annotations

import functools
import itertools
import time
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.config import Config, ConfigDiff, ProgramConfig, diff, load_path
from supervisord_lite.errors import ConfigError, NoSuchProgram, ShuttingDown
from supervisord_lite.protocol.messages import (
    ActionResult,
    ProgramState,
    ProgramStatus,
    StateChanged,
)
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.fdwatch import FdWatch
from supervisord_lite.runtime.logs.fanout import LogFanOut
from supervisord_lite.runtime.program import ProgramRunner

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from supervisord_lite.runtime.containment import Containment
    from supervisord_lite.runtime.deadlines import Deadlines
    from supervisord_lite.runtime.fanout import FanOut
    from supervisord_lite.runtime.storewriter import StoreWriter

T = TypeVar("T")

#: Spawns in flight at once. More do not start programs faster (a spawn is CPU-bound in the
#: daemon) and cost memory while they queue.
SPAWN_SLOTS = 4


class Goal(Enum):
    UP = "up"
    DOWN = "down"


def _verdict(
    goal: Goal, state: lc.State, snap: lc.Snapshot, policy: lc.Policy
) -> tuple[bool, str] | None:
    """Whether entering ``state`` settles a start/stop/restart request: (ok, message), or None."""
    if goal is Goal.DOWN:
        return (True, "stopped") if state is lc.State.STOPPED else None
    if state is lc.State.RUNNING:
        return True, "running"
    if state is lc.State.FATAL:
        return False, snap.message or "fatal"
    if state is lc.State.EXITED and snap.last_exit is not None:
        return policy.expects(snap.last_exit), snap.last_exit.describe()
    if state is lc.State.STOPPED and snap.want is lc.Want.DOWN:
        # A restart passes through STOPPED on its way up; only a stop asked for meanwhile
        # settles the request.
        return False, "stopped before it was running"
    return None


class Supervisor:
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        store: StoreWriter,
        events: FanOut[StateChanged],
        containment: Containment,
        nursery: trio.Nursery,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.config = config
        self.deadlines = deadlines
        self.store = store
        self.events = events
        self.runners: dict[str, ProgramRunner] = {}
        self.containment = containment
        self.shutting_down = False
        self.started_at = time.time()
        self._nursery = nursery
        self._reload_lock = trio.Lock()
        #: Every program's output, for log followers (it outlives runners replaced by reloads).
        self.log_fanout = LogFanOut()
        #: Watches every program's pipes and pidfd from one task (running while there are any).
        self.readiness = FdWatch(nursery)
        #: How many spawns run at once (see ``ProgramRunner._spawn``).
        self.spawn_slots = trio.CapacityLimiter(SPAWN_SLOTS)
        for program in config.programs.values():
            self._add(program)

    # -- runners ------------------------------------------------------------------------------

    def _add(self, program: ProgramConfig) -> ProgramRunner:
        runner = ProgramRunner(
            program,
            default_cwd=self.config.base_dir,
            store=self.store,
            events=self.events,
            containment=self.containment,
            log_fanout=self.log_fanout,
            readiness=self.readiness,
            deadlines=self.deadlines,
            spawn_slots=self.spawn_slots,
        )
        self.runners[program.name] = runner
        self._nursery.start_soon(runner.run, name=f"program {program.name}")
        return runner

    def lookup(self, names: Iterable[str], *, every: bool = False) -> list[ProgramRunner]:
        """The runners for ``names`` (all of them, in config order, with ``every``).

        Raises:
            NoSuchProgram: some names are unknown; the error lists the known ones.
        """
        if every:
            return list(self.runners.values())
        wanted = list(dict.fromkeys(names))
        missing = [n for n in wanted if n not in self.runners]
        if missing:
            raise NoSuchProgram(missing, sorted(self.runners))
        return [self.runners[n] for n in wanted]

    def _by_priority(
        self, runners: Sequence[ProgramRunner], *, descending: bool
    ) -> list[list[ProgramRunner]]:
        ordered = sorted(runners, key=lambda r: r.program.priority, reverse=descending)
        return [list(g) for _, g in itertools.groupby(ordered, key=lambda r: r.program.priority)]

    # -- requests -----------------------------------------------------------------------------

    def status(
        self, names: Sequence[str] = (), *, stats: bool = False
    ) -> tuple[ProgramStatus, ...]:
        """The named programs' status (all with no names), in config order; ``stats`` adds
        their log counters."""
        if not names:
            return tuple(r.status(stats=stats) for r in self.runners.values())
        wanted = {r.name for r in self.lookup(names)}
        return tuple(r.status(stats=stats) for r in self.runners.values() if r.name in wanted)

    async def boot(self) -> None:
        """Start the autostart programs, a priority group at a time, highest first; return once
        each was spawned (or failed to be), so READY=1 means the programs are launched."""
        autostart = [r for r in self.runners.values() if r.program.autostart]
        for group in self._by_priority(autostart, descending=True):
            # WantUp always moves a stopped program (to STARTING, or BACKOFF when a spawn
            # fails): any transition after this point means it was launched, however briefly
            # it then stayed in that state.
            marks = {runner: runner.seq for runner in group}
            for runner in group:
                runner.send(lc.WantUp())
            for runner, seq in marks.items():
                while runner.seq == seq:
                    await runner.wait_changed(seq)

    async def start(
        self, names: Sequence[str], *, every: bool = False, wait: bool = True
    ) -> tuple[ActionResult, ...]:
        self._refuse_when_shutting_down()
        return await self._act(self.lookup(names, every=every), self._start_one, wait)

    async def stop(
        self, names: Sequence[str], *, every: bool = False, wait: bool = True
    ) -> tuple[ActionResult, ...]:
        self._refuse_when_shutting_down()
        return await self._act(self.lookup(names, every=every), self._stop_one, wait)

    async def restart(
        self, names: Sequence[str], *, every: bool = False, wait: bool = True
    ) -> tuple[ActionResult, ...]:
        self._refuse_when_shutting_down()
        return await self._act(self.lookup(names, every=every), self._restart_one, wait)

    async def wait_state(
        self, names: Sequence[str], state: ProgramState
    ) -> tuple[ActionResult, ...]:
        """Block until every named program is in ``state``; callers bound the wait."""
        runners = self.lookup(names)

        async def one(runner: ProgramRunner) -> ActionResult:
            seq = runner.seq
            while runner.snapshot.state is not state:
                transitions = await runner.wait_changed(seq)
                if any(t.state is state for t in transitions):
                    break
                seq = transitions[-1].seq if transitions else seq
            return ActionResult(name=runner.name, ok=True, state=state)

        return tuple(await _gather([functools.partial(one, r) for r in runners]))

    def not_in_state(self, names: Sequence[str], state: ProgramState) -> list[str]:
        """The named programs that are not in ``state`` now."""
        return [r.name for r in self.lookup(names) if r.snapshot.state != state]

    # -- one program --------------------------------------------------------------------------

    async def _act(
        self,
        runners: list[ProgramRunner],
        action: Callable[[ProgramRunner, bool], Awaitable[ActionResult]],
        wait: bool,
    ) -> tuple[ActionResult, ...]:
        return tuple(await _gather([functools.partial(action, r, wait) for r in runners]))

    async def _start_one(self, runner: ProgramRunner, wait: bool) -> ActionResult:
        if runner.snapshot.state is lc.State.RUNNING:
            runner.send(lc.WantUp())
            return self._result(runner, ok=True, message="already running")
        seq = runner.seq
        runner.send(lc.WantUp())
        return (
            await self._settle(runner, seq, Goal.UP)
            if wait
            else self._result(runner, True, "starting")
        )

    async def _stop_one(self, runner: ProgramRunner, wait: bool) -> ActionResult:
        if runner.snapshot.state is lc.State.STOPPED:
            runner.send(lc.WantDown())
            return self._result(runner, ok=True, message="already stopped")
        seq = runner.seq
        runner.send(lc.WantDown())
        return (
            await self._settle(runner, seq, Goal.DOWN)
            if wait
            else self._result(runner, True, "stopping")
        )

    async def _restart_one(self, runner: ProgramRunner, wait: bool) -> ActionResult:
        seq = runner.seq
        runner.send(lc.Restart())
        return (
            await self._settle(runner, seq, Goal.UP)
            if wait
            else self._result(runner, True, "restarting")
        )

    async def _settle(self, runner: ProgramRunner, seq: int, goal: Goal) -> ActionResult:
        """Watch the runner's transitions after ``seq`` until one settles the goal."""
        while True:
            transitions = await runner.wait_changed(seq)
            for t in transitions:
                seq = t.seq
                verdict = _verdict(goal, t.state, t.snapshot, runner.policy)
                if verdict is not None:
                    ok, message = verdict
                    return ActionResult(name=runner.name, ok=ok, state=t.state, message=message)
            if goal is Goal.DOWN and runner.snapshot.stop_phase is lc.StopPhase.UNKILLABLE:
                return self._result(
                    runner, ok=False, message=runner.snapshot.message or "could not kill"
                )

    def _result(self, runner: ProgramRunner, ok: bool, message: str = "") -> ActionResult:
        return ActionResult(name=runner.name, ok=ok, state=runner.snapshot.state, message=message)

    def _refuse_when_shutting_down(self) -> None:
        if self.shutting_down:
            raise ShuttingDown("the daemon is shutting down")

    # -- reload -------------------------------------------------------------------------------

    async def reload(self) -> ConfigDiff:
        """Re-read the config file and apply only what changed.

        Raises:
            ConfigError: the new file is invalid; the running config stays in force.
        """
        self._refuse_when_shutting_down()
        async with self._reload_lock:
            new = await trio.to_thread.run_sync(load_path, self.config.source)
            problems = self.containment.problems(new)
            if problems:
                raise ConfigError(new.source, problems)
            self.containment.enable_controllers(new)
            change = diff(self.config, new)
            if change.daemon_changed:
                log.warning(
                    "reload: [daemon] settings changed; they take effect when the daemon restarts"
                )
            self.config = Config(
                daemon=self.config.daemon,
                programs=new.programs,
                source=new.source,
                base_dir=new.base_dir,
            )
            async with trio.open_nursery() as nursery:
                for name in change.removed:
                    nursery.start_soon(self._retire, self.runners[name], False)
                for name in change.changed:
                    nursery.start_soon(self._replace, self.runners[name], new.programs[name])
                for name in change.added:
                    runner = self._add(new.programs[name])
                    if runner.program.autostart:
                        runner.send(lc.WantUp())
            log.info(
                "reload: %d added, %d removed, %d changed, %d unchanged",
                len(change.added),
                len(change.removed),
                len(change.changed),
                len(change.unchanged),
            )
            return change

    async def _retire(self, runner: ProgramRunner, keep_name: bool) -> None:
        await self._stop_one(runner, True)
        runner.retire()
        await runner.finished.wait()
        if not keep_name:
            del self.runners[runner.name]

    async def _replace(self, runner: ProgramRunner, program: ProgramConfig) -> None:
        was_up = runner.snapshot.want is lc.Want.UP
        await self._retire(runner, True)
        fresh = self._add(program)
        if was_up or program.autostart:
            fresh.send(lc.WantUp())

    # -- shutdown -----------------------------------------------------------------------------

    async def stop_all(self) -> None:
        """Refuse new work, stop every program (lowest priority first, each priority group
        concurrently) and retire the runners. Callers bound it with a cancel scope and then call
        ``kill_survivors``."""
        self.shutting_down = True
        for group in self._by_priority(list(self.runners.values()), descending=False):
            await _gather([functools.partial(self._stop_one, r, True) for r in group])
        for runner in self.runners.values():
            runner.retire()

    async def kill_survivors(self) -> list[str]:
        """SIGKILL every group still alive and wait for them (bounded by the largest
        kill_timeout); the names of those that were still alive."""
        survivors = [
            (r, r.snapshot.pgid)
            for r in self.runners.values()
            if r.snapshot.pgid is not None and groups.group_alive(r.snapshot.pgid)
        ]
        for _, pgid in survivors:
            groups.signal_group(pgid, "KILL")
        with trio.move_on_after(max((r.program.kill_timeout for r, _ in survivors), default=0)):
            await _gather(
                [functools.partial(groups.wait_group_empty, pgid) for _, pgid in survivors]
            )
        for runner in self.runners.values():
            runner.retire()
        return [f"{r.name} (pgid {pgid})" for r, pgid in survivors]

    async def wait_retired(self) -> None:
        """Wait until the retired runners' tasks ended; each first drains its log queues to
        its files (bounded), so followers see a program's last output. Callers bound it."""
        for runner in list(self.runners.values()):
            await runner.finished.wait()


async def _gather(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the calls concurrently; their results in the calls' order."""
    if len(calls) == 1:
        return [await calls[0]()]  # the common single-program request: no nursery, no task
    results: dict[int, T] = {}

    async def one(i: int) -> None:
        results[i] = await calls[i]()

    async with trio.open_nursery() as nursery:
        for i in range(len(calls)):
            nursery.start_soon(one, i)
    return [results[i] for i in range(len(calls))]
