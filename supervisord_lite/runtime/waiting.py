"""Waiting for programs to reach a state or to be ready, without sending them anything.

Each wait is a watcher of the runner's steps (program.py), so it wakes on the step itself; a
program held by a dependency that failed (dependencies.py) is told at once that it will not
get there. Callers bound the waits.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.protocol.messages import ActionResult
from supervisord_lite.runtime.concurrently import gather

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supervisord_lite.protocol.messages import ProgramState
    from supervisord_lite.runtime.dependencies import DependencyGate
    from supervisord_lite.runtime.program import ProgramRunner

__all__ = ["wait_ready", "wait_state"]


async def wait_state(
    runners: Sequence[ProgramRunner], state: ProgramState
) -> tuple[ActionResult, ...]:
    """Block until every one of ``runners`` is in ``state``."""

    async def one(runner: ProgramRunner) -> ActionResult:
        if runner.snapshot.state is not state:
            reached = trio.Event()

            def watcher(entered: tuple[lc.State, ...], snap: lc.Snapshot) -> bool:
                if state in entered or snap.state is state:
                    reached.set()
                return reached.is_set()

            runner.watch(watcher)
            try:
                await reached.wait()
            finally:
                runner.unwatch(watcher)
        return ActionResult(name=runner.name, ok=True, state=state)

    return tuple(await gather([functools.partial(one, r) for r in runners]))


async def wait_ready(
    gate: DependencyGate, runners: Sequence[ProgramRunner]
) -> tuple[ActionResult, ...]:
    """Block until every one of ``runners`` is ready (RUNNING); one that can no longer get
    there (FATAL, or held by a dependency that failed) answers at once, not ok, with why."""

    def verdict(runner: ProgramRunner) -> ActionResult | None:
        snap = runner.snapshot
        if snap.state is lc.State.RUNNING:
            return ActionResult(name=runner.name, ok=True, state=snap.state)
        if snap.state is lc.State.FATAL:
            why = snap.message or "FATAL"
            return ActionResult(name=runner.name, ok=False, state=snap.state, message=why)
        failed = gate.failure(runner.name)
        if failed:
            return ActionResult(name=runner.name, ok=False, state=snap.state, message=failed)
        return None

    async def one(runner: ProgramRunner) -> ActionResult:
        settled = verdict(runner)
        if settled is not None:
            return settled
        done = trio.Event()

        def watcher(entered: tuple[lc.State, ...], snap: lc.Snapshot) -> bool:
            if lc.State.RUNNING in entered or verdict(runner) is not None:
                done.set()
            return done.is_set()

        runner.watch(watcher)
        unsubscribe = gate.on_failure(runner.name, done.set)
        try:
            await done.wait()
        finally:
            runner.unwatch(watcher)
            unsubscribe()
        return verdict(runner) or ActionResult(name=runner.name, ok=True, state=lc.State.RUNNING)

    return tuple(await gather([functools.partial(one, r) for r in runners]))
