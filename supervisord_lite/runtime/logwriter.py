"""Writing one program stream's log file: the task that feeds a ``RotatingFile``
(``logfiles``) from the stream's queue.

``FileWriter`` is the task: it sleeps on an event until the pump queues data (or the stream
closes), takes everything queued (``LogBuffer.get_chunks``: the pieces as read, never joined) and
writes it in a worker thread under its own limiter, so the event loop never waits on the disk and
a stalled disk cannot use up the threads the rest of the daemon needs. When a write fails it
counts the failure, keeps or drops the unwritten bytes by the stream's policy (``block`` and
``drop-newest`` keep them, ``drop-oldest`` drops them, since they are the oldest), and retries
after a backoff that starts small and doubles, or sooner when new data arrives. That backoff is
the only timer here, and it exists only while writing fails: a healthy idle stream costs nothing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import trio

from supervisord_lite.logbuffer import OverflowPolicy
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.logfiles import WriteFailed

if TYPE_CHECKING:
    from supervisord_lite.logbuffer import LogBuffer
    from supervisord_lite.runtime.logfiles import RotatingFile

#: Retry a failed write after this long, doubling up to RETRY_MAX while it keeps failing.
RETRY_MIN = 0.05
RETRY_MAX = 5.0


class FileWriter:
    """The task writing one stream's queue to its file; see the module docstring.

    ``settled`` is how far the queue's bytes have got: written to the file, or dropped. A
    reader that saw ``LogBuffer.statistics().bytes_in`` reach N can ``wait_settled(N)`` to know
    those bytes are in the file (or were counted lost).
    """

    def __init__(self, label: str, file: RotatingFile, buffer: LogBuffer) -> None:
        self.label = label
        self.file = file
        self.buffer = buffer
        self.bytes_written = 0
        self.bytes_dropped = 0
        self.write_errors = 0
        self.error = ""
        self.closing = False
        self.finished = trio.Event()
        self._wake = trio.Event()
        self._room = trio.Event()
        self._progress = trio.Event()
        self.busy = False
        self._abandoned = False
        self._retry = RETRY_MIN
        self._limiter = trio.CapacityLimiter(1)
        self._scope = trio.CancelScope()
        #: (settled, file generation, file size) after the last write that completed.
        self.mark = (0, 0, 0)

    @property
    def settled(self) -> int:
        return self.bytes_written + self.bytes_dropped + self.buffer.statistics().bytes_dropped

    @property
    def failing(self) -> bool:
        return bool(self.error)

    @property
    def carried(self) -> int:
        """Program bytes out of the queue but not yet in the file (being written, or left by a
        failed write); 0 once an abandoned write was counted as dropped."""
        return 0 if self._abandoned else self.file.carried

    # -- for the pump -------------------------------------------------------------------------

    def kick(self) -> None:
        """New data is queued (or the stream is closing): wake the task."""
        self._wake.set()

    async def wait_room(self) -> None:
        """Sleep until the task next takes bytes out of the queue."""
        await self._room.wait()

    async def wait_settled(self, position: int) -> bool:
        """Sleep until the bytes up to ``position`` are written or dropped; False if writing
        fails meanwhile (the caller should not wait for a disk that is full)."""
        while self.settled < position:
            if self.error or self.finished.is_set():
                return False
            await self._progress.wait()
        return True

    async def wait_failing(self) -> None:
        """Sleep until writing fails (at once if it is failing now)."""
        while not self.error:
            await self._progress.wait()

    # -- the task -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Write until closed and drained (or cancelled); see ``close`` for what is left."""
        try:
            with self._scope:
                await self._loop()
        finally:
            self.finished.set()
            self._signal(self._progress)

    async def _loop(self) -> None:
        while True:
            if self.error:
                if self.closing:
                    return
                await self._wait_retry()
                if self.file.carried and not await self._write([]):
                    continue
            chunks = self.buffer.get_chunks()
            if not chunks:
                if self.closing:
                    return
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            self._room = self._signal(self._room)
            await self._write(chunks)

    async def _write(self, chunks: list[bytes]) -> bool:
        in_flight = self.file.carried + sum(len(c) for c in chunks)
        self.busy = True
        try:
            done = await trio.to_thread.run_sync(
                self.file.write, *chunks, limiter=self._limiter, abandon_on_cancel=True
            )
        except WriteFailed as exc:
            self._failed(exc)
            return False
        except trio.Cancelled:
            self._abandoned = True  # the thread may still be writing: leave its fd alone
            self.bytes_dropped += in_flight  # whether the thread wrote them is unknown
            raise
        finally:
            self.busy = False
        self.bytes_written += done
        if self.error:
            log.info("%s: writing resumed (%s)", self.label, self.file.path)
            self.error = ""
            self._retry = RETRY_MIN
        self.mark = (self.settled, self.file.generation, self.file.size)
        self._progress = self._signal(self._progress)
        return True

    def _failed(self, exc: WriteFailed) -> None:
        self.bytes_written += exc.done
        self.write_errors += 1
        if not self.error:
            log.warning(
                "%s: cannot write %s: %s; %s until it works again",
                self.label,
                self.file.path,
                exc.reason,
                "holding the program"
                if self.buffer.policy is OverflowPolicy.BLOCK
                else "dropping output",
            )
        self.error = exc.reason
        if self.buffer.policy is OverflowPolicy.DROP_OLDEST:
            self.bytes_dropped += self.file.discard_carry()
        self._progress = self._signal(self._progress)

    async def _wait_retry(self) -> None:
        # Never faster than RETRY_MIN, even when a flood of new data keeps arriving.
        await trio.sleep(RETRY_MIN)
        with trio.move_on_after(max(0.0, self._retry - RETRY_MIN)):
            await self._wake.wait()
        self._wake = trio.Event()
        self._retry = min(RETRY_MAX, self._retry * 2)

    @staticmethod
    def _signal(event: trio.Event) -> trio.Event:
        event.set()
        return trio.Event()

    # -- closing ------------------------------------------------------------------------------

    async def aclose(self, grace: float) -> int:
        """Drain what is queued to the file within ``grace`` seconds, then close it.

        What could not be written (the file failing, the time up, or this call cancelled) is
        counted as dropped, and returned so that the caller can say so.
        """
        before = self._dropped_total()
        self.closing = True
        self.kick()
        try:
            with trio.move_on_after(grace):
                await self.finished.wait()
        finally:
            self._scope.cancel()
            # Every wait of the task is cancellable, so it ends at its next checkpoint.
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await self.finished.wait()
            self.buffer.discard()
            if not self.busy and not self._abandoned:
                self.bytes_dropped += self.file.discard_carry()
                with contextlib.suppress(OSError):
                    self.file.close()
        return self._dropped_total() - before

    def _dropped_total(self) -> int:
        return self.bytes_dropped + self.buffer.statistics().bytes_dropped
