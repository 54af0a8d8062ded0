"""One runner's start, stop or restart, and the verdict the caller hears.

Requests never reach into a runner's state: they send it an event and hear the steps from that
event on, until ``lifecycle.judge`` says the program reached the goal or clearly failed to. A
start waits at the dependency gate (dependencies.py) first, and wants up what the program needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.protocol.messages import ActionResult

if TYPE_CHECKING:
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["LEAVING", "restart_one", "result", "start_one", "stop_one"]

LEAVING = "being removed"
"""Why a runner being taken away (``ProgramRunner.leaving``) does not start."""


class _Request:
    """A start, stop or restart waiting for its verdict: a watcher of its runner."""

    __slots__ = ("done", "goal", "policy", "verdict")

    def __init__(self, goal: lc.Want, policy: lc.Policy) -> None:
        self.goal = goal
        self.policy = policy
        self.verdict: lc.Verdict | None = None
        self.done = trio.Event()

    def __call__(self, entered: tuple[lc.State, ...], snap: lc.Snapshot) -> bool:
        self.verdict = lc.judge(self.goal, entered, snap, self.policy)
        if self.verdict is None:
            return False
        self.done.set()
        return True

    def result(self, name: str, said: str = "") -> ActionResult:
        """The outcome the verdict gives (once ``done``), with ``said`` after its message."""
        verdict = self.verdict
        assert verdict is not None
        return ActionResult(
            name=name, ok=verdict.ok, state=verdict.state, message=verdict.message + said
        )


async def start_one(sup: Supervisor, runner: ProgramRunner, wait: bool = True) -> ActionResult:
    if runner.leaving:
        return result(runner, ok=False, message=LEAVING)
    if runner.snapshot.state is lc.State.RUNNING:
        runner.send(lc.WantUp())
        return result(runner, ok=True, message="already running")
    needed = _start_dependencies(sup, runner)
    first = f"; started first: {', '.join(needed)}" if needed else ""
    request = _Request(lc.Want.UP, runner.policy)
    runner.watch(request)
    try:
        hold = sup.gate.want_up(runner)
        if not wait:
            under_way = runner.waiting_for if hold is not None else "starting"
            return result(runner, ok=True, message=under_way + first)
        if hold is not None:
            await _first_of(request.done, hold.failed)
            if not request.done.is_set():
                sup.gate.release(runner.name)
                return result(runner, ok=False, message=hold.reason)
        await request.done.wait()
    finally:
        runner.unwatch(request)
    return request.result(runner.name, first)


def _start_dependencies(sup: Supervisor, runner: ProgramRunner) -> list[str]:
    """Want up what ``runner`` needs and nobody wants up yet, dependencies first; their
    names."""
    started = []
    for level in sup.gate.graph.levels([runner.name]):
        for name in level:
            other = sup.runners[name]
            if name != runner.name and other.snapshot.want is lc.Want.DOWN:
                sup.gate.want_up(other)
                started.append(name)
    return started


async def stop_one(sup: Supervisor, runner: ProgramRunner, wait: bool = True) -> ActionResult:
    sup.gate.release(runner.name)
    if runner.snapshot.state is lc.State.STOPPED:
        runner.send(lc.WantDown())
        return result(runner, ok=True, message="already stopped")
    return await _request(runner, lc.WantDown(), lc.Want.DOWN, wait, "stopping")


async def restart_one(sup: Supervisor, runner: ProgramRunner, wait: bool = True) -> ActionResult:
    if runner.leaving:
        return result(runner, ok=False, message=LEAVING)
    return await _request(runner, lc.Restart(), lc.Want.UP, wait, "restarting")


async def _request(
    runner: ProgramRunner, event: lc.Event, goal: lc.Want, wait: bool, under_way: str
) -> ActionResult:
    """Send ``event``; with ``wait``, hear the steps from it on until one settles ``goal``
    (``lifecycle.judge``), else answer ``under_way`` at once."""
    if not wait:
        runner.send(event)
        return result(runner, ok=True, message=under_way)
    request = _Request(goal, runner.policy)
    runner.watch(request)
    try:
        runner.send(event)
        await request.done.wait()
    finally:
        runner.unwatch(request)
    return request.result(runner.name)


def result(runner: ProgramRunner, ok: bool, message: str = "") -> ActionResult:
    """An answer from the runner's state now."""
    return ActionResult(name=runner.name, ok=ok, state=runner.snapshot.state, message=message)


async def _first_of(*events: trio.Event) -> None:
    """Return once any of ``events`` is set."""
    if any(e.is_set() for e in events):
        return
    async with trio.open_nursery() as nursery:

        async def wait(event: trio.Event) -> None:
            await event.wait()
            nursery.cancel_scope.cancel()

        for event in events:
            nursery.start_soon(wait, event)
