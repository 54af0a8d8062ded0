"""A program's hooks, run for its runner: one at a time, each recorded and published.

The runner asks for a hook where its run meets it (hook_points.py: ``pre_start`` before a spawn,
``post_start`` on RUNNING, ``pre_stop`` and ``stop_command`` when a stop begins, ``post_stop``
once a run is over); this module runs it through helper_process.py (subreaper registration,
process group, SIGKILL of the group at its timeout or when cancelled), then writes a ``hook``
event into the history and pushes a ``change = "hook"`` event to followers. Hooks of one program
never overlap: a ``post_stop`` ends before the next ``pre_start`` begins. A hook the runner does
not wait for runs as a task in the daemon's nursery, cancelled (its group killed) when the
runner retires, and a ``post_start`` also when a stop begins or its run ends; ``wait_idle`` lets
a stop wait for those still running first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio

from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.helper_process import HelperResult, run_helper
from supervisord_lite.runtime.reports import noted, run_event

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from supervisord_lite import lifecycle as lc
    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.services import RunnerServices

__all__ = ["HOOK_ENV", "HOOK_KIND", "ProgramHooks"]

#: In a hook's environment: which hook it is (``pre_start``...).
HOOK_ENV: Final = "SUPERVISORD_LITE_HOOK"
#: The history's event kind for a hook run.
HOOK_KIND: Final = "hook"


_CANCELLED: Final = HelperResult(
    signal="KILL", error="killed: its run is over, or the daemon is going away"
)


class ProgramHooks:
    """See the module docstring. ``program`` and ``snapshot`` read the runner's current config
    (a reload may change the hooks) and snapshot."""

    __slots__ = (
        "_closed",
        "_idle",
        "_lock",
        "_name",
        "_program",
        "_running",
        "_scopes",
        "_services",
        "_snap",
    )

    def __init__(
        self,
        name: str,
        services: RunnerServices,
        program: Callable[[], ProgramConfig],
        snapshot: Callable[[], lc.Snapshot],
    ) -> None:
        self._name = name
        self._services = services
        self._program = program
        self._snap = snapshot
        self._lock = trio.Lock()
        self._running = 0
        self._idle: trio.Event | None = None
        self._scopes: dict[trio.CancelScope, str] = {}
        self._closed = False

    def has(self, hook: str) -> bool:
        return getattr(self._program(), hook) is not None

    async def run(self, hook: str, env: Mapping[str, str] | None = None) -> HelperResult | None:
        """Run ``hook`` (after any other hook of the program), record and publish how it
        ended; None when the program has no such hook. Cancelled by ``cancel``, it failed."""
        if not self._running and not self.has(hook):
            return None  # the common spawn of a program without hooks: no lock, no scope
        self._running += 1
        return await self._counted(hook, env or {})

    def start(self, hook: str, env: Mapping[str, str] | None = None) -> None:
        """Run ``hook`` in a task, when the program has it (``wait_idle`` waits for it from
        now on, before the task even began)."""
        if self.has(hook):
            self._running += 1
            name = f"{hook} {self._name}"
            self._services.nursery.start_soon(self._counted, hook, env or {}, name=name)

    async def _counted(self, hook: str, env: Mapping[str, str]) -> HelperResult | None:
        try:
            if self._closed:
                return _CANCELLED
            with trio.CancelScope() as scope:
                self._scopes[scope] = hook
                try:
                    async with self._lock:
                        return await self._run_now(hook, env)
                finally:
                    del self._scopes[scope]
            return _CANCELLED  # by ``cancel``
        finally:
            self._running -= 1
            if not self._running and self._idle is not None:
                self._idle.set()
                self._idle = None

    async def wait_idle(self) -> None:
        """Return once no hook of the program is running or waiting to run."""
        while self._running:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()

    def cancel(self, hook: str | None = None) -> None:
        """Kill the hooks of the program (only ``hook`` when given) that are running, and drop
        those waiting to run; without ``hook``, for good (the runner retired)."""
        if hook is None:
            self._closed = True
        for scope, name in self._scopes.items():
            if hook is None or name == hook:
                scope.cancel()

    async def _run_now(self, hook: str, env: Mapping[str, str]) -> HelperResult | None:
        program = self._program()
        spec = getattr(program, hook)
        if spec is None:
            return None
        services = self._services
        try:
            result = await run_helper(
                spec.command,
                program,
                cwd=services.base_dir,
                reaper=services.containment.reaper,
                extra_env={**env, HOOK_ENV: hook},
                kill_after=spec.timeout,
            )
        except trio.Cancelled:
            self._report(hook, _CANCELLED)
            raise
        self._report(hook, result)
        return result

    def _report(self, hook: str, result: HelperResult) -> None:
        said = f"{hook}: {result.describe()}"
        (log.info if result.ok else log.warning)("%s: %s", self._name, said)
        snap = self._snap()
        at = self._services.wall_clock()
        self._services.store.submit(
            run_event(
                self._name,
                snap,
                HOOK_KIND,
                at=at,
                reason=said,
                exit_code=result.code,
                exit_signal=result.signal,
            )
        )
        self._services.events.publish(noted(self._name, snap, "hook", said, at=at))
