"""Program deadlines on one timerfd, so a stop escalates when its timeout says, not later.

trio's own timers wake its loop through ``epoll_wait``, whose timeout is whole milliseconds
rounded up: a 1.0 s stop timeout would send its SIGKILL 1-2 ms late. A timerfd armed at the
absolute monotonic time of the earliest deadline wakes the loop as its fd becomes readable, on
time to within the scheduler's latency. With no deadline pending the timerfd is disarmed:
nothing wakes an idle daemon.

Deadlines are kept in trio's time; each is converted to CLOCK_MONOTONIC only to arm the timer,
and a timer that fires a hair early (the two clocks are read a few microseconds apart) is armed
again for the rest, so a callback never runs before its deadline.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import heapq
import itertools
import os
import struct
import time
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Callable

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TIMESPEC_PAIR = struct.Struct("qqqq")  # struct itimerspec: it_interval, it_value
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _timerfd() -> int:
    fd = _libc.timerfd_create(_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"timerfd_create: {os.strerror(errno)}")
    return int(fd)


def _arm(fd: int, monotonic_at: float | None) -> None:
    """Arm the timer for an absolute CLOCK_MONOTONIC time (None: disarm)."""
    if monotonic_at is None:
        seconds = nanos = 0
    else:
        # Zero would disarm: a time already past is armed a nanosecond in, and fires at once.
        total = max(1, round(monotonic_at * 1e9))
        seconds, nanos = divmod(total, 1_000_000_000)
    spec = ctypes.create_string_buffer(_TIMESPEC_PAIR.pack(0, 0, seconds, nanos))
    if _libc.timerfd_settime(fd, _TFD_TIMER_ABSTIME, spec, None) < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"timerfd_settime: {os.strerror(errno)}")


class Deadlines:
    """Runs callbacks at trio times, precisely; ``run`` is the one task that waits."""

    def __init__(self) -> None:
        self._fd = _timerfd()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._armed_for: float | None = None

    def at(self, deadline: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` once trio's clock reaches ``deadline``. Callers that change their
        mind are expected to ignore a call that came for an old deadline."""
        heapq.heappush(self._heap, (deadline, next(self._order), callback))
        if self._armed_for is None or deadline < self._armed_for:
            self._rearm()

    def _rearm(self) -> None:
        if not self._heap:
            self._armed_for = None
            _arm(self._fd, None)
            return
        deadline = self._heap[0][0]
        self._armed_for = deadline
        _arm(self._fd, deadline - trio.current_time() + time.monotonic())

    async def run(self) -> None:
        """Fire due callbacks as the timer expires, until cancelled."""
        try:
            while True:
                await trio.lowlevel.wait_readable(self._fd)
                try:
                    os.read(self._fd, 8)
                except BlockingIOError:
                    continue
                now = trio.current_time()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2]()
                self._rearm()
        finally:
            os.close(self._fd)
