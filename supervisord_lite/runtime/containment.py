"""A run's processes: everything a program started, wherever it went, so a stop leaves none.

A run is its process group, plus, where a cgroup2 tree is ours, its own cgroup (which holds
every descendant, whatever it did to its process group or session). Without a cgroup the
subreaper keeps escaped descendants as our children once their parent died; each carries the
run's marker in its environment (``SUPERVISORD_LITE_RUN``), which attributes it to its run. The
lifecycle treats all of these as "the group": a stop signals all of them and the run ends only
when none is left.
"""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psutil

from supervisord_lite.errors import Problem, SpawnError
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.reaper import Reaper, our_children

if TYPE_CHECKING:
    from supervisord_lite.config import Config, ProgramConfig
    from supervisord_lite.runtime.cgroups import Cgroup, CgroupTree

_LIMIT_FIELDS = {"memory": "memory_max", "pids": "pids_max", "cpu": "cpu_max"}

#: Every program's environment names its program and its run (``<store id>:<run id>``).
RUN_MARKER = "SUPERVISORD_LITE_RUN"


def store_id(state_db: str) -> str:
    """A short stable id for a state store, so markers of two daemons never collide."""
    return hashlib.sha256(os.path.realpath(state_db).encode()).hexdigest()[:12]


def read_marker(pid: int) -> str | None:
    """The run marker in a process' environment, or None (gone, unreadable, or unmarked)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except OSError:
        return None
    key = RUN_MARKER.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(key):
            return entry[len(key) :].decode(errors="replace")
    return None


def marked_processes(marker: str, candidates: list[int]) -> list[int]:
    """The candidates carrying ``marker`` and all their descendants."""
    found: list[int] = []
    for pid in candidates:
        if read_marker(pid) != marker:
            continue
        found.append(pid)
        try:
            found.extend(c.pid for c in psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2 :][:1] not in (b"Z", b"X")


@dataclass(slots=True)
class RunScope:
    """The processes of one run; see the module docstring."""

    pgid: int
    marker: str
    reaper: Reaper
    cgroup: Cgroup | None = None
    signalled: set[int] = field(default_factory=set)

    @property
    def mechanism(self) -> str:
        return "cgroup" if self.cgroup is not None else "subreaper"

    def escaped(self) -> list[int]:
        """Live descendants that left the group: adopted children carrying our marker."""
        candidates = [p for p in our_children() if p not in self.reaper.managed]
        return [p for p in marked_processes(self.marker, candidates) if _alive(p)]

    def members(self) -> list[int]:
        """Every live process of the run."""
        if self.cgroup is not None:
            return [p for p in self.cgroup.pids() if _alive(p)]
        return sorted({*groups.group_members(self.pgid), *self.escaped()})

    def alive(self) -> bool:
        if self.cgroup is not None:
            return self.cgroup.populated()
        return groups.group_alive(self.pgid) or bool(self.escaped())

    def signal(self, signame: str) -> None:
        """Send a signal once to every process of the run.

        With a cgroup, through the cgroup alone once the run has joined it: it then holds the
        whole group, and signalling the group as well would give its members the signal twice,
        which some programs read as "quit now". Until the trampoline has joined (a stop right
        after a spawn), the cgroup is empty and the group is the trampoline alone, so the
        group is signalled instead; a process that joins in between keeps its process group.
        """
        signum = signal.Signals[f"SIG{signame}"]
        if self.cgroup is not None and self.cgroup.signal(signum):
            return
        groups.signal_group(self.pgid, signame)
        for pid in self.escaped():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue

    async def wait_empty(self) -> None:
        """Return once no process of the run is left (no polling: pidfds or inotify)."""
        if self.cgroup is not None:
            await self.cgroup.wait_empty()
            return
        while True:
            members = self.members()
            if not members:
                return
            for pid in members:
                await groups.wait_pid_exit(pid)
            # Adopted escapees are zombies of ours until reaped; reap before looking again.
            self.reaper.reap()

    def release(self) -> None:
        """The run is over: remove its cgroup."""
        if self.cgroup is not None:
            self.cgroup.remove()


class Containment:
    """How this daemon keeps runs contained: the subreaper always, a cgroup per run when the
    cgroup2 tree is ours (``mode`` "auto" or "cgroup"), never cgroups with "subreaper"."""

    def __init__(self, reaper: Reaper, tree: CgroupTree | None, store: str) -> None:
        self.reaper = reaper
        self.tree = tree
        self.store = store

    @property
    def mechanism(self) -> str:
        return "cgroup" if self.tree is not None else "subreaper"

    def marker(self, run_id: int) -> str:
        return f"{self.store}:{run_id}"

    def cgroup_for(self, program: ProgramConfig, run_id: int) -> Cgroup | None:
        """A fresh cgroup for a run, or None without the cgroup mechanism.

        Raises:
            SpawnError: the cgroup could not be made or its limits not written.
        """
        if self.tree is None:
            return None
        try:
            return self.tree.create(program.name, run_id, program.resource_limits())
        except OSError as exc:
            raise SpawnError(f"cannot create the run's cgroup: {exc.strerror or exc}") from exc

    def problems(self, config: Config) -> list[Problem]:
        """Resource limits this host cannot enforce, as config problems (never silently dropped)."""
        problems = []
        available = self.tree.controllers() if self.tree is not None else set()
        for program in config.programs.values():
            for key in program.resource_limits():
                controller = key.split(".", 1)[0]
                if controller not in available:
                    field = {"memory": "memory_max", "pids": "pids_max", "cpu": "cpu_max"}[
                        controller
                    ]
                    where = "no writable cgroup2 tree" if self.tree is None else self.tree.root
                    problems.append(
                        Problem(
                            f"$.programs.{program.name}.{field}",
                            f"the cgroup v2 {controller} controller is not available ({where})",
                        )
                    )
        return problems

    def enable_controllers(self, config: Config) -> None:
        """Turn on the controllers the config's limits need (see ``problems`` first)."""
        if self.tree is not None:
            needed = {
                key.split(".", 1)[0]
                for p in config.programs.values()
                for key in p.resource_limits()
            }
            self.tree.enable(needed)

    def scope(self, pgid: int, run_id: int, cgroup: Cgroup | None) -> RunScope:
        return RunScope(pgid=pgid, marker=self.marker(run_id), reaper=self.reaper, cgroup=cgroup)
