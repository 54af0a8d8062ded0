"""Opening a log file safely.

A log file is opened with ``O_NOFOLLOW`` (a symlink planted at the log path is refused), created
with mode 0640, and only inside a folder that nobody but root or the daemon's user can write to:
``O_NOFOLLOW`` checks the last path component only, so a folder another user can write to would
let that user swap the file for a symlink between two opens (docs/architecture.md, "Kernel facts").

Besides regular files, a FIFO or a character device (a terminal, ``/dev/null``) is accepted as a
log path. A FIFO is opened without blocking, so a FIFO nobody reads is refused at once instead of
hanging the daemon.
"""

from __future__ import annotations

import errno
import os
import stat

from supervisord_lite.errors import LogPathError

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
