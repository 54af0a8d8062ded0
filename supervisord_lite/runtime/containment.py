"""A run's processes: everything a program started, wherever it went, so a stop leaves none.

A run is its process group, plus, where a cgroup2 tree is ours, its own cgroup (which holds
every descendant, whatever it did to its process group or session). Without a cgroup, a run is
its process group, the descendants of its members (wherever their group or session), and the
processes carrying the run's marker in their environment (``SUPERVISORD_LITE_RUN``): escaped
descendants whose parent died, which the subreaper keeps as our children, or, for the runs of a
daemon that crashed, anyone's. The lifecycle treats all of these as "the group": a stop signals
all of them and the run ends only when none is left.

There is one way to stop a run, whoever asks: ``RunScope.stop`` sends a signal through the
run's containment (the cgroup, else the group, its descendants and the marked processes), and
a stop signal is followed by SIGCONT, so a stopped (SIGSTOPped) program wakes up to handle it,
as systemd does. The lifecycle drives the escalation of a supervised run; ``terminate`` drives
the same escalation for runs nobody supervises any more: those a crashed daemon left
(recovery) and those still alive at the shutdown deadline. A zombie counts as gone everywhere
(docs/architecture.md, "Kernel facts").
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from supervisord_lite.errors import DaemonError, Problem, SpawnError
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.reaper import Reaper, our_children
from supervisord_lite.signames import signal_number

if TYPE_CHECKING:
    from supervisord_lite.config import Config, ProgramConfig
    from supervisord_lite.runtime.cgroups import Cgroup, CgroupTree

_LIMIT_FIELDS = {"memory": "memory_max", "pids": "pids_max", "cpu": "cpu_max"}

#: Every program's environment names its program and its run (``<store id>:<run id>``).
RUN_MARKER = "SUPERVISORD_LITE_RUN"

#: Signals after which a stopped process is not sent SIGCONT: it needs no waking for them.
_NO_WAKE = frozenset({"KILL", "CONT", "STOP", "TSTP", "TTIN", "TTOU"})


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
    """The live candidates carrying ``marker`` and all their live descendants (/proc is
    scanned only when some candidate carries it)."""
    marked = {pid for pid in candidates if read_marker(pid) == marker}
    if not marked:
        return []
    return sorted(groups.with_descendants(marked, groups.live_processes()))


@dataclass(slots=True)
class RunScope:
    """The processes of one run; see the module docstring.

    ``pgid`` is None for a crashed daemon's run whose leader is gone (its number may belong to
    someone else now). ``adopted`` says where escaped descendants are: our children (a run of
    this daemon, under the subreaper), or anywhere (a crashed daemon's run: they went to init).
    """

    pgid: int | None
    marker: str
    reaper: Reaper
    cgroup: Cgroup | None = None
    adopted: bool = True
    #: The live runs of the daemon, from which ``release`` removes this one.
    registry: dict[str, RunScope] | None = field(default=None, repr=False)

    @property
    def mechanism(self) -> str:
        return "cgroup" if self.cgroup is not None else "subreaper"

    def escaped(self) -> list[int]:
        """Live processes that left the group: those carrying our marker (adopted children
        of ours, or anyone's for a crashed daemon's run) and their descendants."""
        if self.adopted:
            candidates = [p for p in our_children() if p not in self.reaper.managed]
        else:
            candidates = [p for p in groups.live_processes() if p != os.getpid()]
        return marked_processes(self.marker, candidates)

    def _contained(self) -> bool:
        """Whether the run's cgroup holds it (a run joins its cgroup just after the spawn)."""
        return self.cgroup is not None and self.cgroup.populated()

    def members(self) -> list[int]:
        """Every live process of the run."""
        if self._contained():
            assert self.cgroup is not None
            return [p for p in self.cgroup.pids() if groups.is_alive(p)]
        return sorted(self._uncontained())

    def _uncontained(self) -> dict[int, int]:
        """Without a cgroup: the group, the marked processes and all their descendants, each
        with its process group (one pass over /proc)."""
        table = groups.live_processes()
        roots = {p for p, (_, pgid) in table.items() if pgid == self.pgid}
        if self.adopted:
            candidates = [p for p in our_children() if p not in self.reaper.managed]
        else:
            candidates = [p for p in table if p != os.getpid()]
        roots.update(p for p in candidates if p in table and read_marker(p) == self.marker)
        return {p: table[p][1] for p in groups.with_descendants(roots, table)}

    def alive(self) -> bool:
        """Whether a process of the run is left; True when the daemon is out of descriptors
        and cannot look (the wait for the run's end will know)."""
        try:
            if self.cgroup is not None:
                return self.cgroup.populated()
            in_group = self.pgid is not None and groups.group_alive(self.pgid)
            return in_group or bool(self.escaped())
        except OSError as exc:
            if exc.errno not in groups.OUT_OF_FDS:
                raise
            return True

    def send(self, signame: str) -> None:
        """Send a signal once to every process of the run.

        With a cgroup, through the cgroup alone once the run has joined it: it then holds the
        whole group, and signalling the group as well would give its members the signal twice,
        which some programs read as "quit now". Until the trampoline has joined (a stop right
        after a spawn), the cgroup is empty and the group is the trampoline alone, so the
        group is signalled instead; a process that joins in between keeps its process group.

        Without a cgroup, the group is signalled with ``killpg`` (which a fork cannot race),
        then the escaped processes. SIGKILL also goes to every descendant in another group or
        session, found from /proc: once its parent is killed it is ours to adopt, but it would
        not have been sent the SIGKILL.

        Out of descriptors, neither the cgroup nor /proc can be read: the group alone is
        signalled (``killpg`` needs no descriptor), and the daemon's log says so.
        """
        signum = signal_number(signame)
        try:
            if self.cgroup is not None and self.cgroup.signal(signum):
                return
            # Found before the group is signalled: a killed parent's children are re-parented,
            # and would no longer be found as its descendants.
            if signame == "KILL" or not self.adopted:
                others = [p for p, pgid in self._uncontained().items() if pgid != self.pgid]
            else:
                others = self.escaped()
        except OSError as exc:
            if exc.errno not in groups.OUT_OF_FDS:
                raise
            log.warning(
                "run %s: SIG%s to its process group only: %s", self.marker, signame, exc.strerror
            )
            others = []
        if self.pgid is not None:
            groups.signal_group(self.pgid, signame)
        for pid in others:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue

    def stop(self, signame: str) -> None:
        """Send a stop signal (or SIGKILL) to the run; a stop signal is followed by SIGCONT,
        so a stopped process wakes to handle it."""
        self.send(signame)
        if signame not in _NO_WAKE:
            self.send("CONT")

    async def wait_empty(self) -> None:
        """Return once no process of the run is left (no polling: pidfds or inotify; out of
        descriptors, a look every ``NO_FD_RETRY`` seconds)."""
        while True:
            try:
                if self._contained():
                    assert self.cgroup is not None
                    await self.cgroup.wait_empty()
                    return
                members = self.members()
            except OSError as exc:
                if exc.errno not in groups.OUT_OF_FDS:
                    raise
                await trio.sleep(groups.NO_FD_RETRY)
                continue
            if not members:
                return
            for pid in members:
                await groups.wait_pid_exit(pid)
            if self.adopted:
                # Adopted escapees are zombies of ours until reaped; reap before looking again.
                self.reaper.reap()

    def release(self) -> None:
        """The run is over: remove its cgroup."""
        if self.registry is not None:
            self.registry.pop(self.marker, None)
        if self.cgroup is not None:
            self.cgroup.remove()


async def terminate(
    scope: RunScope,
    *,
    kill_timeout: float,
    stop_signal: str | None = None,
    stop_timeout: float = 0.0,
) -> list[int]:
    """Stop a run nobody supervises: ``stop_signal`` (if any), up to ``stop_timeout`` for the
    run to end, then SIGKILL and up to ``kill_timeout``; the pids still alive after that."""
    if stop_signal is not None:
        scope.stop(stop_signal)
        with trio.move_on_after(stop_timeout):
            await scope.wait_empty()
            return []
    scope.stop("KILL")
    with trio.move_on_after(kill_timeout):
        await scope.wait_empty()
        return []
    try:
        return scope.members()
    except OSError as exc:
        if exc.errno not in groups.OUT_OF_FDS:
            raise
        return [scope.pgid] if scope.pgid is not None else []


class Containment:
    """How this daemon keeps runs contained: the subreaper always, a cgroup per run when the
    cgroup2 tree is ours (``mode`` "auto" or "cgroup"), never cgroups with "subreaper"."""

    def __init__(self, reaper: Reaper, tree: CgroupTree | None, store: str) -> None:
        self.reaper = reaper
        self.tree = tree
        self.store = store
        #: The runs that are not over yet, by marker (a run leaves at ``RunScope.release``).
        self.live: dict[str, RunScope] = {}

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
        limits = program.resource_limits()
        if program.restart_when.memory is not None and self.tree.memory:
            # restart_when.memory: the kernel's high events tell us (runtime/memorywatch.py).
            limits["memory.high"] = str(program.restart_when.memory)
        try:
            return self.tree.create(program.name, run_id, limits)
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
            # restart_when.memory uses the memory controller where it can (else it samples).
            wanted = any(p.restart_when.memory is not None for p in config.programs.values())
            if wanted and not self.tree.memory and "memory" in self.tree.controllers():
                try:
                    self.tree.enable({"memory"})
                except DaemonError as exc:
                    log.warning("restart_when.memory will sample /proc: %s", exc)

    def scope(self, pgid: int, run_id: int, cgroup: Cgroup | None) -> RunScope:
        """The scope of a run just spawned; it stays in ``live`` until released."""
        marker = self.marker(run_id)
        scope = RunScope(
            pgid=pgid, marker=marker, reaper=self.reaper, cgroup=cgroup, registry=self.live
        )
        self.live[marker] = scope
        return scope

    def run_id(self, marker: str) -> int | None:
        """The run id in one of this daemon's markers; None for another store's marker."""
        store, _, run_id = marker.rpartition(":")
        return int(run_id) if store == self.store and run_id.isdigit() else None
