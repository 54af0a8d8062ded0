"""Watching one run end: its leader's exit, its output, the rest of its processes.

A running program has no task waiting for it: the leader's pidfd is registered with the
daemon's ``FdWatch``, and becomes readable when the leader exits (docs/architecture.md, "Kernel
facts"). In the usual exit (what the leader wrote is already in the log files and no other
process of the run is left) the run is settled right in that callback, so the exit reaches the
runner one scheduling round after the kernel reported it. Only a run that outlives its leader,
or output still on its way to the files, gets a task (in the daemon's shared nursery) that waits
for the rest. The owner hears ``Exited`` and, if the group outlived the leader, ``GroupEmpty``.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Protocol

from supervisord_lite import lifecycle as lc

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import trio

    from supervisord_lite.runtime.containment import RunScope
    from supervisord_lite.runtime.fdwatch import FdWatch
    from supervisord_lite.runtime.logs.pump import RunLogs


def exit_status(returncode: int) -> lc.ExitStatus:
    """subprocess' return code (negative for a signal) as an ExitStatus."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name.removeprefix("SIG")
        except ValueError:
            name = str(-returncode)
        return lc.ExitStatus(signal=name)
    return lc.ExitStatus(code=returncode)


class RunOwner(Protocol):
    """What an ``ExitWatch`` tells and asks of the runner that owns the run."""

    def send(self, event: lc.Event) -> None:
        """Step the lifecycle with ``event``."""

    def reaped(self, process: trio.Process, scope: RunScope) -> None:
        """The leader was reaped."""

    def start_task(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` in a task the owner cancels when it retires."""


class ExitWatch:
    """Waits for one run to end; see the module docstring."""

    __slots__ = ("_fd", "_fdwatch", "_logs", "_owner", "_process", "_scope")

    def __init__(
        self,
        process: trio.Process,
        scope: RunScope,
        logs: RunLogs,
        owner: RunOwner,
        fdwatch: FdWatch,
    ) -> None:
        self._process = process
        self._scope = scope
        self._logs = logs
        self._owner = owner
        self._fdwatch = fdwatch
        self._fd = -1

    def start(self, nursery: trio.Nursery) -> None:
        """Begin watching; ``nursery`` holds the fd watcher's task if it is not running yet."""
        try:
            self._fd = os.pidfd_open(self._process.pid)
        except OSError:  # out of descriptors: a task waits on the process instead
            self._owner.start_task(self._wait)
            return
        self._fdwatch.add(self._fd, self._exited, nursery)

    def cancel(self) -> None:
        """Stop watching the pidfd (the owner retires); a waiting task is the owner's to end."""
        if self._fd >= 0:
            self._fdwatch.remove(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _exited(self) -> None:
        """The leader's pidfd is readable: settle the usual exit here, or wait in a task."""
        self.cancel()
        returncode = self._process.poll()
        if returncode is not None and self._logs.drained() and not self._scope.alive():
            self._owner.reaped(self._process, self._scope)
            self._owner.send(lc.Exited(status=exit_status(returncode), group_alive=False))
            self._over()
            return
        self._owner.start_task(self._wait)

    async def _wait(self) -> None:
        """Reap the leader (it has exited, or is waited for here), then wait for the rest of
        the run.

        What the leader wrote before it died is in its log file before its exit is recorded
        and published (bounded: see ``RunLogs.drain``).
        """
        returncode = await self._process.wait()
        self._owner.reaped(self._process, self._scope)
        await self._logs.drain()
        alive = self._scope.alive()
        self._owner.send(lc.Exited(status=exit_status(returncode), group_alive=alive))
        if alive:
            await self._scope.wait_empty()
            self._owner.send(lc.GroupEmpty())
        self._over()

    def _over(self) -> None:
        """No process of the run is left: read its pipes to their end (briefly), drop its
        cgroup."""
        self._logs.linger()
        self._scope.release()
