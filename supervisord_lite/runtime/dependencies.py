"""Programs that wait for others: ``depends_on`` carried out.

A program wanted up is started only once each of its dependencies meets its condition
(``started``, ``ready``, ``healthy``, ``completed``, ``completed_successfully``); until then it
is *held* here, STOPPED, with the reason in its status (``waiting for db: not ready``). The gate
hears every step of every program that others depend on (a watcher on its runner, no task, no
polling) and releases what it holds as soon as the condition holds, or fails it when it never
can (the dependency went FATAL, or completed unsuccessfully when success was asked for). When a
dependency stops meeting its condition under a running dependent, the dependent follows its
``on_dependency_failure``: ``stop``, ``restart`` (stop now, start again once the condition is met
again) or ``ignore``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.depgraph import DependencyGraph

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from supervisord_lite.depgraph import Condition
    from supervisord_lite.runtime.program import ProgramRunner, Watcher

__all__ = ["DependencyGate", "Hold", "condition"]

State = lc.State
_UP = (State.STARTING, State.RUNNING)


class Hold:
    """A program held until its dependencies allow it: ``released`` once started, ``failed``
    (with ``reason``) when a dependency can no longer be met."""

    __slots__ = ("event", "failed", "reason", "released")

    def __init__(self, event: lc.Event) -> None:
        self.event = event
        self.released = trio.Event()
        self.failed = trio.Event()
        self.reason = ""


def condition(wanted: Condition, dep: ProgramRunner) -> tuple[bool, str]:
    """Whether ``dep`` meets ``wanted`` now: ``(True, "")``, ``(False, why-not-yet)``, or
    ``(False, why-never)`` with ``why-never`` starting with ``"failed: "``."""
    snap = dep.snapshot
    state = snap.state
    if state is State.FATAL:
        return False, f"failed: {snap.message or 'FATAL'}"
    if wanted == "started":
        return (state in _UP or (state is State.EXITED and dep.spawns > 0)), "not started"
    if wanted == "ready":
        return state is State.RUNNING, "not ready"
    if wanted == "healthy":
        return state is State.RUNNING and dep.healthy is not False, "not healthy"
    completed = state is State.EXITED or (state is State.STOPPED and snap.last_exit is not None)
    if not completed or snap.last_exit is None:
        return False, "not completed"
    if wanted == "completed" or dep.policy.expects(snap.last_exit):
        return True, ""
    return False, f"failed: completed with {snap.last_exit.describe()}"


class DependencyGate:
    """See the module docstring; ``runners`` is the Supervisor's own table (it changes)."""

    def __init__(self, runners: Mapping[str, ProgramRunner]) -> None:
        self._runners = runners
        self._held: dict[str, Hold] = {}
        self._watched: set[str] = set()
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self.graph = DependencyGraph({})
        self.refresh()

    def refresh(self) -> None:
        """Read the programs' ``depends_on`` again (after a reload); watch their dependencies."""
        self.graph = DependencyGraph(
            {name: r.program.depends_on for name, r in self._runners.items()}
        )
        for needs in self.graph.needs.values():
            for dep in needs:
                runner = self._runners.get(dep)
                if runner is not None and dep not in self._watched:
                    self._watched.add(dep)
                    runner.watch(self._watcher(dep))

    def _watcher(self, dep: str) -> Watcher:
        def heard(entered: tuple[lc.State, ...], snap: lc.Snapshot) -> bool:
            if self._runners.get(dep) is None:
                self._watched.discard(dep)
                return True
            self._changed(dep)
            return False

        return heard

    def unmet(self, runner: ProgramRunner) -> str:
        """Why ``runner`` may not start yet ("" when it may): the first unmet dependency."""
        for dep, wanted in runner.program.depends_on.items():
            other = self._runners.get(dep)
            if other is None:
                continue
            met, why = condition(wanted, other)
            if not met:
                return f"waiting for {dep}: {why}"
        return ""

    def want_up(self, runner: ProgramRunner, event: lc.Event | None = None) -> Hold | None:
        """Send ``event`` (WantUp) now if the dependencies allow, else hold it: the Hold."""
        event = event or lc.WantUp()
        why = self.unmet(runner)
        if not why:
            if runner.name not in self._held:
                runner.mark_asked()
            self.release(runner.name)
            runner.send(event)
            return None
        hold = self._held.get(runner.name)
        if hold is None:
            runner.mark_asked()
            hold = self._held[runner.name] = Hold(event)
        runner.set_waiting(why)
        if ": failed: " in why:
            self._fail(runner.name, why)
        return hold

    def release(self, name: str) -> None:
        """Forget a hold (the operator stopped the program, or it was started)."""
        hold = self._held.pop(name, None)
        runner = self._runners.get(name)
        if runner is not None:
            runner.set_waiting("")
        if hold is not None and not hold.failed.is_set():
            hold.released.set()

    def failure(self, name: str) -> str:
        """Why a held program can never start as things stand ("" when it still may)."""
        hold = self._held.get(name)
        return hold.reason if hold is not None and hold.failed.is_set() else ""

    def on_failure(self, name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` once ``name``'s hold fails; answers how to stop listening."""
        listeners = self._listeners.setdefault(name, [])
        listeners.append(callback)

        def unsubscribe() -> None:
            if callback in listeners:
                listeners.remove(callback)

        return unsubscribe

    def _fail(self, name: str, why: str) -> None:
        hold = self._held.get(name)
        if hold is not None and not hold.failed.is_set():
            hold.reason = why
            hold.failed.set()
            for callback in list(self._listeners.get(name, ())):
                callback()

    def _changed(self, dep: str) -> None:
        for name in sorted(self.graph.dependents(dep, transitive=False)):
            runner = self._runners.get(name)
            if runner is None:
                continue
            wanted = runner.program.depends_on[dep]
            if name in self._held:
                hold = self._held[name]
                why = self.unmet(runner)
                if not why:
                    self.release(name)
                    runner.send(hold.event)
                else:
                    runner.set_waiting(why)
                    if ": failed: " in why:
                        self._fail(name, why)
                continue
            snap = runner.snapshot
            if snap.want is not lc.Want.UP or snap.state not in _UP:
                continue
            met, why = condition(wanted, self._runners[dep])
            lasting = wanted in ("started", "ready", "healthy")
            if not met and (lasting or why.startswith("failed: ")):
                self._follow(runner, f"{dep}: {why}")

    def _follow(self, runner: ProgramRunner, why: str) -> None:
        policy = runner.program.on_dependency_failure
        if policy == "ignore":
            return
        runner.send(lc.WantDown())
        if policy == "restart":
            self._held[runner.name] = Hold(lc.WantUp())
            runner.set_waiting(f"waiting for {why}")
        else:
            runner.set_waiting(f"stopped: dependency {why}")
