"""A program's readiness and health, watched: the probes, its notify socket and what they said.

``Health`` exists only for a program that has a ``ready`` probe, a ``liveness`` probe, a notify
socket (every program, unless ``notify_socket = false``) or reads progress from its output; it
keeps the latest progress report (runtime/progress.py). It turns what it learns into lifecycle
events for the runner (``Ready``, ``Unhealthy``, ``KeepAlive``, ``WatchdogFired``,
``ExtendTimeout``); the lifecycle decides what they mean. What needs the kernel to wake us does:
the notify socket is read by the daemon's ``FdWatch`` when a datagram comes. What can only be
looked at (``exec``, ``http``, ``tcp``) is looked at every ``interval`` by one task, and only
while it matters: the ready probe while the program is STARTING, the liveness probe while it is
RUNNING. A datagram counts only when its sender, named by the kernel, is a process of the
program's current run.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Final, Literal

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.errors import SpawnError
from supervisord_lite.protocol.messages import ProbeReport
from supervisord_lite.runtime.containment import read_marker
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.probes import ProbeResult, check
from supervisord_lite.runtime.progress import ProgressKeeper, ProgressPusher, line_reader
from supervisord_lite.runtime.reports import noted
from supervisord_lite.runtime.spawn import resolve_identity

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.config_probes import Probe
    from supervisord_lite.notify_datagram import Notification
    from supervisord_lite.runtime.containment import RunScope
    from supervisord_lite.runtime.logs.streams import ProgramLogs
    from supervisord_lite.runtime.notifysocket import NotifySockets
    from supervisord_lite.runtime.services import RunnerServices

__all__ = ["Health", "needs_health", "sender_in_run"]

_POLLED = ("exec", "http", "tcp")
#: The longest partial line a ``log`` probe keeps between two chunks of output.
MAX_PARTIAL_LINE: Final = 64 * 1024


def needs_health(program: ProgramConfig) -> bool:
    """Whether a program has anything for ``Health`` to watch."""
    return (
        program.ready is not None
        or program.liveness is not None
        or program.notify_socket
        or program.progress is not None
    )


class Health:
    """See the module docstring. ``send`` steps the runner; ``scope`` names the current run."""

    def __init__(
        self,
        program: ProgramConfig,
        services: RunnerServices,
        send: Callable[[lc.Event], None],
        scope: Callable[[], RunScope | None],
        logs: ProgramLogs,
        snapshot: Callable[[], lc.Snapshot],
    ) -> None:
        self.program = program
        self._snapshot = snapshot
        self._services = services
        self._logs = logs
        self._pipe = -1  # the read end of an ``fd`` probe's pipe, while it is watched
        self._send = send
        self._scope = scope
        self._probing: trio.CancelScope | None = None
        self._probing_for: lc.State | None = None
        #: The last result of a probe (ready or liveness) and when it came (wall clock).
        self.last: ProbeReport | None = None
        #: Consecutive liveness failures.
        self.failures = 0
        #: Failed looks by probe, counted from the start (the metrics read them).
        self.probe_failures = {
            kind: 0 for kind in ("ready", "liveness") if getattr(program, kind) is not None
        }
        #: The program's own ``STATUS=`` text, and its ``MAINPID=``.
        self.status_text: str | None = None
        self.main_pid: int | None = None
        #: Datagrams refused: from a process outside the run, or malformed.
        self.refused = 0
        self.notify_path: str | None = None
        #: The latest progress report of the current run, and what pushes it to followers.
        self.progress = ProgressKeeper()
        self._pusher = ProgressPusher(program.name, self.progress, services, snapshot)
        #: What watches the output: a ``log`` ready probe, and progress lines.
        self._ready_output: Callable[[bytes], None] | None = None
        self._progress_output: tuple[Callable[[bytes], None], Callable[[], None]] | None = None
        if program.progress is not None:
            self._progress_output = line_reader(
                program.progress, self.progress, services.wall_clock
            )
        if program.notify_socket and services.notify is not None:
            owner = _owner(program)
            self.notify_path = services.notify.open(
                program.name, self._notified, uid=owner[0], gid=owner[1]
            ).path

    @property
    def healthy(self) -> bool | None:
        """None without a liveness probe; else whether it has not failed since it last passed."""
        if self.program.liveness is None:
            return None
        return self._snapshot().state is lc.State.RUNNING and self.failures == 0

    def env(self) -> dict[str, str]:
        """What the program's environment gets: its notify socket."""
        return {"NOTIFY_SOCKET": self.notify_path} if self.notify_path else {}

    def prepare_spawn(self) -> tuple[int, int] | None:
        """Before a spawn: a ``log`` probe starts reading the output (the first line may come
        at once); an ``fd`` probe makes a new pipe, whose write end the program gets as its
        descriptor N: (N, the write end). ``spawned`` must follow."""
        ready = self.program.ready
        self.progress.reset()
        if self._progress_output is not None:
            self._progress_output[1]()
        if ready is not None and ready.log is not None:
            self._watch_output(self._match_output(ready.log))
        else:
            self._watch_output(None)
        if ready is None or ready.fd is None:
            return None
        self._close_pipe()
        self._pipe, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        return ready.fd, write_end

    def spawned(self, given: tuple[int, int] | None, ok: bool) -> None:
        """After a spawn: our copy of the write end goes; the read end is watched if it ran."""
        if not ok:
            self._watch_output(None)
        if given is None:
            return
        os.close(given[1])
        if ok:
            self._services.fdwatch.add(self._pipe, self._fd_readable, self._services.nursery)
        else:
            self._close_pipe()

    def _fd_readable(self) -> None:
        try:
            data = os.read(self._pipe, 512)
        except BlockingIOError:
            return
        if b"\n" in data:
            self._close_pipe()
            self._send(lc.Ready())
        elif not data:  # closed without a newline: not ready (start_timeout decides)
            self._close_pipe()

    def _close_pipe(self) -> None:
        if self._pipe >= 0:
            self._services.fdwatch.remove(self._pipe)
            os.close(self._pipe)
            self._pipe = -1

    def _match_output(self, pattern: str) -> Callable[[bytes], None]:
        """A watcher of the program's output that says Ready at the first line matching."""
        regex = re.compile(pattern.encode())
        partial = [b""]

        def watcher(data: bytes) -> None:
            lines = (partial[0] + data).split(b"\n")
            partial[0] = lines.pop()[-MAX_PARTIAL_LINE:]
            if any(regex.search(line) for line in lines):
                self._watch_output(None)
                self._send(lc.Ready())

        return watcher

    def _watch_output(self, ready: Callable[[bytes], None] | None) -> None:
        """Hand the output to the ``log`` ready probe's ``ready`` (None: no more) and to the
        progress reader, each on its own streams."""
        self._ready_output = ready
        progress = self._progress_output
        source = self.program.progress.source if self.program.progress is not None else None
        for stream in self._logs.streams:
            read = progress[0] if progress is not None and stream.stream == source else None
            if ready is not None and read is not None:
                stream.watcher = _both(ready, read)
            else:
                stream.watcher = ready or read

    def close(self, notify: NotifySockets | None) -> None:
        self._pusher.close()
        self._stop_probing()
        self._close_pipe()
        self._progress_output = None
        self._watch_output(None)
        if notify is not None and self.notify_path is not None:
            notify.close(self.program.name)
            self.notify_path = None

    # -- the runner's steps --------------------------------------------------------------------

    def on_step(self, before: lc.Snapshot, after: lc.Snapshot) -> None:
        """Start or stop looking as the program moves between states."""
        if after.state is lc.State.RUNNING and before.state is not lc.State.RUNNING:
            self.failures = 0
        if after.state is self._probing_for and after.pgid is not None:
            return
        self._stop_probing()
        if after.state is not lc.State.STARTING:
            self._close_pipe()
            if self._ready_output is not None:
                self._watch_output(None)
        if after.pgid is None:
            return
        probe: Probe | None = None
        if after.state is lc.State.STARTING:
            probe = self.program.ready
        elif after.state is lc.State.RUNNING:
            probe = self.program.liveness
        if probe is not None and probe.kind in _POLLED:
            self._probing_for = after.state
            self._services.nursery.start_soon(
                self._probe_loop, probe, after.state, name=f"probe {self.program.name}"
            )

    def _stop_probing(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
        self._probing = None
        self._probing_for = None

    async def _probe_loop(self, probe: Probe, state: lc.State) -> None:
        with trio.CancelScope() as scope:
            if self._probing_for is not state or self._probing is not None:
                return
            self._probing = scope
            await trio.sleep(probe.initial_delay)
            failing = False
            while True:
                started = trio.current_time()
                result = await check(
                    probe,
                    self.program,
                    cwd=self._services.base_dir,
                    reaper=self._services.containment.reaper,
                )
                self._note(result)
                if not result.ok:
                    kind = "ready" if state is lc.State.STARTING else "liveness"
                    self.probe_failures[kind] += 1
                if state is lc.State.STARTING and result.ok:
                    self._probing = self._probing_for = None
                    self._send(lc.Ready())
                    return
                if state is lc.State.STARTING and not failing:
                    failing = True  # one event per start: it may fail many times first
                    self._publish(f"readiness probe failed: {result.detail}", change="probe")
                if state is lc.State.RUNNING:
                    self._liveness(result)
                await trio.sleep_until(started + probe.interval)

    def _note(self, result: ProbeResult) -> None:
        self.last = ProbeReport(
            ok=result.ok,
            detail=result.detail,
            latency=result.latency,
            at=self._services.wall_clock(),
        )

    def _liveness(self, result: ProbeResult) -> None:
        liveness = self.program.liveness
        assert liveness is not None
        if result.ok:
            if self.failures:
                self._publish(f"healthy again: {result.detail}")
            self.failures = 0
            return
        self.failures += 1
        if self.failures == 1:
            self._publish(f"liveness probe failed: {result.detail}")
        if self.failures >= liveness.failure_threshold:
            kind = liveness.kind
            target = getattr(liveness, kind)
            where = " ".join(target) if isinstance(target, tuple) else target
            reason = f"{kind} {where}: {result.detail} ({self.failures} failures in a row)"
            log.warning("%s: unhealthy: %s", self.program.name, reason)
            self._send(lc.Unhealthy(reason))

    def _publish(self, message: str, change: Literal["health", "probe"] = "health") -> None:
        snap = self._snapshot()
        at = self._services.wall_clock()
        self._services.events.publish(noted(self.program.name, snap, change, message, at=at))

    # -- the notify socket ---------------------------------------------------------------------

    def _notified(self, pid: int | None, note: Notification) -> None:
        scope = self._scope()
        if pid is None or scope is None or not sender_in_run(pid, scope):
            self.refused += 1
            log.warning(
                "%s: notify datagram from pid %s ignored: not a process of its current run",
                self.program.name,
                pid,
            )
            return
        for problem in note.problems:
            log.warning("%s: notify datagram: %s", self.program.name, problem)
        if note.status is not None:
            self.status_text = note.status
        if note.main_pid is not None:
            self.main_pid = note.main_pid
        self.progress.notified(note, self._services.wall_clock())
        ready = self.program.ready
        if ready is None or not ready.notify:
            return  # only progress and STATUS= are heard from other programs
        if note.extend_timeout is not None:
            self._send(lc.ExtendTimeout(note.extend_timeout))
        if note.ready:
            self._send(lc.Ready())
        if note.watchdog:
            self._send(lc.KeepAlive())
        if note.watchdog_trigger:
            self._send(lc.WatchdogFired())


def _both(
    first: Callable[[bytes], None], second: Callable[[bytes], None]
) -> Callable[[bytes], None]:
    def watcher(data: bytes) -> None:
        first(data)
        second(data)

    return watcher


def _owner(program: ProgramConfig) -> tuple[int | None, int | None]:
    """Who the program's notify socket belongs to: the user it runs as, so that it can send;
    (None, None) to keep the daemon's (or when the user is unknown: the spawn says so)."""
    if os.geteuid() != 0:
        return None, None
    try:
        identity = resolve_identity(program.user, program.group)
    except SpawnError:
        return None, None
    return (identity.uid, identity.gid) if identity is not None else (None, None)


def sender_in_run(pid: int, scope: RunScope) -> bool:
    """Whether ``pid`` is a process of the run: in its process group, its cgroup, or marked."""
    try:
        if scope.pgid is not None and os.getpgid(pid) == scope.pgid:
            return True
    except (ProcessLookupError, PermissionError):
        return False
    if scope.cgroup is not None:
        try:
            return pid in scope.cgroup.pids()
        except OSError:
            return False
    return read_marker(pid) == scope.marker
