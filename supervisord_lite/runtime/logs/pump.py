"""A program's output: child pipes -> bounded queue -> log file, and -> followers.

Each captured stream of a program (stdout, stderr; or one merged stream; a stream configured
``none`` goes to /dev/null and one configured ``inherit`` to the daemon's own stdout or stderr,
neither captured) has one ``LogStream`` for as long as the program
is configured: a ``LogBuffer`` (the bounded queue and its policy), a ``FileWriter`` (which
writes the queue to the rotating file in a worker thread, off the event loop) and the counters.
Followers and counters therefore carry on across restarts.

Each spawn gets fresh pipes (``RunLogs``): the child has the write ends, the daemon closes its
copies right after the spawn, and a ``Pump`` per read end moves bytes from the pipe into the
stream. The pump reads up to ``READ_SIZE`` at a time and never looks inside the bytes: no line
splitting on the hot path. It hands each chunk to the followers first (so a follower sees a line
as soon as it is read), then to the queue; under the ``block`` policy a full queue makes the
pump hold the chunk until the writer takes bytes out, and meanwhile it does not read, so the
kernel holds the program.

A daemon runs thousands of these, nearly all idle, so an idle stream is kept small: no task
parks on its pipe (one ``FdWatch`` task watches every pipe of the daemon and calls the pump
of a readable one), none on its queue (the writer has no task), and no wakeup object exists
until somebody waits. Nothing here wakes on a timer: the pipes are watched, and the writer
runs when bytes are queued.

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

from supervisord_lite.config import INHERIT
from supervisord_lite.logbuffer import LogBuffer, OverflowPolicy
from supervisord_lite.protocol.messages import LogStreamStats
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.fdwatch import FdWatch
from supervisord_lite.runtime.logs.files import RotatingFile
from supervisord_lite.runtime.logs.writer import FileWriter

if TYPE_CHECKING:
    from supervisord_lite.config import LogConfig, ProgramConfig
    from supervisord_lite.protocol.messages import Stream
    from supervisord_lite.runtime.fanout import LogFanOut

#: The most one read takes from a pipe. Larger reads measured slower: glibc serves a buffer of
#: 1 MiB with a fresh mmap (a page fault per 4 KiB, twice the CPU of the whole relay), while
#: buffers up to 512 KiB are recycled from the heap.
READ_SIZE = 256 * 1024
#: The daemon's own stdout and stderr, the target of a stream set to ``inherit``.
DAEMON_STDOUT = 1
DAEMON_STDERR = 2
#: The pipe size asked for (fewer wake-ups under a flood); the kernel may grant less.
PIPE_SIZE = 1024 * 1024
#: After the leader exits: how long its last output may take to reach the file.
DRAIN_GRACE = 5.0
#: After the program is over: how long a pipe held open by a descendant is still read.
LINGER = 2.0
#: When a program is removed or the daemon stops: how long its queue may take to reach the file.
CLOSE_GRACE = 5.0

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


class LogStream:
    """One program stream: its queue, its file writer and its counters."""

    def __init__(
        self, program: str, stream: Stream, path: str, config: LogConfig, fanout: LogFanOut
    ) -> None:
        self.program = program
        self.stream: Stream = stream
        self.path = path
        self.buffer = LogBuffer(config.queue_bytes, OverflowPolicy(config.overflow))
        self.file = RotatingFile(
            path,
            max_bytes=config.max_bytes,
            backups=config.backups,
            timestamps=config.timestamps,
        )
        self.writer = FileWriter(f"{program} {stream}", self.file, self.buffer)
        self.bytes_read = 0
        #: Bytes read from a pipe whose pump was stopped before they could be queued.
        self.bytes_unqueued = 0
        self.lag_events = 0
        self.lagged_bytes = 0
        self._fanout = fanout
        self._started = False

    def prepare(self) -> None:
        """Open the log file before a spawn, if it is not open.

        Raises:
            LogPathError: the path is refused (a symlink, an unsafe folder...).
        """
        if not self.writer.busy:
            self.file.open()

    def start(self, nursery: trio.Nursery) -> None:
        """Start the writer (once)."""
        if not self._started:
            self._started = True
            self.writer.start(nursery)

    def publish(self, data: bytes) -> None:
        """Count a chunk read from the pipe and hand it to the followers."""
        self.bytes_read += len(data)
        lags, missed = self._fanout.publish(self.program, self.stream, data)
        if missed:
            self.lag_events += lags
            self.lagged_bytes += missed

    def queue(self, data: bytes) -> bool:
        """Queue a published chunk for the file; False when the queue refused it (``block``:
        offer it again once the writer made room)."""
        if not self.buffer.put(data):
            return False
        self.writer.kick()
        return True

    async def wait_written(self) -> bool:
        """Wait until what was queued so far is in the file; False if writing fails."""
        return await self.writer.wait_settled(self.buffer.statistics().bytes_in)

    def written(self) -> bool:
        """Whether everything queued so far is in the file (or was dropped) already."""
        return self.writer.settled >= self.buffer.statistics().bytes_in

    @property
    def bytes_dropped(self) -> int:
        return (
            self.buffer.statistics().bytes_dropped + self.writer.bytes_dropped + self.bytes_unqueued
        )

    async def aclose(self, grace: float, *, dropped_before: int | None = None) -> None:
        """Drain the queue to the file within ``grace`` seconds and close it; say in the
        daemon's log what was lost since ``dropped_before`` (the ``bytes_dropped`` of when the
        closing began) because of the close."""
        before = self.bytes_dropped if dropped_before is None else dropped_before
        if self._started:
            await self.writer.aclose(grace)
        else:
            self.file.close()
        lost = self.bytes_dropped - before
        if lost:
            why = self.writer.error or "the queue did not drain in time"
            label = self.writer.label
            log.error("%s: %d bytes could not be written to %s (%s)", label, lost, self.path, why)

    def statistics(self) -> LogStreamStats:
        buffered = self.buffer.statistics()
        writer = self.writer
        return LogStreamStats(
            stream=self.stream,
            path=self.path,
            policy=buffered.policy.value,
            capacity=buffered.capacity,
            bytes_read=self.bytes_read,
            bytes_written=writer.bytes_written,
            bytes_dropped=buffered.bytes_dropped + writer.bytes_dropped + self.bytes_unqueued,
            held_back=buffered.held_back,
            depth=buffered.depth + writer.carried,
            peak_depth=buffered.peak_depth,
            write_errors=writer.write_errors,
            error=writer.error,
            followers=self._fanout.followers(self.program, self.stream),
            lagged=self.lag_events,
            lagged_bytes=self.lagged_bytes,
        )


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
            self.stream.bytes_unqueued += len(self._held)
        self._close()

    def _close(self) -> None:
        self.readiness.remove(self.fd)
        self._held = None
        self.done = True
        os.close(self.fd)
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


class ProgramLogs:
    """Everything about one program's output; see the module docstring."""

    def __init__(
        self, program: ProgramConfig, fanout: LogFanOut, readiness: FdWatch | None = None
    ) -> None:
        """``readiness`` watches the pipes; the daemon shares one between all programs
        (without one, the program gets its own, whose task runs in the nursery its runs start
        in)."""
        config = program.log
        self.name = program.name
        self.merge = config.merge
        #: The streams written straight to the daemon's own stdout or stderr.
        self.inherit_stdout = config.stdout == INHERIT
        self.inherit_stderr = config.stderr == INHERIT
        self.stdout = (
            LogStream(program.name, "stdout", config.stdout, config, fanout)
            if config.stdout is not None and not self.inherit_stdout
            else None
        )
        self.stderr = (
            LogStream(program.name, "stderr", config.stderr, config, fanout)
            if config.stderr is not None and not config.merge and not self.inherit_stderr
            else None
        )
        self._runs: list[RunLogs] = []
        self.readiness = readiness if readiness is not None else FdWatch()

    @property
    def streams(self) -> list[LogStream]:
        return [s for s in (self.stdout, self.stderr) if s is not None]

    def not_captured(self, stream: Stream | None) -> str:
        """Why ``stream`` of this program (None: any of its output) is not captured."""
        reasons = []
        for name, inherit in (("stdout", self.inherit_stdout), ("stderr", self.inherit_stderr)):
            if stream not in (None, name):
                continue
            if name == "stderr" and self.merge:
                reasons.append("stderr goes into stdout (merge = true)")
            elif inherit:
                reasons.append(f"{name} goes to the daemon's own {name} (inherit)")
            else:
                reasons.append(f'{name} is discarded ("none")')
        return f"{self.name}: output not captured: {'; '.join(reasons)}"

    def open_run(self) -> RunLogs:
        """Open the files and make the pipes for a spawn.

        The caller passes ``run.stdout``/``run.stderr`` to ``spawn``, then calls
        ``run.close_child_ends()`` whatever happened, and ``start_run`` if it spawned.

        Raises:
            LogPathError: a log path is refused; no pipe is left open.
        """
        for stream in self.streams:
            stream.prepare()
        run = RunLogs(self.readiness)
        if self.stdout is not None:
            run.stdout = run.add_pipe(self.stdout)
        elif self.inherit_stdout:
            run.stdout = DAEMON_STDOUT
        if self.merge:
            run.stderr = subprocess.STDOUT
        elif self.stderr is not None:
            run.stderr = run.add_pipe(self.stderr)
        elif self.inherit_stderr:
            run.stderr = DAEMON_STDERR
        return run

    def start_run(self, run: RunLogs, nursery: trio.Nursery) -> None:
        """Start the pumps (and, the first time, the writers) of a spawned run."""
        self._runs = [r for r in self._runs if not all(p.done for p in r.pumps)]
        self._runs.append(run)
        run.start(nursery)

    def statistics(self) -> tuple[LogStreamStats, ...]:
        return tuple(s.statistics() for s in self.streams)

    async def aclose(self, grace: float = CLOSE_GRACE) -> None:
        """Stop reading, drain every queue to its file within ``grace``, close the files."""
        dropped_before = [s.bytes_dropped for s in self.streams]
        for run in self._runs:
            run.stop()
        self._runs.clear()
        for stream, before in zip(self.streams, dropped_before, strict=True):
            await stream.aclose(grace, dropped_before=before)
