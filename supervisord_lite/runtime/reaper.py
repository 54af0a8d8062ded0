"""The child subreaper: adopted orphans become our children, and we reap them, only them.

With ``PR_SET_CHILD_SUBREAPER`` a descendant whose parent dies is re-parented to the daemon
instead of init, so a program's escaped descendants stay within reach (see containment.py) and,
as PID 1 of a container, every zombie in the namespace lands here.

Reaping must never steal the exit status of a child trio is waiting for: a stolen status reads
as exit 0 (docs/architecture.md, "Kernel facts"). So the reaper reaps only children it can
name and that are not managed: it lists our children from /proc/self/task/*/children and skips
the pids registered as managed, and it does nothing while a spawn is in flight, when a new
child exists that is not registered yet (it catches up as soon as the spawn is registered).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

import trio

from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.process_groups import NO_FD_RETRY, OUT_OF_FDS

if TYPE_CHECKING:
    from collections.abc import Iterator

PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def become_subreaper() -> bool:
    """Make this process a child subreaper; False if the kernel refused."""
    return bool(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def our_children() -> list[int]:
    """Pids of this process' children (of any of its threads), zombies included.

    Raises:
        OSError: out of descriptors (``OUT_OF_FDS``), /proc could not be read.
    """
    pids: list[int] = []
    with os.scandir("/proc/self/task") as tasks:
        for task in tasks:
            try:
                with open(f"/proc/self/task/{task.name}/children") as f:
                    pids.extend(int(p) for p in f.read().split())
            except OSError as exc:
                if exc.errno in OUT_OF_FDS:
                    raise  # a partial list would pass for a complete one
                continue  # the thread has ended
    return pids


class Reaper:
    """Reaps adopted orphans on SIGCHLD; see the module docstring."""

    def __init__(self) -> None:
        self.managed: set[int] = set()
        self.reaped = 0
        self._spawning = 0
        self._pending = False
        #: The last reap could not list our children (out of descriptors).
        self._starved = False

    @contextmanager
    def spawning(self) -> Iterator[None]:
        """Hold reaping off while a child is being spawned and not yet registered."""
        self._spawning += 1
        try:
            yield
        finally:
            self._spawning -= 1
            if not self._spawning and self._pending:
                self.reap()

    def manage(self, pid: int) -> None:
        self.managed.add(pid)

    def release(self, pid: int) -> None:
        """Forget a managed child once its owner has reaped it."""
        self.managed.discard(pid)

    def reap(self) -> int:
        """Reap every exited child that nobody else waits for; how many were reaped.

        Out of descriptors, our children cannot be listed: the reap is retried (see ``run``).
        """
        if self._spawning:
            self._pending = True
            return 0
        self._pending = False
        try:
            children = our_children()
        except OSError as exc:
            if exc.errno not in OUT_OF_FDS:
                raise
            if not self._starved:
                log.warning("cannot list adopted children (%s); retrying", exc.strerror)
            self._starved = True
            return 0
        self._starved = False
        count = 0
        for pid in children:
            if pid in self.managed:
                continue
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                count += 1
                log.debug("reaped adopted pid %d (%s)", pid, _describe(status))
        self.reaped += count
        return count

    async def run(self) -> None:
        """Reap on every SIGCHLD until cancelled, and every ``NO_FD_RETRY`` seconds while a
        reap failed for want of descriptors."""
        with trio.open_signal_receiver(signal.SIGCHLD) as signals:
            self.reap()
            while True:
                with trio.move_on_after(NO_FD_RETRY if self._starved else math.inf):
                    await signals.__anext__()
                self.reap()


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.waitstatus_to_exitcode(status)}"
