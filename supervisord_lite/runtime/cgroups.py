"""cgroup v2: one cgroup per program run, so a stop reaches every descendant, escaped or not.

The cgroup2 hierarchy is found from /proc/self/mountinfo (on hybrid hosts it is not at
/sys/fs/cgroup), and our own place in it from /proc/self/cgroup. Runs get a child cgroup under
``<our cgroup>/supervisord-lite.<pid>.<random>``; a run moves itself in before it execs the
program (a ``sh`` trampoline writes ``0`` to ``cgroup.procs``), so nothing it forks can start
outside.

Emptiness is awaited without polling: the kernel raises a file-modified event on
``cgroup.events`` when ``populated`` flips, which inotify delivers as a readable fd.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import secrets
from dataclasses import dataclass

import trio

from supervisord_lite.errors import DaemonError
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.process_groups import NO_FD_RETRY, OUT_OF_FDS

_IN_MODIFY = 0x00000002
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def find_cgroup2_mount(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The mount point of the cgroup2 hierarchy, or None when there is none."""
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if right.split()[:1] == ["cgroup2"] and len(fields) >= 5:
            return fields[4].replace("\\040", " ")
    return None


def own_cgroup(proc_cgroup: str = "/proc/self/cgroup") -> str | None:
    """This process' path inside the cgroup2 hierarchy ("0::/path"), or None."""
    try:
        with open(proc_cgroup) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        return None
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@dataclass(frozen=True, slots=True)
class Cgroup:
    """One run's cgroup."""

    path: str
    #: Whether the memory controller is on for it (only then are OOM kills counted).
    memory: bool = False

    @property
    def procs_file(self) -> str:
        return os.path.join(self.path, "cgroup.procs")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in _read(self.procs_file).split()]
        except FileNotFoundError:
            return []

    def populated(self) -> bool:
        try:
            for line in _read(os.path.join(self.path, "cgroup.events")).splitlines():
                key, _, value = line.partition(" ")
                if key == "populated":
                    return value.strip() == "1"
        except FileNotFoundError:
            return False
        return bool(self.pids())

    def signal(self, signum: int) -> bool:
        """Signal every process in the cgroup; SIGKILL uses ``cgroup.kill`` (atomic, race-free
        against forks). False if the cgroup was empty."""
        if signum == 9 and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            alive = self.populated()
            if alive:
                _write(os.path.join(self.path, "cgroup.kill"), "1")
            return alive
        sent = False
        for pid in self.pids():
            try:
                os.kill(pid, signum)
                sent = True
            except ProcessLookupError:
                continue
        return sent

    def oom_kills(self) -> int:
        """How many of this cgroup's processes the kernel OOM-killed (0 without the memory
        controller)."""
        if not self.memory:
            return 0
        try:
            text = _read(os.path.join(self.path, "memory.events"))
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    async def wait_empty(self) -> None:
        """Return once no process is left in the cgroup (inotify on cgroup.events; out of
        descriptors, a look every ``NO_FD_RETRY`` seconds instead)."""
        while (fd := _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)) < 0:
            err = ctypes.get_errno()
            if err not in OUT_OF_FDS:
                raise OSError(err, f"inotify_init1: {os.strerror(err)}")
            if not self.populated():
                return
            await trio.sleep(NO_FD_RETRY)
        try:
            events = os.path.join(self.path, "cgroup.events").encode()
            if _libc.inotify_add_watch(fd, events, _IN_MODIFY) < 0:
                err = ctypes.get_errno()
                if err == errno.ENOENT:
                    return
                raise OSError(err, f"inotify_add_watch {self.path} failed")
            while self.populated():
                await trio.lowlevel.wait_readable(fd)
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 4096)
        finally:
            os.close(fd)

    def memory_current(self) -> int | None:
        """The memory the cgroup's processes hold (``memory.current``, bytes), or None without
        the memory controller, or once the cgroup is gone."""
        if not self.memory:
            return None
        try:
            return int(_read(os.path.join(self.path, "memory.current")))
        except (OSError, ValueError):
            return None

    def watch_file(self, name: str) -> int:
        """An inotify descriptor (non-blocking) that becomes readable when the kernel raises a
        file-modified event on the cgroup's file ``name`` (``memory.events`` when a counter
        moves); the caller reads it empty after each wake-up, and closes it.

        Raises:
            OSError: out of descriptors (``OUT_OF_FDS``), or the file cannot be watched.
        """
        fd: int = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        if _libc.inotify_add_watch(fd, os.path.join(self.path, name).encode(), _IN_MODIFY) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {self.path}/{name}: {os.strerror(err)}")
        return fd

    def remove(self) -> bool:
        """Remove the cgroup; False if it is still in use (its processes outlive it)."""
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            return False
        return True


#: The name of every daemon's tree starts with this.
TREE_PREFIX = "supervisord-lite."


def cgroup_of(pid: int, mount: str) -> str | None:
    """The cgroup2 folder a process is in (under ``mount``), or None (gone, or no cgroup2)."""
    path = own_cgroup(f"/proc/{pid}/cgroup")
    if path is None:
        return None
    return os.path.join(mount, path.lstrip("/"))


def is_tree(path: str) -> bool:
    """Whether ``path`` names a daemon's tree (``.../supervisord-lite.<pid>.<random>``)."""
    return os.path.basename(path).startswith(TREE_PREFIX) and ".." not in path.split(os.sep)


class CgroupTree:
    """The cgroups this daemon creates, under ``<our cgroup>/supervisord-lite.<pid>.<random>``.

    A crashed daemon's tree is opened with the constructor alone, to list what it left
    (``runs``) and remove it (``close``).
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.memory = False

    def runs(self) -> list[tuple[str, int, Cgroup]]:
        """The run cgroups in the tree: (program, run id, cgroup), from their names."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            program, _, run_id = entry.name.rpartition(".")
            if entry.is_dir() and program and run_id.isdigit():
                found.append((program, int(run_id), Cgroup(entry.path)))
        return found

    @classmethod
    def open(cls) -> CgroupTree | None:
        """The tree, or None when cgroup2 is missing or not writable for us."""
        mount = find_cgroup2_mount()
        own = own_cgroup()
        if mount is None or own is None:
            return None
        # The pid alone is not unique: every container's daemon may be pid 1.
        name = f"{TREE_PREFIX}{os.getpid()}.{secrets.token_hex(4)}"
        root = os.path.join(mount, own.lstrip("/"), name)
        try:
            os.mkdir(root, 0o755)
        except OSError:
            return None
        if not os.path.exists(os.path.join(root, "cgroup.kill")):
            os.rmdir(root)
            return None
        return cls(root)

    def controllers(self) -> set[str]:
        """Controllers usable by our run cgroups (enabled for the tree's children)."""
        try:
            return set(_read(os.path.join(self.root, "cgroup.controllers")).split())
        except OSError:
            return set()

    def enable(self, controllers: set[str]) -> None:
        """Enable controllers for the run cgroups.

        Raises:
            DaemonError: the kernel refused (not delegated to us, or not available).
        """
        if not controllers:
            return
        try:
            _write(
                os.path.join(self.root, "cgroup.subtree_control"),
                " ".join(f"+{c}" for c in sorted(controllers)),
            )
            self.memory = self.memory or "memory" in controllers
        except OSError as exc:
            raise DaemonError(
                f"cannot enable cgroup controllers {sorted(controllers)} in {self.root}: "
                f"{exc.strerror}"
            ) from exc

    def run_path(self, name: str, run_id: int) -> str:
        """Where the cgroup of a program's run is (or was)."""
        return os.path.join(self.root, f"{name}.{run_id}")

    def create(self, name: str, run_id: int, limits: dict[str, str]) -> Cgroup:
        """A fresh cgroup for one run, with its resource limits written."""
        group = Cgroup(self.run_path(name, run_id), memory=self.memory)
        os.mkdir(group.path, 0o755)
        for key, value in limits.items():
            _write(os.path.join(group.path, key), value)
        return group

    def close(self) -> bool:
        """Remove the tree's (empty) cgroups and the tree itself; False if some are still in
        use (they are named in a warning and left in place)."""
        try:
            children = os.scandir(self.root)
        except FileNotFoundError:
            return True
        with children:
            busy = [e.path for e in children if e.is_dir() and not Cgroup(e.path).remove()]
        if busy:
            log.warning("cgroups still in use, left in place: %s", ", ".join(busy))
            return False
        return Cgroup(self.root).remove()


def trampoline(group: Cgroup, argv: list[str]) -> list[str]:
    """argv that moves the new process into ``group`` and then execs the program (``argv[0]``
    a resolved path). A run that must also switch user or set process attributes uses the
    exec wrapper (execwrap.py) instead."""
    return ["/bin/sh", "-c", 'echo 0 > "$0" && exec "$@"', group.procs_file, *argv]
