"""Where a program's stdout and stderr go when it is spawned.

Each stream is appended to its log file, opened by the daemon with ``O_NOFOLLOW`` (a symlink
planted at the log path is refused) and mode 0640, and handed to the child as its fd; a stream
configured as ``none`` goes to /dev/null. The daemon closes its copies right after the spawn.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from supervisord_lite.errors import LogPathError

if TYPE_CHECKING:
    from supervisord_lite.config import ProgramConfig

LOG_FILE_MODE = 0o640
LOG_DIR_MODE = 0o750


@dataclass(slots=True)
class LogTargets:
    """The fds a child gets as stdout and stderr; ``close`` releases the daemon's copies."""

    stdout: int
    stderr: int

    @classmethod
    def discard(cls) -> LogTargets:
        return cls(subprocess.DEVNULL, subprocess.DEVNULL)

    def close(self) -> None:
        for fd in {self.stdout, self.stderr}:
            if fd >= 0:
                os.close(fd)
        self.stdout = self.stderr = subprocess.DEVNULL


def check_log_dir(folder: str) -> None:
    """Refuse a log folder that someone other than root or us could write to.

    ``O_NOFOLLOW`` protects only the last path component: a folder writable by another user
    would let that user swap a file for a symlink between checks.
    """
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise LogPathError(f"log folder {folder!r} is not a folder")
    trusted_owner = info.st_uid in (0, os.geteuid())
    if not trusted_owner or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LogPathError(f"log folder {folder!r} can be written by other users")


def open_log_file(path: str) -> int:
    """Open (creating) a log file for appending, refusing symlinks and unsafe folders.

    Raises:
        LogPathError: the path is a symlink, its folder is unsafe, or it cannot be opened.
    """
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=LOG_DIR_MODE, exist_ok=True)
        check_log_dir(folder)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(path, flags, LOG_FILE_MODE)
    except LogPathError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise LogPathError(f"log path {path!r} is a symlink: refused") from exc
        raise LogPathError(f"cannot open log file {path!r}: {exc.strerror}") from exc


def open_log_targets(program: ProgramConfig) -> LogTargets:
    """Open the program's configured log files (see the module docstring)."""
    targets = LogTargets.discard()
    try:
        if program.log.stdout is not None:
            targets.stdout = open_log_file(program.log.stdout)
        if program.log.merge:
            targets.stderr = subprocess.STDOUT
        elif program.log.stderr is not None:
            targets.stderr = open_log_file(program.log.stderr)
    except LogPathError:
        targets.close()
        raise
    return targets
