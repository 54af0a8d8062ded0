"""Log files on disk: writing one, with size and time rotation, JSON lines or timestamps.

Files are opened through ``paths.open_log_file`` (no symlinks, no folder others can write to);
FIFOs and character devices are accepted and never rotated.

``RotatingFile`` is synchronous and only ever used by one thread at a time. It appends what it is
given, byte for byte, and rotates by size, between lines: a line that would take the file past
``max_bytes`` goes to a new file whole (``path`` is renamed to ``path.1``, ``path.1`` to
``path.2``...; the oldest beyond ``backups`` is replaced). Only a line longer than ``max_bytes``
is split, where the file is full. A line that reaches us in pieces (a program that writes part
of a line, then the rest) is finished in the file it began in, so a file may pass ``max_bytes``
by less than one line. Every byte lands in exactly one file, once. ``max_bytes`` 0 turns
rotation off; ``backups`` 0 empties the file instead of keeping a backup. With ``timestamps``
each line gets the wall-clock time it was written at; that costs a pass over the bytes
(``bytes.replace``, in C), which is why it is off by default.

``rotate_every`` rotates by time as well, the same way (same names, same ``backups``, between
lines): the clock is read once per write, and a write in a later period (of local time, see
``_period_of``) than the file's rotates the file before its first line. Nothing wakes up at the
turn of a period: a file nobody writes to keeps its lines until the next write rotates it. A
file found at the daemon's start belongs to the period of its last modification.

With ``format = "json"`` the file holds JSON lines (``jsonlines``): the bytes are cut into lines
here, in the writer's thread, and only the file pays for it. Rotation never splits an object:
one longer than ``max_bytes`` gets a file of its own.

A log file renamed or deleted under the daemon (by hand, or by logrotate without
``copytruncate``) is noticed at the next write: each write first compares the open file with what
the path now names (one ``stat``, in the writer's thread), and when they differ, closes it and
opens the path afresh. ``request_reopen`` makes the next write reopen the file whatever the path
names (logrotate's ``postrotate``). Nothing polls: a stream nobody writes to keeps the old file
open until its program writes again or a reopen is asked for.

A write that fails (disk full, EIO, the file went away) leaves what was not written in the
file's *carry*: ``write`` raises ``WriteFailed`` saying how many program bytes did reach the file,
and the next ``write`` sends the carry first. The carry never holds more than one batch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from typing import TYPE_CHECKING

from supervisord_lite.errors import LogPathError
from supervisord_lite.logbuffer import StreamCounters
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.logs.jsonlines import JsonLines
from supervisord_lite.runtime.logs.paths import open_log_file

if TYPE_CHECKING:
    from collections.abc import Callable


class WriteFailed(Exception):
    """A write stopped part-way; ``done`` program bytes reached the file before it did."""

    def __init__(self, done: int, reason: str) -> None:
        super().__init__(reason)
        self.done = done
        self.reason = reason


def _reason(exc: OSError | LogPathError) -> str:
    if isinstance(exc, LogPathError):
        return str(exc)
    return exc.strerror or str(exc)


class RotatingFile:
    """An append-only, size-rotated log file; see the module docstring."""

    def __init__(
        self,
        path: str,
        *,
        max_bytes: int = 0,
        backups: int = 0,
        timestamps: bool = False,
        format: str = "text",
        stream: str = "stdout",
        max_line: int = 1024 * 1024,
        rotate_every: int = 0,
        clock: Callable[[], float] = time.time,
        counters: StreamCounters | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.timestamps = timestamps
        #: Seconds per time period; a write in a later period than the file's rotates it first.
        self.rotate_every = rotate_every
        #: The JSON-lines encoder (``format = "json"``), which holds the line not finished yet.
        self.json = JsonLines(stream, max_line) if format == "json" else None
        #: The program's bytes go to the file as they are: no stamps, no JSON.
        self._plain = not timestamps and self.json is None
        self._timed = not self._plain or rotate_every > 0
        #: The time period of what the file holds (None: it is empty, or not known yet).
        self._period: int | None = None
        self._now_period = 0
        #: The file holds an earlier period than the present one: rotate at the next line.
        self._time_due = False
        #: The stream's counters; the file counts its reopenings there.
        self.counters = counters if counters is not None else StreamCounters()
        self._clock = clock
        self._fd = -1
        #: (st_dev, st_ino) of the open file, to tell whether the path still names it.
        self._identity = (0, 0)
        self._regular = True
        self._size = 0
        #: Bytes of the last line in this file that its newline has not ended yet.
        self._open_line = 0
        self._carry = b""
        self._carry_at = 0
        self._carry_input = 0
        self._line_start = True
        self._reopen_requested = False
        #: Bumped at each rotation and reopening; with ``size`` it says where a byte went.
        self.generation = 0

    def reconfigure(
        self, *, max_bytes: int, backups: int, timestamps: bool, rotate_every: int
    ) -> None:
        """Rotate and stamp by these from the next write on (safe while a write runs: each
        write reads them as it goes, and a changed period is taken at the next one)."""
        self.max_bytes = max_bytes
        self.backups = backups
        self.timestamps = timestamps and self.json is None
        self._plain = not self.timestamps and self.json is None
        if rotate_every != self.rotate_every:
            self.rotate_every = rotate_every
            self._period = None  # periods of another length: the file starts one afresh
            self._time_due = False
        self._timed = not self._plain or rotate_every > 0

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    @property
    def size(self) -> int:
        """Bytes in the current file."""
        return self._size

    @property
    def carried(self) -> int:
        """Program bytes waiting in the carry after a failed write."""
        return self._carry_input

    def open(self) -> None:
        """Open the file if it is not open.

        Raises:
            LogPathError: see ``files.open_log_file``.
        """
        if self._fd >= 0:
            return
        fd = open_log_file(self.path)
        try:
            info = os.fstat(fd)
            self._regular = stat.S_ISREG(info.st_mode)
            self._size = os.lseek(fd, 0, os.SEEK_END) if self._regular else 0
        except OSError as exc:
            os.close(fd)
            raise LogPathError(f"cannot use log file {self.path!r}: {exc.strerror}") from exc
        self._identity = (info.st_dev, info.st_ino)
        self._open_line = 0
        self._fd = fd
        if self.rotate_every:
            # What the file holds was written by its last modification, at the latest.
            self._period = self._period_of(info.st_mtime) if self._size else None

    @property
    def reopen_pending(self) -> bool:
        """A reopen was asked for and the next write has not done it yet."""
        return self._reopen_requested and self._fd >= 0

    def request_reopen(self) -> None:
        """Make the next ``write`` close the file and open its path afresh (safe to call from
        another thread while a write runs: the flag is read when the next one starts)."""
        self._reopen_requested = True

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def write(self, *chunks: bytes, end_line: bool = False) -> int:
        """Write the carry, then ``chunks`` in order; the number of program bytes now in the
        file (all of them, when nothing fails; in JSON, a line not finished yet counts as in).
        ``end_line``: the program's run ended after these bytes, so a JSON line it did not
        finish is written now, as a partial one.

        Raises:
            WriteFailed: a write, a rotation or a reopening failed; what was not written is in
                the carry.
        """
        now = self._clock() if self._timed else 0.0
        try:
            self._check_path()
            self.open()
        except (OSError, LogPathError) as exc:
            self._keep(chunks, now, end_line=end_line)
            raise WriteFailed(0, _reason(exc)) from exc
        if self.rotate_every:
            self._check_period(now)
        done = 0
        if self._carry_input or self._carry_at < len(self._carry):
            try:
                done += self._flush()
            except WriteFailed:
                self._keep(chunks, now, end_line=end_line)
                raise
        for n, data in enumerate(chunks):
            self._carry = data if self._plain else self._transform(data, now)
            self._carry_at = 0
            self._carry_input = len(data)
            try:
                done += self._flush()
            except WriteFailed as exc:
                self._keep(chunks[n + 1 :], now, end_line=end_line)
                raise WriteFailed(done + exc.done, exc.reason) from exc
        if end_line and self.json is not None:
            self._carry, self._carry_at, self._carry_input = self.json.finish(), 0, 0
            try:
                self._flush()
            except WriteFailed as exc:
                raise WriteFailed(done, exc.reason) from exc
        return done

    def _keep(self, chunks: tuple[bytes, ...], now: float, *, end_line: bool) -> None:
        """Put ``chunks`` behind the carry (a write failed before it got to them)."""
        pending = [c if self._plain else self._transform(c, now) for c in chunks]
        if end_line and self.json is not None:
            pending.append(self.json.finish())
        if not pending:
            return
        self._carry = b"".join([self._carry[self._carry_at :], *pending])
        self._carry_at = 0
        self._carry_input += sum(len(c) for c in chunks)

    def _transform(self, data: bytes, now: float) -> bytes:
        if self.json is not None:
            return self.json.encode(data, now)
        return self._stamp(data, now)

    def discard_carry(self) -> int:
        """Forget the carry; the program bytes it stood for (they are lost)."""
        lost = self._carry_input
        self._carry, self._carry_at, self._carry_input = b"", 0, 0
        return lost

    # -- inside -------------------------------------------------------------------------------

    def _check_path(self) -> None:
        """Close the file if a reopen was asked for, or if its path no longer names it (renamed,
        deleted, replaced); the caller opens the path afresh."""
        if self._fd < 0:
            self._reopen_requested = False
            return
        why = ""
        if self._reopen_requested:
            self._reopen_requested = False
            why = "a reopen was asked for"
        elif self._regular:
            try:
                info = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                why = "the file was renamed or deleted"
            except OSError as exc:
                why = f"its path cannot be looked up ({exc.strerror})"
            else:
                if (info.st_dev, info.st_ino) != self._identity:
                    why = "the path names another file now"
        if why:
            self.close()
            self.counters.reopened += 1
            self.generation += 1
            log.info("reopening %s: %s", self.path, why)

    def _flush(self) -> int:
        """Write the whole carry; the program bytes it stood for. Raises WriteFailed."""
        carry = self._carry
        start = self._carry_at
        try:
            while self._carry_at < len(carry):
                self._write_some(carry)
        except (OSError, LogPathError) as exc:
            done = 0
            if self._plain:
                # Plain bytes: the carry is the program's bytes, so what went out is exact.
                done = self._carry_at - start
                self._carry_input -= done
            if isinstance(exc, OSError) and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                self.close()  # reopened at the next try (the file may have been removed)
            raise WriteFailed(done, _reason(exc)) from exc
        done = self._carry_input
        self._carry, self._carry_at, self._carry_input = b"", 0, 0
        return done

    def _write_some(self, carry: bytes) -> None:
        """One step: rotate if due, else write as much of the carry as belongs in this file."""
        self.open()
        at = self._carry_at
        end = len(carry)
        if (self.max_bytes or self._time_due) and self._regular:
            end = self._stop(carry, at, end)
            if end == at:
                self._rotate()
                return
        with memoryview(carry) as view:
            written = os.write(self._fd, view[at:end])
        self._carry_at += written
        self._size += written
        newline = carry.rfind(b"\n", at, at + written)
        self._open_line = at + written - newline - 1 if newline >= 0 else self._open_line + written

    def _stop(self, data: bytes, at: int, end: int) -> int:
        """Where ``data[at:end]`` stops in this file: ``end`` when all of it belongs here, ``at``
        when the file must rotate first, else a point between (after a whole line, or where the
        file is full inside a line longer than ``max_bytes``)."""
        if self._time_due:
            if not self._size:
                self._time_due = False
            elif self._open_line:
                return self._line_end(data, at, end)  # finished where it began, then rotated
            else:
                return at
        limit = self.max_bytes
        if not limit:
            return end
        room = limit - self._size
        if end - at <= room:
            return end
        if room > 0:
            newline = data.rfind(b"\n", at, at + room)
            if newline >= 0:
                return newline + 1
        if self.json is not None:
            # A JSON object is never split: one longer than max_bytes gets a file of its own.
            return self._line_end(data, at, end) if self._open_line or not self._size else at
        # The line at ``at`` does not end within the room left.
        if self._open_line:
            # It began in this file: finish it here unless it is longer than a file.
            newline = data.find(b"\n", at, at + limit - self._open_line)
            if newline >= 0:
                return newline + 1
            if self._open_line + end - at <= limit:
                return end
        elif self._size and (end - at <= limit or data.find(b"\n", at, at + limit) >= 0):
            return at  # it fits in a file of its own: rotate before it
        return at + max(room, 0)  # longer than a file holds: split where this one is full

    @staticmethod
    def _line_end(data: bytes, at: int, end: int) -> int:
        """Just after the newline that ends the line at ``at`` (``end`` if it does not end)."""
        newline = data.find(b"\n", at, end)
        return newline + 1 if newline >= 0 else end

    def _period_of(self, moment: float) -> int:
        """The number of the local-time period of ``rotate_every`` seconds that ``moment`` is
        in (periods start at local midnight of 1970-01-01, so "1d" turns at local midnight)."""
        return int((moment + time.localtime(moment).tm_gmtoff) // self.rotate_every)

    def _check_period(self, now: float) -> None:
        period = self._now_period = self._period_of(now)
        if self._period is None or not self._size:
            self._period = period
        elif period != self._period and self._regular:
            self._time_due = True

    def _rotate(self) -> None:
        self._time_due = False
        self.close()
        if self.backups > 0:
            for n in range(self.backups - 1, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, f"{self.path}.1")
            self.open()
        else:
            self._fd = open_log_file(self.path, truncate=True)
            info = os.fstat(self._fd)
            self._identity = (info.st_dev, info.st_ino)
            self._size = 0
            self._open_line = 0
        self.generation += 1
        if self.rotate_every:
            self._period = self._now_period

    def _stamp(self, data: bytes, now: float) -> bytes:
        stamp = b"%s.%03d " % (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)).encode(),
            int(now * 1000) % 1000,
        )
        body = data.replace(b"\n", b"\n" + stamp)
        ends_line = data.endswith(b"\n")
        if ends_line:
            body = body[: len(body) - len(stamp)]
        if self._line_start:
            body = stamp + body
        self._line_start = ends_line
        return body
