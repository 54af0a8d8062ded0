"""Folders watched with inotify (recursively, or only their own entries): the paths that
change, as the kernel tells them.

One inotify descriptor per ``TreeWatch``, a watch on every folder below its roots (added as
folders are created or moved in), waited on with ``trio.lowlevel.wait_readable``: while nothing
changes, the daemon is not woken at all (no thread, no timer, no poll). ``bench/watch_idle.py``
measures it on a tree of 10,000 files.

A change is a file or folder created, written (``IN_MODIFY``, ``IN_CLOSE_WRITE``), deleted or
moved in or out. The kernel's queue overflowing (``IN_Q_OVERFLOW``: too many changes before the
daemon read them) reports every root as changed, so a change is never lost, only merged. A root
that does not exist is skipped (the daemon's log says so); each folder costs one inotify watch,
counted against ``fs.inotify.max_user_watches``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import struct
from typing import TYPE_CHECKING, Final, Self

import trio

from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

__all__ = ["TreeWatch"]

_IN_MODIFY: Final = 0x00000002
_IN_CLOSE_WRITE: Final = 0x00000008
_IN_MOVED_FROM: Final = 0x00000040
_IN_MOVED_TO: Final = 0x00000080
_IN_CREATE: Final = 0x00000100
_IN_DELETE: Final = 0x00000200
_IN_DELETE_SELF: Final = 0x00000400
_IN_Q_OVERFLOW: Final = 0x00004000
_IN_IGNORED: Final = 0x00008000
_IN_ONLYDIR: Final = 0x01000000
_IN_ISDIR: Final = 0x40000000
_MASK: Final = (
    _IN_MODIFY
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_ONLYDIR
)
_HEADER: Final = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_READ_SIZE: Final = 64 * 1024

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class TreeWatch:
    """The changes below ``roots``; see the module docstring. A context manager (it owns a
    descriptor).

    Raises (from the constructor):
        OSError: no inotify descriptor could be made (out of descriptors or instances).
    """

    def __init__(self, roots: Iterable[str], *, recursive: bool = True) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self._recursive = recursive
        self._fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self._folders: dict[int, str] = {}
        try:
            for root in self.roots:
                if os.path.isdir(root):
                    self._add_tree(root)
                else:
                    log.warning("watch: %s is not a folder (yet): not watched", root)
        except BaseException:
            self.close()
            raise

    @property
    def folders(self) -> int:
        """How many folders are watched (inotify watches held)."""
        return len(self._folders)

    def _add_tree(self, top: str) -> list[str]:
        """Watch ``top`` and every folder below it; the files found in them (for a folder
        moved in, whose files are new here)."""
        found: list[str] = []
        for folder, dirs, files in os.walk(top):
            wd = _libc.inotify_add_watch(self._fd, os.fsencode(folder), _MASK)
            if wd < 0:
                err = ctypes.get_errno()
                if err in (errno.ENOENT, errno.ENOTDIR):
                    dirs.clear()
                    continue
                raise OSError(err, f"inotify_add_watch {folder}: {os.strerror(err)}")
            self._folders[wd] = folder
            found.extend(os.path.join(folder, f) for f in files)
            if not self._recursive:
                break
        return found

    async def changes(self) -> list[str]:
        """Wait until something below the roots changes; the paths that did (at least one).

        Raises:
            OSError: reading the inotify descriptor failed.
        """
        while True:
            await trio.lowlevel.wait_readable(self._fd)
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                continue
            paths = self._parse(data)
            if paths:
                return paths

    def _parse(self, data: bytes) -> list[str]:
        paths: list[str] = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            offset += _HEADER.size
            raw = data[offset : offset + length].rstrip(b"\0")
            offset += length
            if mask & _IN_Q_OVERFLOW:
                log.warning("watch: the kernel's event queue overflowed; taking it as a change")
                paths.extend(self.roots)
                continue
            if mask & _IN_IGNORED:
                self._folders.pop(wd, None)
                continue
            folder = self._folders.get(wd)
            if folder is None:
                continue
            path = os.path.join(folder, os.fsdecode(raw)) if raw else folder
            paths.append(path)
            if self._recursive and mask & _IN_ISDIR and mask & (_IN_CREATE | _IN_MOVED_TO):
                with contextlib.suppress(OSError):
                    paths.extend(self._add_tree(path))
        return paths

    def close(self) -> None:
        """Release the descriptor (and so every watch); idempotent."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
        self._folders.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
