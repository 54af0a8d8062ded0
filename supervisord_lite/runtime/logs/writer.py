"""Writing one program stream's log file: a ``RotatingFile`` (``files``) fed from the
stream's queue, off the event loop, without a task of its own.

A daemon with a thousand programs has two thousand streams, nearly all idle nearly all of the
time, and a task parked on each queue would cost kilobytes apiece for nothing. So a
``FileWriter`` is driven by two things only: the pump calling ``kick`` when it has queued
bytes, and a worker thread handing back the outcome of a write. When bytes are queued and no
write is in flight, the writer takes everything queued (``LogBuffer.get_chunks``: the pieces as
read, never joined) and writes it in a worker thread (``trio.lowlevel.start_thread_soon``); the
outcome comes back to the event loop (``TrioToken.run_sync_soon``), where the counters move, the
waiters wake and the next write starts if more was queued meanwhile. One write per stream is in
flight at most, so bytes land in order; the event loop never waits on the disk; and a stalled
disk holds up only the streams writing to it, never the threads the rest of the daemon takes
from ``trio.to_thread``'s shared limiter.

When a write fails the writer counts the failure, keeps or drops the unwritten bytes by the
stream's policy (``block`` and ``drop-newest`` keep them, ``drop-oldest`` drops them, since they
are the oldest), and retries after a backoff that starts small and doubles, or sooner when new
data arrives. That backoff is the only timer here, and the task that keeps it exists only while
writing fails: a healthy stream, idle or busy, costs no task at all.

A JSON-lines file holds back a line until its newline arrives; when a run's pipe closes the
writer is told where that run's bytes end (``end_line``), and the write that reaches that point
also writes the line the run left unfinished, so it never runs on into the next run's output.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, NamedTuple

import outcome
import trio

from supervisord_lite.logbuffer import OverflowPolicy
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.logs.files import WriteFailed

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.logbuffer import LogBuffer
    from supervisord_lite.runtime.logs.files import RotatingFile

#: Retry a failed write after this long, doubling up to RETRY_MAX while it keeps failing.
RETRY_MIN = 0.05
RETRY_MAX = 5.0


def _fire(event: trio.Event | None) -> None:
    if event is not None:
        event.set()


async def _reraise(result: outcome.Error) -> None:
    result.unwrap()


class WriteMark(NamedTuple):
    """The stream's first ``settled`` bytes are the first ``size`` bytes of the file (of this
    ``generation``) and then ``held``, the JSON line not finished yet, which the file does not
    hold; it began at ``held_at``."""

    settled: int
    generation: int
    size: int
    held: bytes
    held_at: float


class FileWriter:
    """Writes one stream's queue to its file; see the module docstring.

    ``settled`` is how far the queue's bytes have got: written to the file, or dropped. A
    reader that saw ``LogBuffer.statistics().bytes_in`` reach N can ``wait_settled(N)`` to know
    those bytes are in the file (or were counted lost).
    """

    def __init__(self, label: str, file: RotatingFile, buffer: LogBuffer) -> None:
        self.label = label
        self.file = file
        self.buffer = buffer
        #: The stream's counters (the queue's): written, dropped, failures, the current error.
        self.counters = buffer.counters
        self.closing = False
        #: Closed: nothing more will be written.
        self.finished = False
        #: A write is in a worker thread.
        self.busy = False
        #: Where the last write that completed left the file; None before the first one.
        self.mark: WriteMark | None = None
        #: Where runs' output ended (positions in ``bytes_in``), for a JSON file to write the
        #: line that a run left unfinished.
        self._line_ends: list[int] = []
        self._abandoned = False
        self._in_flight = 0
        self._retry = RETRY_MIN
        self._retrying: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        # Made by whoever waits, set and dropped by whoever signals: nothing while nobody waits.
        self._room: list[Callable[[], None]] | None = None
        self._progress: trio.Event | None = None
        self._kicked: trio.Event | None = None
        #: A kick came since the retry last waited for one.
        self._was_kicked = False

    @property
    def settled(self) -> int:
        return self.counters.settled

    @property
    def error(self) -> str:
        """Why writing fails now; "" while it works."""
        return self.counters.error

    @property
    def carried(self) -> int:
        """Program bytes out of the queue but not yet in the file (being written, or left by a
        failed write); 0 once an abandoned write was counted as dropped."""
        return 0 if self._abandoned else self.file.carried

    def start(self, nursery: trio.Nursery) -> None:
        """Start writing what gets queued; ``nursery`` holds the retry task while writing
        fails (and gets any error that is not a failed write, like a task's)."""
        self._token = trio.lowlevel.current_trio_token()
        self._nursery = nursery

    # -- for the pump -------------------------------------------------------------------------

    def kick(self) -> None:
        """New data is queued (or the stream is closing): write it, unless a write is in
        flight (its completion takes the rest) or writing fails (the retry comes sooner)."""
        self._was_kicked = True
        if self._retrying is not None:
            _fire(self._kicked)
            self._kicked = None
        elif not self.busy and not self.error and not self.finished:
            self._write_queued()

    def end_line(self) -> None:
        """The output queued so far ends a run (its pipe closed): a JSON file writes the line
        the run left unfinished once it has written those bytes. Nothing for a text file."""
        if self.file.json is None or self.finished:
            return
        self._line_ends.append(self.counters.bytes_in)
        self.kick()

    def reopen(self) -> None:
        """Close the file and open its path afresh (logrotate's ``postrotate``): now when no
        write is in flight, else right after the one that is. A writer not started yet only
        closes the file; it is opened again before the next spawn."""
        if self.finished:
            return
        if self._token is None:
            self.file.close()
            return
        self.file.request_reopen()
        if not self.busy and self._retrying is None:
            self._write_queued()

    def when_room(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once) when the writer next takes bytes out of the queue."""
        if self._room is None:
            self._room = []
        self._room.append(callback)

    async def wait_settled(self, position: int) -> bool:
        """Sleep until the bytes up to ``position`` are written or dropped; False if writing
        fails meanwhile (the caller should not wait for a disk that is full)."""
        while self.settled < position:
            if self.error or self.finished:
                return False
            await self._wait_progress()
        return True

    async def wait_idle(self) -> None:
        """Sleep until no write is in flight (one that was given up at the close counts as
        over)."""
        while self.busy and not self._abandoned:
            await self._wait_progress()

    async def wait_failing(self) -> None:
        """Sleep until writing fails (at once if it is failing now)."""
        while not self.error:
            await self._wait_progress()

    async def _wait_progress(self) -> None:
        if self._progress is None:
            self._progress = trio.Event()
        await self._progress.wait()

    def _signal_progress(self) -> None:
        _fire(self._progress)
        self._progress = None

    # -- writing ------------------------------------------------------------------------------

    def _write_queued(self) -> bool:
        """Start writing everything queued (nothing, when only a reopen is pending); False
        when there was nothing to do."""
        end_line = False
        if self._line_ends:
            # Up to where the oldest run ended, and no further: that write finishes its line.
            head = self.counters.bytes_in - len(self.buffer)
            chunks = self.buffer.get_chunks(max(0, self._line_ends[0] - head))
            head = self.counters.bytes_in - len(self.buffer)
            while self._line_ends and self._line_ends[0] <= head:
                self._line_ends.pop(0)
                end_line = True
        else:
            chunks = self.buffer.get_chunks()
        if not chunks and not end_line and not self.file.reopen_pending:
            return False
        self._start(chunks, end_line=end_line)
        # After the start: what a called-back pump queues now waits for this write to end.
        callbacks, self._room = self._room, None
        for callback in callbacks or ():
            callback()
        return True

    def _start(self, chunks: list[bytes], *, end_line: bool = False) -> None:
        assert self._token is not None, "the writer was not started"
        self._in_flight = self.file.carried + sum(len(c) for c in chunks)
        self.busy = True
        write = functools.partial(self.file.write, *chunks, end_line=end_line)
        trio.lowlevel.start_thread_soon(write, self._deliver)

    def _deliver(self, result: outcome.Outcome[int]) -> None:
        # In the worker thread. After the daemon's event loop ended there is nobody to tell.
        assert self._token is not None
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._completed, result)

    def _completed(self, result: outcome.Outcome[int]) -> None:
        self.busy = False
        if self._abandoned:
            # Given up at the close and counted as dropped; the thread is done with the fd now.
            with contextlib.suppress(OSError):
                self.file.close()
            return
        if isinstance(result, outcome.Error):
            if not isinstance(result.error, WriteFailed):
                assert self._nursery is not None
                self._nursery.start_soon(_reraise, result)  # a bug: it propagates like a task's
                return
            self._failed(result.error)
            if self._retrying is None and not self.closing:
                self._retrying = trio.CancelScope()
                assert self._nursery is not None
                self._nursery.start_soon(self._recover, self._retrying)
            return
        counters = self.counters
        counters.bytes_written += result.unwrap()
        if counters.error:
            log.info("%s: writing resumed (%s)", self.label, self.file.path)
            counters.error = ""
            self._retry = RETRY_MIN
        json = self.file.json
        self.mark = WriteMark(
            settled=self.settled,
            generation=self.file.generation,
            size=self.file.size,
            held=json.held if json is not None else b"",
            held_at=json.held_at if json is not None else 0.0,
        )
        self._signal_progress()
        if self._retrying is None and not self._write_queued():
            self._was_kicked = False  # idle: a later failure waits for new data afresh

    def _failed(self, exc: WriteFailed) -> None:
        counters = self.counters
        counters.bytes_written += exc.done
        counters.write_errors += 1
        if not counters.error:
            log.warning(
                "%s: cannot write %s: %s; %s until it works again",
                self.label,
                self.file.path,
                exc.reason,
                "holding the program"
                if self.buffer.policy is OverflowPolicy.BLOCK
                else "dropping output",
            )
        counters.error = exc.reason
        if self.buffer.policy is OverflowPolicy.DROP_OLDEST:
            counters.dropped_unwritten += self.file.discard_carry()
        self._signal_progress()

    async def _recover(self, scope: trio.CancelScope) -> None:
        """While writing fails: retry after the backoff (sooner when data arrives), the carry
        alone first, until a write works; then the queue is written as usual."""
        with scope:
            while self.error:
                # Never faster than RETRY_MIN, even when a flood of new data keeps arriving.
                await trio.sleep(RETRY_MIN)
                with trio.move_on_after(max(0.0, self._retry - RETRY_MIN)):
                    await self._wait_kicked()
                self._was_kicked = False
                self._retry = min(RETRY_MAX, self._retry * 2)
                if self.file.carried:
                    self._start([])
                elif not self._write_queued():
                    if self.closing:
                        break
                    await self._wait_kicked()
                    continue
                while self.busy:
                    await self._wait_progress()
                if self.error and self.closing:
                    break
        self._retrying = None
        self._signal_progress()
        if not self.error and not self.finished:
            self._write_queued()

    async def _wait_kicked(self) -> None:
        if not self._was_kicked:
            if self._kicked is None:
                self._kicked = trio.Event()
            await self._kicked.wait()
        self._was_kicked = False

    # -- closing ------------------------------------------------------------------------------

    async def aclose(self, grace: float) -> int:
        """Drain what is queued to the file within ``grace`` seconds, then close it.

        What could not be written (the file failing, the time up, or this call cancelled) is
        counted as dropped, and returned so that the caller can say so.
        """
        before = self._dropped_total()
        self.end_line()
        self.closing = True
        self.kick()
        try:
            with trio.move_on_after(grace):
                while self.busy or self._retrying is not None or self._queued():
                    await self._wait_progress()
        finally:
            self.finished = True
            if self._retrying is not None:
                self._retrying.cancel()
            self.buffer.discard()
            if self.busy:
                self._abandoned = True  # the thread may still be writing: it closes the fd after
                # Whether the thread wrote them is unknown.
                self.counters.dropped_unwritten += self._in_flight
            else:
                self.counters.dropped_unwritten += self.file.discard_carry()
                with contextlib.suppress(OSError):
                    self.file.close()
            self._signal_progress()
        return self._dropped_total() - before

    def _queued(self) -> bool:
        return bool(len(self.buffer) or self._line_ends) and not self.error

    def _dropped_total(self) -> int:
        return self.counters.dropped_unwritten + self.counters.dropped_in_queue
