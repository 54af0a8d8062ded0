"""ProgramRunner: one program's life, carried out.

The runner owns one inbox. Everything that happens to the program (an operator's request, the
leader's exit, the group emptying, the deadline) arrives there as a lifecycle event, is fed to the
pure ``lifecycle.step`` with the monotonic time, and the effects that come back are carried out
here: spawn, signal the group, record, publish. The deadline is not a timer task: it is the
timeout of the inbox wait, so a program with nothing to do costs nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.errors import LogPathError, SpawnError
from supervisord_lite.protocol.messages import ProgramStatus, StateChanged
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.logs.fanout import LogFanOut
from supervisord_lite.runtime.logs.streams import ProgramLogs
from supervisord_lite.runtime.spawn import spawn
from supervisord_lite.runtime.translate import (
    describe_transition,
    exit_status,
    policy_for,
    state_changed,
    store_op,
)
from supervisord_lite.store_records import EventRecorded

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.containment import Containment, RunScope
    from supervisord_lite.runtime.deadlines import Deadlines
    from supervisord_lite.runtime.fanout import FanOut
    from supervisord_lite.runtime.fdwatch import FdWatch
    from supervisord_lite.runtime.logs.pump import RunLogs
    from supervisord_lite.runtime.storewriter import StoreWriter

#: How many recent state transitions a runner keeps for callers waiting on an outcome.
TRANSITION_LOG = 256


class _Retire:
    """Inbox sentinel: the runner's task ends (the program must already be down)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A state the program entered; ``seq`` orders them for waiters."""

    seq: int
    state: lc.State
    snapshot: lc.Snapshot


class ProgramRunner:
    """Runs one program through its lifecycle; see the module docstring."""

    def __init__(
        self,
        program: ProgramConfig,
        *,
        default_cwd: str,
        store: StoreWriter,
        events: FanOut[StateChanged],
        containment: Containment,
        wall_clock: Callable[[], float] = time.time,
        log_fanout: LogFanOut | None = None,
        readiness: FdWatch | None = None,
        deadlines: Deadlines | None = None,
        spawn_slots: trio.CapacityLimiter | None = None,
    ) -> None:
        self.program = program
        self.policy = policy_for(program)
        self.snapshot = lc.Snapshot()
        self.spawns = 0
        self._default_cwd = default_cwd
        self._store = store
        self._events = events
        self._wall = wall_clock
        # A runner is mostly idle, and a daemon has thousands: its inbox is a plain list, its
        # task parks on it by hand, and other wakeups are made only when somebody waits (about
        # 3 KiB less than a memory channel and events).
        self._inbox: list[lc.Event | _Retire] = []
        self._receiver: trio.lowlevel.Task | None = None
        self._transitions: list[Transition] = []
        self._seq = 0
        self._changed: trio.Event | None = None
        self._containment = containment
        # Precise timers when the daemon has a Deadlines service; trio's own otherwise.
        self._deadlines = deadlines
        self._spawn_slots = spawn_slots
        self._armed: float | None = None
        self._scope: RunScope | None = None
        self._nursery: trio.Nursery | None = None
        self._done = False
        self._finished: trio.Event | None = None
        #: The program's output: pipes, queues, log files, followers and their counters.
        self.logs = ProgramLogs(
            program, log_fanout if log_fanout is not None else LogFanOut(), readiness
        )
        #: Watches the leader's pidfd (shared with the log pipes).
        self._readiness = self.logs.readiness
        self._exit_fd = -1
        self._exiting: tuple[trio.Process, RunScope, RunLogs] | None = None

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def seq(self) -> int:
        """The number of the latest transition; waiters start from it."""
        return self._seq

    @property
    def finished(self) -> trio.Event:
        """Set once the runner's task has ended (its logs drained to their files)."""
        if self._finished is None:
            self._finished = trio.Event()
            if self._done:
                self._finished.set()
        return self._finished

    # -- inputs -------------------------------------------------------------------------------

    def send(self, event: lc.Event) -> None:
        """Queue an event for the runner; never blocks."""
        self._deliver(event)

    def retire(self) -> None:
        """End the runner's task once the events queued before this one are handled."""
        self._deliver(_Retire())

    def _deliver(self, item: lc.Event | _Retire) -> None:
        self._inbox.append(item)
        if self._receiver is not None:
            trio.lowlevel.reschedule(self._receiver)
            self._receiver = None

    # -- waiting ------------------------------------------------------------------------------

    async def wait_changed(self, after_seq: int) -> list[Transition]:
        """The transitions after ``after_seq``, waiting for the first one if there is none yet.

        Returns an empty list when the snapshot changed without a state change (the stop phase
        moved on, for instance), so a waiter can look at ``snapshot`` again.
        """
        if self._seq <= after_seq:
            if self._changed is None:
                self._changed = trio.Event()
            await self._changed.wait()
        return [t for t in self._transitions if t.seq > after_seq]

    # -- status -------------------------------------------------------------------------------

    def status(self, *, stats: bool = False) -> ProgramStatus:
        snap = self.snapshot
        started_at = uptime = None
        if snap.spawned_at is not None and snap.pid is not None:
            uptime = max(0.0, trio.current_time() - snap.spawned_at)
            started_at = self._wall() - uptime
        last = snap.last_exit
        return ProgramStatus(
            name=self.name,
            state=snap.state,
            want=snap.want,
            pid=snap.pid,
            started_at=started_at,
            uptime=uptime,
            exit_code=last.code if last else None,
            exit_signal=last.signal if last else None,
            message=snap.message,
            restarts=max(0, self.spawns - 1),
            logs=self.logs.statistics() if stats else (),
            containment=self._containment.mechanism,
        )

    # -- the task -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Handle events until retired; the program's watcher tasks live in here too."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    await self._loop()
                finally:
                    self._forget_exit()  # its callback would start a task in this nursery
                    # The log writers live in this nursery: drain them (bounded) before it ends.
                    with trio.CancelScope(shield=True):
                        await self.logs.aclose()
                nursery.cancel_scope.cancel()
        finally:
            self._done = True
            if self._finished is not None:
                self._finished.set()

    async def _loop(self) -> None:
        while True:
            deadline = self.snapshot.deadline
            event: lc.Event | _Retire
            if deadline is not None and self._deadlines is not None:
                if deadline != self._armed:
                    # A superseded timer still fires; the lifecycle ignores it as stale.
                    self._armed = deadline
                    self._deadlines.at(deadline, self._deadline_passed)
                event = await self._receive()
            elif deadline is None:
                event = await self._receive()
            else:
                event = lc.DeadlineReached()
                with trio.move_on_at(deadline):
                    event = await self._receive()
            if isinstance(event, _Retire):
                return
            await self._feed(event)

    def _deadline_passed(self) -> None:
        self.send(lc.DeadlineReached())

    async def _receive(self) -> lc.Event | _Retire:
        """The next event of the inbox, waiting for one; a passed deadline comes first."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._inbox:
            await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            self._receiver = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort_receive)
        return self._inbox.pop(0)

    def _abort_receive(self, _: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self._receiver = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def _feed(self, event: lc.Event) -> None:
        pending: list[lc.Event] = [event]
        while pending:
            before = self.snapshot
            after, effects = lc.step(self.policy, before, pending.pop(0), now=trio.current_time())
            self.snapshot = after
            for effect in effects:
                follow_up = await self._apply(effect, before, after)
                if follow_up is not None:
                    pending.append(follow_up)
            if after != before and self._changed is not None:
                self._changed.set()
                self._changed = None

    async def _apply(
        self, effect: lc.Effect, before: lc.Snapshot, after: lc.Snapshot
    ) -> lc.Event | None:
        match effect:
            case lc.Spawn():
                return await self._spawn()
            case lc.SignalGroup(signal=signame):
                if self._scope is not None:
                    self._scope.signal(signame)
            case lc.Record():
                self._record(effect, before, after)
            case lc.Publish(old=old, new=new):
                self._publish(old, new, after)
            case lc.SetDeadline() | lc.ClearDeadline():
                pass  # the inbox wait in _loop reads snapshot.deadline
        return None

    async def _spawn(self) -> lc.Event:
        """Spawn a run, in one of the daemon's spawn slots when it has them.

        A thousand programs starting at once would otherwise each hold their pipes, child
        environment and argv while queueing for trio's spawn threads; freed together, those
        leave the heap fragmented (about 12 KiB per program that stays resident). A spawn is
        CPU-bound in the daemon, so a few at a time start them as fast.
        """
        if self._spawn_slots is None:
            return await self._spawn_now()
        async with self._spawn_slots:
            return await self._spawn_now()

    async def _spawn_now(self) -> lc.Event:
        run_id = self._store.store.allocate_run_id()
        reaper = self._containment.reaper
        logs: RunLogs | None = None
        cgroup = None
        try:
            logs = self.logs.open_run()
            cgroup = self._containment.cgroup_for(self.program, run_id)
            with reaper.spawning():
                process = await spawn(
                    self.program,
                    cwd=self._default_cwd,
                    stdout=logs.stdout,
                    stderr=logs.stderr,
                    marker=self._containment.marker(run_id),
                    cgroup=cgroup,
                )
                reaper.manage(process.pid)
            assert self._nursery is not None
            self.logs.start_run(logs, self._nursery)  # before the finally drops unused pipes
        except (SpawnError, LogPathError) as exc:
            if cgroup is not None:
                cgroup.remove()
            log.error("%s: %s", self.name, exc)
            return lc.SpawnFailed(reason=str(exc))
        finally:
            if logs is not None:
                logs.close_child_ends()  # the child has them; EOF must not wait for us
        self.spawns += 1
        scope = self._containment.scope(process.pid, run_id, cgroup)
        self._scope = scope
        self._watch_exit(process, scope, logs)
        return lc.Spawned(pid=process.pid, pgid=process.pid, run_id=run_id)

    def _watch_exit(self, process: trio.Process, scope: RunScope, logs: RunLogs) -> None:
        """Start ``_watch`` once the leader has exited.

        The leader's pidfd is watched by ``FdWatch`` rather than by a task of its own, so a
        running program has no task waiting for it.
        """
        nursery = self._nursery
        assert nursery is not None
        try:
            pidfd = os.pidfd_open(process.pid)
        except OSError:  # no pidfd on this kernel, or out of descriptors: a task waits instead
            nursery.start_soon(self._watch, process, scope, logs)
            return
        self._exit_fd = pidfd
        self._exiting = (process, scope, logs)
        self._readiness.add(pidfd, self._exited, nursery)

    def _exited(self) -> None:
        """The leader's pidfd is readable. In the usual exit (its output already in the files,
        no other process of the run left) the run is settled right here, so the exit reaches
        the runner one scheduling round after the kernel reported it; otherwise a ``_watch``
        task waits for what is still in flight."""
        run = self._exiting
        assert run is not None
        assert self._nursery is not None
        self._forget_exit()
        process, scope, logs = run
        returncode = process.poll()
        if returncode is not None and logs.drained() and not scope.alive():
            self._reaped(process, scope)
            self.send(lc.Exited(status=exit_status(returncode), group_alive=False))
            self._run_over(scope, logs)
            return
        self._nursery.start_soon(self._watch, *run)

    def _forget_exit(self) -> None:
        if self._exit_fd >= 0:
            self._readiness.remove(self._exit_fd)
            os.close(self._exit_fd)
            self._exit_fd = -1
            self._exiting = None

    async def _watch(self, process: trio.Process, scope: RunScope, logs: RunLogs) -> None:
        """Reap the leader (it has exited, or is waited for here), then wait for the rest of
        the run.

        What the leader wrote before it died is in its log file before its exit is recorded
        and published (bounded: see ``RunLogs.drain``).
        """
        returncode = await process.wait()
        self._reaped(process, scope)
        await logs.drain()
        alive = scope.alive()
        self.send(lc.Exited(status=exit_status(returncode), group_alive=alive))
        if alive:
            await scope.wait_empty()
            self.send(lc.GroupEmpty())
        self._run_over(scope, logs)

    def _reaped(self, process: trio.Process, scope: RunScope) -> None:
        """The leader is reaped: forget it, and record what the OOM killer took."""
        self._containment.reaper.release(process.pid)
        if scope.cgroup is not None and (oom := scope.cgroup.oom_kills()):
            self._store.submit(
                EventRecorded(
                    program=self.name,
                    kind="oom_killed",
                    at=self._wall(),
                    pid=process.pid,
                    pgid=process.pid,
                    reason=f"{oom} process(es) killed by the kernel's OOM killer",
                )
            )

    @staticmethod
    def _run_over(scope: RunScope, logs: RunLogs) -> None:
        """No process of the run is left: read its pipes to their end (briefly), drop its
        cgroup."""
        logs.linger()
        scope.release()

    # -- effects that leave the process -------------------------------------------------------

    def _record(self, record: lc.Record, before: lc.Snapshot, after: lc.Snapshot) -> None:
        self._store.submit(
            store_op(
                self.name, record, before, after, at=self._wall(), start_time=groups.start_time
            )
        )

    def _publish(self, old: lc.State, new: lc.State, snap: lc.Snapshot) -> None:
        self._seq += 1
        self._transitions.append(Transition(self._seq, new, snap))
        if len(self._transitions) > TRANSITION_LOG:
            del self._transitions[0]
        log.info("%s: %s", self.name, describe_transition(old, new, snap))
        self._events.publish(state_changed(self.name, old, new, snap, at=self._wall()))
