"""What the daemon takes hold of before it serves: the state lock, the state store, the containment.

Each is refused with an error of the documented tree (errors.py) when it cannot be had: another
daemon holds the lock, the store is corrupt or unreadable, no cgroup tree where the config asks
for one. The lock file also tells the next daemon which cgroup trees a crash of ours would leave
(recovery.py).
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import TYPE_CHECKING

from supervisord_lite.errors import AlreadyRunning, ConfigError, DaemonError, StoreCorrupt
from supervisord_lite.runtime.attributes import host_problems
from supervisord_lite.runtime.cgroups import CgroupTree
from supervisord_lite.runtime.containment import Containment, store_id
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.reaper import Reaper, become_subreaper
from supervisord_lite.store import Store
from supervisord_lite.store_file import move_aside

if TYPE_CHECKING:
    from supervisord_lite.config import Config

__all__ = ["lock_state", "open_containment", "open_store", "record_trees"]


def lock_state(state_db: str) -> tuple[int, list[str]]:
    """Hold an exclusive lock beside the state store for the daemon's lifetime, so two daemons
    never share one store (the second would take the first's runs for a crash's leftovers);
    the lock's fd, and the cgroup trees the previous holder recorded (see ``record_trees``).

    Raises:
        AlreadyRunning: another daemon holds the lock (its pid is in the lock file).
    """
    path = state_db + ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").partition("\n")[0].strip()
        os.close(fd)
        raise AlreadyRunning(state_db, int(holder) if holder.isdigit() else None) from exc
    previous = os.pread(fd, 1 << 16, 0).decode(errors="replace").splitlines()[1:]
    record_trees(fd, [])
    return fd, previous


def record_trees(lock: int, trees: list[str]) -> None:
    """Write our pid and the cgroup trees a crash of ours would leave into the lock file, for
    the next daemon's recovery: our own tree and those of crashed predecessors still in use."""
    os.ftruncate(lock, 0)
    os.pwrite(lock, "".join(f"{line}\n" for line in [str(os.getpid()), *trees]).encode(), 0)


def open_containment(config: Config) -> Containment:
    """The subreaper always; a cgroup tree unless the config says ``subreaper``.

    Raises:
        DaemonError: ``containment = "cgroup"`` but no writable cgroup2 tree exists.
        ConfigError: a program asks for a resource limit this host cannot enforce, or for a
            process attribute this daemon may not grant.
    """
    if not become_subreaper():
        log.warning("PR_SET_CHILD_SUBREAPER refused: escaped descendants cannot be adopted")
    mode = config.daemon.containment
    tree = CgroupTree.open() if mode != "subreaper" else None
    if mode == "cgroup" and tree is None:
        raise DaemonError("containment = 'cgroup' but no writable cgroup2 hierarchy was found")
    containment = Containment(Reaper(), tree, store_id(config.daemon.state_db))
    problems = containment.problems(config) + host_problems(config)
    if problems:
        if tree is not None:
            tree.close()
        raise ConfigError(config.source, problems)
    containment.enable_controllers(config)
    log.info(
        "containment: %s%s",
        containment.mechanism,
        f" ({tree.root})" if tree is not None else " (process groups + child subreaper)",
    )
    return containment


def open_store(config: Config, reset: bool) -> Store:
    """Open the state store; with ``reset``, a corrupt one is moved aside (kept, renamed with a
    timestamp) and a fresh one takes its place. The caller holds the state lock.

    Raises:
        StoreCorrupt: the store is damaged and ``reset`` is false.
        StoreError: it cannot be opened for another reason.
    """
    path = config.daemon.state_db
    try:
        return store_at(config)
    except StoreCorrupt as exc:
        if not reset:
            raise
        log.error("state store %s is corrupt: %s", path, exc.problem)
        aside = move_aside(path, time.strftime("%Y%m%dT%H%M%S"))
        log.warning("the corrupt state store %s was moved to %s; starting a fresh one", path, aside)
    return store_at(config)


def store_at(config: Config) -> Store:
    """Open the state store with the config's retention bounds.

    Raises:
        StoreError: see ``Store.open``.
    """
    daemon = config.daemon
    return Store.open(
        daemon.state_db,
        keep_runs=daemon.history_runs,
        keep_events=daemon.event_log_max,
        keep_event_seconds=daemon.event_log_max_age,
    )
