"""Waiting for many file descriptors at once, from one task.

trio parks one task per file descriptor it waits on, and such a task, with its frames and its
registration, costs about 2.5 KiB. The daemon waits on three descriptors per program (two pipes
and the leader's pidfd), nearly all of them idle nearly all the time: with a thousand programs
that would be 7 MiB of tasks doing nothing. ``FdWatch`` registers them in one epoll set of its
own and parks one task on that set. When the set is readable each ready descriptor's callback
is called, in turn, and the set is looked at again after a checkpoint, so the rest of the daemon
runs between two rounds and a descriptor that stays readable (a pipe under a flood) gets one
callback per round, like any other.

Callbacks are plain functions and must not block: they read what is there, or start a task. A
descriptor can be paused (it leaves the set until resumed, e.g. while its queue is full) and
given a deadline, at which a second callback is called unless the descriptor was removed
before: the only timers here, which exist only while asked for. Idle, the task sleeps on the
set and nothing else. It runs only while descriptors are registered, in the nursery given at
construction, else in the one the first descriptor came with.
"""

from __future__ import annotations

import math
import select
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Callable


#: The most descriptors handled in one round (the rest are still ready in the next).
_BATCH = 64


class FdWatch:
    """Calls back when registered file descriptors are readable; see the module docstring."""

    def __init__(self, nursery: trio.Nursery | None = None) -> None:
        self._nursery = nursery
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._paused: set[int] = set()
        self._deadlines: dict[int, tuple[float, Callable[[], None]]] = {}
        self._epoll: select.epoll | None = None
        self._running = False
        self._waiting: trio.CancelScope | None = None

    def add(self, fd: int, callback: Callable[[], None], nursery: trio.Nursery) -> None:
        """Call ``callback()`` whenever ``fd`` is readable, until ``remove(fd)``."""
        if self._epoll is None:
            self._epoll = select.epoll()
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback
        if not self._running:
            self._running = True
            (self._nursery or nursery).start_soon(self._run, self._epoll, name="readiness")

    def pause(self, fd: int) -> None:
        """No callbacks for ``fd`` until ``resume(fd)``."""
        assert self._epoll is not None
        self._epoll.unregister(fd)
        self._paused.add(fd)

    def resume(self, fd: int) -> None:
        assert self._epoll is not None
        self._paused.remove(fd)
        self._epoll.register(fd, select.EPOLLIN)

    def expire(self, fd: int, deadline: float, callback: Callable[[], None]) -> None:
        """Call ``callback()`` at ``deadline`` unless ``fd`` is removed first (an earlier
        deadline already set stays)."""
        if fd not in self._callbacks:
            return
        current = self._deadlines.get(fd)
        if current is not None and current[0] <= deadline:
            return
        self._deadlines[fd] = (deadline, callback)
        if self._waiting is not None:
            self._waiting.deadline = min(self._waiting.deadline, deadline)

    def remove(self, fd: int) -> None:
        """Forget ``fd`` (before it is closed); nothing if it is not registered."""
        if self._callbacks.pop(fd, None) is None:
            return
        self._deadlines.pop(fd, None)
        if fd in self._paused:
            self._paused.remove(fd)
        elif self._epoll is not None:
            self._epoll.unregister(fd)
        if not self._callbacks and self._waiting is not None:
            self._waiting.cancel()  # nothing left to wait for: the task ends

    async def _run(self, epoll: select.epoll) -> None:
        callbacks = self._callbacks
        try:
            while callbacks:
                if self._deadlines:
                    self._expire(trio.current_time())
                    if not callbacks:
                        break
                ready = epoll.poll(0, _BATCH)
                if ready:
                    for fd, _ in ready:
                        callback = callbacks.get(fd)
                        if callback is not None:
                            callback()
                    await trio.lowlevel.checkpoint()
                    continue
                deadline = min((d for d, _ in self._deadlines.values()), default=math.inf)
                with trio.CancelScope(deadline=deadline) as self._waiting:
                    await trio.lowlevel.wait_readable(epoll.fileno())
                self._waiting = None
        finally:
            # Cancelled with descriptors left (the daemon is going away): their owners close them.
            self._waiting = None
            self._running = False
            self._epoll = None
            callbacks.clear()
            self._paused.clear()
            self._deadlines.clear()
            epoll.close()

    def _expire(self, now: float) -> None:
        for fd, (deadline, callback) in list(self._deadlines.items()):
            # An earlier callback may have removed this descriptor already.
            if deadline <= now and self._deadlines.pop(fd, None) is not None:
                callback()
