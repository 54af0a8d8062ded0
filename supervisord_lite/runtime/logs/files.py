"""Log files on disk: opening one safely, and writing it with size rotation.

A log file is opened with ``O_NOFOLLOW`` (a symlink planted at the log path is refused), created
with mode 0640, and only inside a folder that nobody but root or the daemon's user can write to:
``O_NOFOLLOW`` checks the last path component only, so a folder another user can write to would
let that user swap the file for a symlink between two opens (docs/architecture.md, "Kernel facts").

Besides regular files, a FIFO or a character device (a terminal, ``/dev/null``) is accepted as a
log path; those are never rotated. A FIFO is opened without blocking, so a FIFO nobody reads is
refused at once instead of hanging the daemon.

``RotatingFile`` is synchronous and only ever used by one thread at a time. It appends what it is
given, byte for byte, and rotates by size: when the next bytes would take the file past
``max_bytes`` it writes up to the last newline that fits (or, in a line longer than that, up to the
limit), renames ``path`` to ``path.1`` (``path.1`` to ``path.2``...; the oldest beyond ``backups``
is replaced) and goes on in a new file. Every byte lands in exactly one file, once. ``max_bytes``
0 turns rotation off; ``backups`` 0 empties the file instead of keeping a backup. With
``timestamps`` each line gets the wall-clock time it was written at; that costs a pass over the
bytes (``bytes.replace``, in C), which is why it is off by default.

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

if TYPE_CHECKING:
    from collections.abc import Callable

LOG_FILE_MODE = 0o640
LOG_DIR_MODE = 0o750


def check_log_dir(folder: str) -> None:
    """Refuse a log folder that someone other than root or us could write to.

    Raises:
        LogPathError: the folder is not a folder, or other users can write to it.
    """
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise LogPathError(f"log folder {folder!r} is not a folder")
    trusted_owner = info.st_uid in (0, os.geteuid())
    if not trusted_owner or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LogPathError(f"log folder {folder!r} can be written by other users")


def open_log_file(path: str, *, truncate: bool = False) -> int:
    """Open (creating) a log file for appending, refusing symlinks and unsafe folders.

    The fd is blocking, close-on-exec, and positioned at the end (``O_APPEND``); with
    ``truncate`` an existing regular file is emptied first.

    Raises:
        LogPathError: the path is a symlink, its folder is unsafe, it is a FIFO nobody reads,
            or it cannot be opened; the message names the path and the reason.
    """
    folder = os.path.dirname(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    if truncate:
        flags |= os.O_TRUNC
    try:
        os.makedirs(folder, mode=LOG_DIR_MODE, exist_ok=True)
        check_log_dir(folder)
        fd = os.open(path, flags, LOG_FILE_MODE)
    except LogPathError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise LogPathError(f"log path {path!r} is a symlink: refused") from exc
        if exc.errno == errno.ENXIO:
            raise LogPathError(f"log path {path!r} is a FIFO that nobody reads") from exc
        raise LogPathError(f"cannot open log file {path!r}: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            raise LogPathError(f"log path {path!r} is not a file, a FIFO or a device")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_regular(fd: int) -> bool:
    """Whether an open log fd is a regular file (which can be rotated and tailed)."""
    return stat.S_ISREG(os.fstat(fd).st_mode)


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.timestamps = timestamps
        self._clock = clock
        self._fd = -1
        self._regular = True
        self._size = 0
        self._cut = False
        self._carry = b""
        self._carry_at = 0
        self._carry_input = 0
        self._line_start = True
        #: Bumped at each rotation; with ``size`` it says where a byte went.
        self.generation = 0

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
            self._regular = is_regular(fd)
            self._size = os.lseek(fd, 0, os.SEEK_END) if self._regular else 0
        except OSError as exc:
            os.close(fd)
            raise LogPathError(f"cannot use log file {self.path!r}: {exc.strerror}") from exc
        self._fd = fd

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def write(self, *chunks: bytes) -> int:
        """Write the carry, then ``chunks`` in order; the number of program bytes now in the
        file (all of them, when nothing fails).

        Raises:
            WriteFailed: a write or a rotation failed; what was not written is in the carry.
        """
        done = 0
        if self._carry_at < len(self._carry):
            try:
                done += self._flush()
            except WriteFailed:
                self._keep(chunks)
                raise
        for n, data in enumerate(chunks):
            self._carry = self._stamp(data) if self.timestamps else data
            self._carry_at = 0
            self._carry_input = len(data)
            try:
                done += self._flush()
            except WriteFailed as exc:
                self._keep(chunks[n + 1 :])
                raise WriteFailed(done + exc.done, exc.reason) from exc
        return done

    def _keep(self, chunks: tuple[bytes, ...]) -> None:
        """Put ``chunks`` behind the carry (a write failed before it got to them)."""
        if not chunks:
            return
        pending = [self._stamp(c) if self.timestamps else c for c in chunks]
        self._carry = b"".join([self._carry[self._carry_at :], *pending])
        self._carry_at = 0
        self._carry_input += sum(len(c) for c in chunks)

    def discard_carry(self) -> int:
        """Forget the carry; the program bytes it stood for (they are lost)."""
        lost = self._carry_input
        self._carry, self._carry_at, self._carry_input = b"", 0, 0
        return lost

    # -- inside -------------------------------------------------------------------------------

    def _flush(self) -> int:
        """Write the whole carry; the program bytes it stood for. Raises WriteFailed."""
        carry = self._carry
        start = self._carry_at
        try:
            while self._carry_at < len(carry):
                self._write_some(carry)
        except (OSError, LogPathError) as exc:
            done = 0
            if not self.timestamps:
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
        """One step: rotate if due, else write as much of the carry as fits in this file."""
        self.open()
        if self._cut or (self.max_bytes and self._regular and self._size >= self.max_bytes):
            self._rotate()
            return
        at = self._carry_at
        end = len(carry)
        if self.max_bytes and self._regular and end - at > self.max_bytes - self._size:
            limit = at + self.max_bytes - self._size
            newline = carry.rfind(b"\n", at, limit)
            end = newline + 1 if newline >= 0 else limit
            self._cut = True
        with memoryview(carry) as view:
            written = os.write(self._fd, view[at:end])
        self._carry_at += written
        self._size += written
        if self._carry_at < end:
            self._cut = False  # a short write: the rest of the piece comes first

    def _rotate(self) -> None:
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
            self._size = 0
        self._cut = False
        self.generation += 1

    def _stamp(self, data: bytes) -> bytes:
        now = self._clock()
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
