"""Process groups: who is still in one, signalling it, and waiting until it is empty.

A program is stopped only when its whole process group is gone, not just its leader. The kernel
has no "group became empty" notification, so the wait is built from ones it does have: scan
``/proc`` once for the group's live members, open a pidfd on each, sleep until every pidfd is
readable (each member exited), then scan again for members forked meanwhile. Nothing is polled
on a timer.

A zombie counts as gone: it has exited, and only its parent can reap it.
"""

from __future__ import annotations

import errno
import functools
import os
import signal

import trio

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
        os.killpg(pgid, signal.Signals[f"SIG{signame}"])
    except ProcessLookupError:
        return False
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise
    return True


async def wait_pid_exit(pid: int) -> None:
    """Return once ``pid`` has exited (its pidfd is readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
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
