"""Process groups: who is still in one, signalling it, and waiting until it is empty.

A program is stopped only when its whole process group is gone, not just its leader. The kernel
has no "group became empty" notification, so the wait is built from ones it does have: scan
``/proc`` once for the group's live members, open a pidfd on each, sleep until every pidfd is
readable (each member exited), then scan again for members forked meanwhile. Nothing is polled
on a timer, except when the daemon is out of descriptors and cannot open a pidfd: then the wait
looks again after a short sleep rather than failing.

A zombie counts as gone: it has exited, and only its parent can reap it.
"""

from __future__ import annotations

import errno
import functools
import os

import trio

from supervisord_lite.signames import signal_number

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: str) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of one process from /proc/PID/stat, or None if it vanished."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ") ": split at the last one.
    rest = raw[raw.rfind(b")") + 2 :].split()
    if len(rest) < 3:
        return None
    return rest[0].decode(), int(rest[1]), int(rest[2])


@functools.cache
def _boot_time() -> float:
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def start_time(pid: int) -> float | None:
    """When a process started (wall-clock seconds, as psutil's create_time), or None if it is
    gone. With the pid it tells a process apart from a later one that reused the pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        ticks = int(raw[raw.rfind(b")") + 2 :].split()[19])
        return _boot_time() + ticks / _CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


def live_processes() -> dict[int, tuple[int, int]]:
    """Every live (non-zombie) process: pid -> (ppid, pgid), from one pass over /proc."""
    table: dict[int, tuple[int, int]] = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                fields = _stat_fields(entry.name)
                if fields is not None and fields[0] not in ("Z", "X"):
                    table[int(entry.name)] = (fields[1], fields[2])
    return table


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process: a zombie has exited (only its reaper is missing)."""
    fields = _stat_fields(str(pid))
    return fields is not None and fields[0] not in ("Z", "X")


def with_descendants(roots: set[int], table: dict[int, tuple[int, int]]) -> set[int]:
    """``roots`` and every live descendant of them, from a ``live_processes`` table."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = {p for p in roots if p in table}
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(entry.name)
            if fields is not None and fields[2] == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any live process is still in the group.

    ``killpg(pgid, 0)`` answers the common case (an empty group) without a scan; a group that
    holds only zombies still answers to it, so a positive answer is confirmed from /proc.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return bool(group_members(pgid))


def signal_group(pgid: int, signame: str) -> bool:
    """Send a signal (by bare name, "TERM") to every process in a group; False if it was empty."""
    try:
        os.killpg(pgid, signal_number(signame))
    except ProcessLookupError:
        return False
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise
    return True


#: Errors that say the daemon is out of descriptors or memory for a pidfd or an inotify fd.
OUT_OF_FDS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM})

#: How long a wait sleeps when it cannot get a descriptor to wait on (the one case where the
#: kernel has no way left to wake us); the caller then looks again.
NO_FD_RETRY = 0.1


async def wait_pid_exit(pid: int) -> None:
    """Return once ``pid`` has exited (its pidfd is readable).

    Out of descriptors, it sleeps ``NO_FD_RETRY`` and returns early: every caller checks
    again who is left, so a short wait is never taken for an exit.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError as exc:
        if exc.errno not in OUT_OF_FDS:
            raise
        await trio.sleep(NO_FD_RETRY)
        return
    try:
        await trio.lowlevel.wait_readable(fd)
    finally:
        os.close(fd)


async def wait_group_empty(pgid: int) -> None:
    """Return once no live process is left in the group (see the module docstring)."""
    while True:
        members = group_members(pgid)
        if not members:
            return
        for pid in members:
            await wait_pid_exit(pid)
