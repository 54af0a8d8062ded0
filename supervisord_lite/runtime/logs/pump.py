"""A spawn's pipes: child pipe -> the program's stream (queue, file, followers).

Each spawn gets fresh pipes (``RunLogs``): the child has the write ends, the daemon closes its
copies right after the spawn, and a ``Pump`` per read end moves bytes from the pipe into the
stream (``streams.LogStream``). The pump reads up to ``READ_SIZE`` at a time and never looks
inside the bytes: no line splitting on the hot path. It hands each chunk to the followers first
(so a follower sees a line as soon as it is read), then to the queue; under the ``block`` policy
a full queue makes the pump hold the chunk until the writer takes bytes out, and meanwhile it
does not read, so the kernel holds the program.

A daemon runs thousands of these, nearly all idle, so an idle pipe is kept small: no task parks
on it (one ``FdWatch`` task watches every pipe of the daemon and calls the pump of a readable
one), and no wakeup object exists until somebody waits. Nothing here wakes on a timer.

Exit (docs/architecture.md, "Kernel facts"): when the leader exits, everything it
wrote is already in the pipe, so ``RunLogs.drain`` waits, with a bound, until the pumps have read
the pipe empty and the writer has put those bytes in the file; only then is the exit recorded
and published. The pipe itself may stay open, held by the rest of the group or by a descendant
that left it; once the program is over, ``linger`` gives the pumps a last bound to reach the end
of the stream, after which they are stopped and the daemon closes its read end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import subprocess
import termios
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from supervisord_lite.runtime.fdwatch import FdWatch
    from supervisord_lite.runtime.logs.streams import LogStream
    from supervisord_lite.runtime.logs.writer import FileWriter

#: The most one read takes from a pipe. Larger reads measured slower: glibc serves a buffer of
#: 1 MiB with a fresh mmap (a page fault per 4 KiB, twice the CPU of the whole relay), while
#: buffers up to 512 KiB are recycled from the heap.
READ_SIZE = 256 * 1024
#: The pipe size asked for (fewer wake-ups under a flood); the kernel may grant less.
PIPE_SIZE = 1024 * 1024
#: After the leader exits: how long its last output may take to reach the file.
DRAIN_GRACE = 5.0
#: After the program is over: how long a pipe held open by a descendant is still read.
LINGER = 2.0

_INT = struct.Struct("i")


def _pipe() -> tuple[int, int]:
    """A close-on-exec pipe with a non-blocking read end: (read, write)."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    os.set_blocking(read_end, False)
    return read_end, write_end


def _pending(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    return int(_INT.unpack(fcntl.ioctl(fd, termios.FIONREAD, bytes(_INT.size)))[0])


class Pump:
    """Moves bytes from one pipe's read end into a stream until the end of the stream: its
    ``FdWatch`` calls ``read`` whenever the pipe is readable."""

    def __init__(self, fd: int, stream: LogStream, readiness: FdWatch) -> None:
        self.fd = fd
        self.stream = stream
        self.readiness = readiness
        #: The pipe is closed: the stream ended, or the pump was stopped.
        self.done = False
        #: A chunk the full queue refused (``block``); the pipe is not read until it is queued.
        self._held: bytes | None = None
        self._progress: trio.Event | None = None

    def read(self) -> None:
        """Read one chunk (the pipe is readable) and hand it on."""
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self._close()
            return
        self.stream.publish(data)
        if self.stream.queue(data):
            self._signal()
            return
        self._held = data
        self.readiness.pause(self.fd)
        self.stream.writer.when_room(self._retry)

    def _retry(self) -> None:
        data = self._held
        if self.done or data is None:
            return
        if not self.stream.queue(data):
            self.stream.writer.when_room(self._retry)
            return
        self._held = None
        self.readiness.resume(self.fd)
        self._signal()

    def stop(self) -> None:
        """Stop reading now and close the pipe; a chunk the queue refused is counted as not
        queued."""
        if self.done:
            return
        if self._held is not None:
            self.stream.counters.dropped_unqueued += len(self._held)
        self._close()

    def _close(self) -> None:
        self.readiness.remove(self.fd)
        self._held = None
        self.done = True
        os.close(self.fd)
        self.stream.end_of_input()
        self._signal()

    def _signal(self) -> None:
        if self._progress is not None:
            self._progress.set()
            self._progress = None

    async def _wait_progress(self) -> None:
        if self._progress is None:
            self._progress = trio.Event()
        await self._progress.wait()

    def caught_up(self) -> bool:
        """Whether everything in the pipe now has been read and queued (or it ended)."""
        return self.done or (self._held is None and _pending(self.fd) == 0)

    async def wait_caught_up(self) -> None:
        """Return once everything in the pipe now has been read and queued (or it ended)."""
        while not self.caught_up():
            await self._wait_progress()

    async def wait_done(self) -> None:
        """Return once the pump closed its pipe."""
        while not self.done:
            await self._wait_progress()


async def _cancel_when_failing(writer: FileWriter, scope: trio.CancelScope) -> None:
    await writer.wait_failing()
    scope.cancel()


class RunLogs:
    """The pipes of one spawn: the child's ends (``stdout``/``stderr``, as ``spawn`` takes
    them) and a pump on each read end."""

    def __init__(self, readiness: FdWatch) -> None:
        self.stdout: int = subprocess.DEVNULL
        self.stderr: int = subprocess.DEVNULL
        self.pumps: list[Pump] = []
        self._readiness = readiness
        self._child_ends: list[int] = []
        self._started = False

    def add_pipe(self, stream: LogStream) -> int:
        """A pipe into ``stream``; returns the child's end."""
        read_end, write_end = _pipe()
        self.pumps.append(Pump(read_end, stream, self._readiness))
        self._child_ends.append(write_end)
        return write_end

    def close_child_ends(self) -> None:
        """Close the daemon's copies of the child's ends (after the spawn, whatever happened);
        pumps that were not started are dropped with their read ends."""
        for fd in self._child_ends:
            os.close(fd)
        self._child_ends.clear()
        if not self._started:
            for pump in self.pumps:
                os.close(pump.fd)
            self.pumps.clear()

    def start(self, nursery: trio.Nursery) -> None:
        self._started = True
        for pump in self.pumps:
            pump.stream.start(nursery)
            self._readiness.add(pump.fd, pump.read, nursery)

    def drained(self) -> bool:
        """Whether what the leader wrote is read and in the files already: the usual case at
        an exit, with nothing in flight and nothing to wait for."""
        return all(p.caught_up() and p.stream.written() for p in self.pumps)

    async def drain(self, grace: float = DRAIN_GRACE) -> bool:
        """After the leader's exit: wait until what it wrote is read and in the files.

        Bounded by ``grace``, and over at once (False) when a file cannot be written: a full
        disk does not hold up the exit. True when everything got there.
        """
        if self.drained():
            return True
        drained = False
        with trio.move_on_after(grace):
            async with trio.open_nursery() as nursery:
                for stream in {id(p.stream): p.stream for p in self.pumps}.values():
                    nursery.start_soon(_cancel_when_failing, stream.writer, nursery.cancel_scope)
                for pump in self.pumps:
                    await pump.wait_caught_up()
                drained = True
                for pump in self.pumps:
                    drained = await pump.stream.wait_written() and drained
                nursery.cancel_scope.cancel()
        return drained

    def linger(self, seconds: float = LINGER) -> None:
        """The program is over: read each pipe until its end, but for ``seconds`` at most."""
        deadline = trio.current_time() + seconds
        for pump in self.pumps:
            if not pump.done:
                self._readiness.expire(pump.fd, deadline, pump.stop)

    def stop(self) -> None:
        """Stop reading now (the program is being removed)."""
        for pump in self.pumps:
            pump.stop()
