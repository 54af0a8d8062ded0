"""A program's output streams: each one's queue, file writer and counters, kept across runs.

Each captured stream of a program (stdout, stderr; or one merged stream; a stream configured
``none`` goes to /dev/null and one configured ``inherit`` to the daemon's own stdout or stderr,
neither captured) has one ``LogStream`` for as long as the program is configured: a
``LogBuffer`` (the bounded queue and its policy), a ``FileWriter`` (which writes the queue to
the rotating file in a worker thread, off the event loop) and its ``StreamCounters``, the one
record of the stream's counters, which the queue, the pump, the writer and the file each update
and ``statistics()`` reads. Followers and counters therefore carry on across restarts; each
spawn only brings fresh pipes (``pump.RunLogs``).

An idle stream costs no task: the writer runs when bytes are queued (``writer``), and the
pipes are watched by the daemon's one ``FdWatch``.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import trio

from supervisord_lite.config import INHERIT
from supervisord_lite.errors import SpawnError
from supervisord_lite.logbuffer import LogBuffer, OverflowPolicy, StreamCounters
from supervisord_lite.protocol.messages import LogStreamStats
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.fdwatch import FdWatch
from supervisord_lite.runtime.logs.files import RotatingFile
from supervisord_lite.runtime.logs.order import LineOrder
from supervisord_lite.runtime.logs.pump import RunLogs
from supervisord_lite.runtime.logs.writer import FileWriter

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.config import LogConfig, ProgramConfig
    from supervisord_lite.protocol.messages import Stream
    from supervisord_lite.runtime.logs.fanout import LogFanOut

#: The daemon's own stdout and stderr, the target of a stream set to ``inherit``.
DAEMON_STDOUT = 1
DAEMON_STDERR = 2
#: When a program is removed or the daemon stops: how long its queue may take to reach the file.
CLOSE_GRACE = 5.0


class LogStream:
    """One program stream: its queue, its file writer and its counters."""

    def __init__(
        self, program: str, stream: Stream, path: str, config: LogConfig, fanout: LogFanOut
    ) -> None:
        self.program = program
        self.stream: Stream = stream
        self.path = path
        self.counters = StreamCounters()
        self.buffer = LogBuffer(config.queue_bytes, OverflowPolicy(config.overflow), self.counters)
        self.file = RotatingFile(
            path,
            max_bytes=config.max_bytes,
            backups=config.backups,
            timestamps=config.timestamps,
            format=config.format,
            stream=stream,
            max_line=config.queue_bytes,
            rotate_every=config.rotate_seconds,
            counters=self.counters,
        )
        self.writer = FileWriter(f"{program} {stream}", self.file, self.buffer)
        self._fanout = fanout
        self._started = False
        #: Called with each chunk read while something looks at the output (a ``log``
        #: readiness probe); None the rest of the time.
        self.watcher: Callable[[bytes], None] | None = None
        #: The program's record of the order of lines across its streams (``order.py``),
        #: when it has more than one.
        self.order: LineOrder | None = None
        #: Told when queueing a chunk dropped bytes (the ``log`` events), when set.
        self.on_dropped: Callable[[LogStream], None] | None = None

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
        counters = self.counters
        counters.bytes_read += len(data)
        if self.order is not None:
            self.order.note(self.stream, data)
        if self.watcher is not None:
            self.watcher(data)
        lags, missed = self._fanout.publish(self.program, self.stream, data)
        if missed:
            counters.lagged += lags
            counters.lagged_bytes += missed

    def queue(self, data: bytes) -> bool:
        """Queue a published chunk for the file; False when the queue refused it (``block``:
        offer it again once the writer made room)."""
        counters = self.counters
        dropped = counters.dropped_in_queue
        if not self.buffer.put(data):
            return False
        self.writer.kick()
        if counters.dropped_in_queue != dropped and self.on_dropped is not None:
            self.on_dropped(self)
        return True

    def end_of_input(self) -> None:
        """A run's pipe into this stream closed (see ``FileWriter.end_line``)."""
        self.writer.end_line()

    @property
    def timed(self) -> bool:
        """Whether the file's lines carry the time they were written at."""
        return self.file.timestamps or self.file.json is not None

    async def wait_written(self) -> bool:
        """Wait until what was queued so far is in the file; False if writing fails."""
        return await self.writer.wait_settled(self.counters.bytes_in)

    def written(self) -> bool:
        """Whether everything queued so far is in the file (or was dropped) already."""
        return self.counters.settled >= self.counters.bytes_in

    @property
    def bytes_read(self) -> int:
        return self.counters.bytes_read

    @property
    def bytes_dropped(self) -> int:
        return self.counters.bytes_dropped

    @property
    def backlog(self) -> int:
        """Bytes queued for the file or being written to it: neither in it yet nor dropped."""
        return self.counters.bytes_in - self.counters.settled

    def _holdup(self) -> str:
        """Why bytes are not in the file yet."""
        if self.writer.error:
            return f"writing fails: {self.writer.error}"
        if self.writer.busy:
            return "a write to it has not returned"
        return "queued"

    def describe_backlog(self) -> str:
        """One line for the daemon's log: what of this stream is not in its file, and why."""
        return (
            f"{self.writer.label}: {self.backlog} bytes not yet written to {self.path} "
            f"({self._holdup()})"
        )

    async def aclose(self, grace: float, *, dropped_before: int | None = None) -> int:
        """Drain the queue to the file within ``grace`` seconds and close it; say in the
        daemon's log what was lost since ``dropped_before`` (the ``bytes_dropped`` of when the
        closing began) because of the close, and return how many bytes that was."""
        before = self.bytes_dropped if dropped_before is None else dropped_before
        holdup = self._holdup()
        if self._started:
            await self.writer.aclose(grace)
            if self.writer.busy:
                holdup = f"a write to it did not return within {grace:g}s"
            elif self.writer.error:
                holdup = f"writing fails: {self.writer.error}"
        else:
            self.file.close()
        lost = self.bytes_dropped - before
        if lost:
            label = self.writer.label
            log.error(
                "%s: %d bytes could not be written to %s (%s)", label, lost, self.path, holdup
            )
        return lost

    def statistics(self) -> LogStreamStats:
        counters = self.counters
        return LogStreamStats(
            stream=self.stream,
            path=self.path,
            policy=self.buffer.policy.value,
            capacity=self.buffer.capacity,
            bytes_read=counters.bytes_read,
            bytes_written=counters.bytes_written,
            bytes_dropped=counters.bytes_dropped,
            held_back=counters.held_back,
            depth=len(self.buffer) + self.writer.carried,
            peak_depth=counters.peak_depth,
            write_errors=counters.write_errors,
            error=counters.error,
            followers=self._fanout.followers(self.program, self.stream),
            lagged=counters.lagged,
            lagged_bytes=counters.lagged_bytes,
            reopened=counters.reopened,
        )


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
        #: The order of lines across stdout and stderr, for an interleaved tail.
        self.order = LineOrder() if self.stdout is not None and self.stderr is not None else None
        for stream in self.streams:
            stream.order = self.order
        self._runs: list[RunLogs] = []
        #: Bytes that could not be written because the files were closed (``aclose``).
        self.lost_at_close = 0
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
            SpawnError: no pipe could be made (out of descriptors or memory): a failed start,
                never the daemon's end; no pipe is left open.
        """
        for stream in self.streams:
            stream.prepare()
        run = RunLogs(self.readiness)
        try:
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
        except OSError as exc:
            run.close_child_ends()
            raise SpawnError(f"cannot make the log pipes: {exc.strerror or exc}") from exc
        return run

    def start_run(self, run: RunLogs, nursery: trio.Nursery) -> None:
        """Start the pumps (and, the first time, the writers) of a spawned run."""
        self._runs = [r for r in self._runs if not all(p.done for p in r.pumps)]
        self._runs.append(run)
        run.start(nursery)

    def watch_output(self, watcher: Callable[[bytes], None] | None) -> bool:
        """Hand every chunk of captured output to ``watcher`` (None: stop); False when no
        stream is captured."""
        for stream in self.streams:
            stream.watcher = watcher
        return bool(self.streams)

    def update(self, program: ProgramConfig) -> None:
        """Rotate by ``program``'s limits from the next write on (``log.max_bytes``,
        ``backups``, ``timestamps``, ``rotate_every``; the queue and the format are built once:
        changing them is a restart)."""
        config = program.log
        for stream in self.streams:
            stream.file.reconfigure(
                max_bytes=config.max_bytes,
                backups=config.backups,
                timestamps=config.timestamps,
                rotate_every=config.rotate_seconds,
            )

    def statistics(self) -> tuple[LogStreamStats, ...]:
        return tuple(s.statistics() for s in self.streams)

    def reopen(self) -> int:
        """Reopen every log file of the program (see ``FileWriter.reopen``); how many."""
        for stream in self.streams:
            stream.writer.reopen()
        return len(self.streams)

    def backlog(self) -> list[str]:
        """For each stream with bytes not in its file yet: what and why, one line each."""
        return [s.describe_backlog() for s in self.streams if s.backlog]

    async def aclose(self, grace: float = CLOSE_GRACE) -> None:
        """Stop reading, drain every queue to its file within ``grace`` (the streams at once),
        close the files; what the closing lost adds to ``lost_at_close``."""
        dropped_before = [s.bytes_dropped for s in self.streams]
        for run in self._runs:
            run.stop()
        self._runs.clear()

        async def close(stream: LogStream, before: int) -> None:
            self.lost_at_close += await stream.aclose(grace, dropped_before=before)

        async with trio.open_nursery() as nursery:
            for stream, before in zip(self.streams, dropped_before, strict=True):
                nursery.start_soon(close, stream, before)
