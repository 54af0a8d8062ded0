"""What the state machine knows about one program: its state, its policy and its snapshot.

Everything here is a frozen value. ``Snapshot`` is the whole memory of the machine: ``step()``
returns a new one for every event, so the runtime can keep the latest, show it, and never ask
the machine anything else.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

import msgspec

from supervisord_lite.lifecycle.restarts import Permafail, backoff_delay

# The states and wishes are the shared vocabulary (supervisord's names): one enum serves the
# lifecycle, the store and the wire, so what the lifecycle decides is what clients are shown.
from supervisord_lite.vocabulary import ProgramState as State
from supervisord_lite.vocabulary import Want

__all__ = [
    "DEATH_TALLY",
    "Death",
    "ExitStatus",
    "Policy",
    "Snapshot",
    "State",
    "StopPhase",
    "Want",
]

DEATH_TALLY: Final = 100
"""How many recent deaths a snapshot keeps (s6's ``max-death-tally`` default)."""


class StopPhase(enum.StrEnum):
    """How far a stop has gone: no signal yet, stop signal sent, SIGKILL sent, SIGKILL failed."""

    NONE = "NONE"
    SIGNALLED = "SIGNALLED"
    KILLED = "KILLED"
    UNKILLABLE = "UNKILLABLE"


class ExitStatus(msgspec.Struct, frozen=True):
    """How a process ended: an exit ``code`` or a ``signal`` name (``"KILL"``), exactly one.

    Raises:
        ValueError: both or neither of ``code`` and ``signal`` are set.
    """

    code: int | None = None
    signal: str | None = None

    def __post_init__(self) -> None:
        if (self.code is None) == (self.signal is None):
            raise ValueError("an exit status has exactly one of code and signal")

    def describe(self) -> str:
        """``"exit 3"`` or ``"signal KILL"``, for messages and logs."""
        return f"exit {self.code}" if self.signal is None else f"signal {self.signal}"


class Death(msgspec.Struct, frozen=True):
    """One entry of the death tally: when (monotonic seconds) and how a leader died;
    ``stopped`` when the daemon was stopping the run (its signal, not a death of its own)."""

    at: float
    exit: ExitStatus
    stopped: bool = False


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of a program's config that decide its transitions.

    ``spawn_floor`` is the minimum spacing between two spawns, whatever caused them, so a
    program that dies at once can never make the supervisor busy-loop. A failed start waits
    ``backoff_initial * backoff_factor ** (retries - 1)`` seconds, at most ``backoff_max``; so
    does the restart after the n-th crash in a row, a crash being a failed exit (see
    ``expects``) of a run that reached RUNNING but lived less than ``backoff_reset`` seconds
    (0: no run is a crash). ``start_limit_burst`` restarts after failures (failed starts and
    failed exits) within ``start_limit_interval`` seconds are allowed; the failure that would
    need one more makes the program FATAL (0: no limit). ``start_retries`` None retries
    failed starts without end (the start limit still holds). ``backoff_jitter`` shortens each
    wait by up to that fraction of itself (``restarts.backoff_delay``). ``permafail``, when set,
    makes the program FATAL at the death that completes its rule, whatever retries are left.
    """

    autorestart: Literal["always", "on-failure", "never"] = "on-failure"
    exit_codes: tuple[int, ...] = (0,)
    start_seconds: float = 1.0
    start_retries: int | None = 3
    backoff_initial: float = 1.0
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    spawn_floor: float = 1.0
    stop_signal: str = "TERM"
    stop_timeout: float = 10.0
    kill_timeout: float = 5.0
    backoff_reset: float = 30.0
    start_limit_burst: int = 5
    start_limit_interval: float = 60.0
    ready_probe: bool = False
    """The program is ready when ``Ready`` says so (a probe), not after ``start_seconds``."""
    start_timeout: float = 60.0
    """With ``ready_probe``: not ready this long after the spawn is a failed start."""
    watchdog: float | None = None
    """Once RUNNING, a ``KeepAlive`` is due at least this often (seconds)."""
    watchdog_signal: str = "ABRT"
    backoff_jitter: float = 0.0
    permafail: Permafail | None = None
    graceful_stop: bool = False
    """The program has a ``pre_stop`` hook or a ``stop_command``: the stop of a run whose
    leader lives begins with ``StopGracefully`` instead of ``SignalGroup``."""

    def expects(self, status: ExitStatus) -> bool:
        """Whether an exit was expected: its code is in ``exit_codes`` (a signal never is)."""
        return status.code is not None and status.code in self.exit_codes

    def restarts_after(self, status: ExitStatus) -> bool:
        """Whether ``autorestart`` asks for a new run after a run that reached RUNNING ended."""
        if self.autorestart == "always":
            return True
        return self.autorestart == "on-failure" and not self.expects(status)

    def backoff(self, retries: int, draw: float = 0.0) -> float:
        """Seconds to wait before start attempt ``retries + 1`` (``retries`` >= 1 failed);
        ``draw`` (0 to 1) is the random part of the jitter."""
        return backoff_delay(
            self.backoff_initial,
            self.backoff_factor,
            self.backoff_max,
            retries,
            jitter=self.backoff_jitter,
            draw=draw,
        )


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the machine remembers about one program; ``Snapshot()`` is a program never run.

    A *run* is one spawned process group, from ``Spawned`` until its leader is reaped and no
    member is left. ``pgid`` and ``run_id`` are set exactly while a run is tracked; ``pid``
    while its leader is unreaped. In STARTING and STOPPING, ``pgid is None`` means a ``Spawn``
    is in flight and its answer has not come yet.

    - ``retries``: consecutive failed starts; reaching RUNNING or a fresh ``WantUp`` clears it.
    - ``crashes``: consecutive crashes (see ``Policy``); a run that lived ``backoff_reset``
      seconds or a fresh ``WantUp`` clears it.
    - ``failures``: when the recent failures that were followed by a restart happened, at most
      ``start_limit_burst`` of them; a fresh ``WantUp`` clears it.
    - ``last_spawn_at``: when the last ``Spawn`` was emitted; the spawn floor counts from it.
    - ``deadline``: the one timer (monotonic seconds), mirrored by SetDeadline/ClearDeadline.
    - ``leader_exit``: the leader was reaped, but other members of its group are still alive.
    - ``exited_from``: STARTING or RUNNING when the leader exited on its own and the stop only
      clears what is left of its group; None when the stop was requested.
    - ``restart_pending``: a ``Restart`` arrived; spawn again once the stop completes.
    - ``message``: why the program is in this state, for operators.
    - ``ending``: why the supervisor is ending a run that was not asked to stop (not ready in
      time, unhealthy, its watchdog fired, over its memory); the run's record says it and it
      counts as failed.
    - ``fresh_at``: when the operator last started the program (a fresh series); the
      permafail rule counts only deaths since then.
    """

    state: State = State.STOPPED
    want: Want = Want.DOWN
    pid: int | None = None
    pgid: int | None = None
    run_id: int | None = None
    spawned_at: float | None = None
    retries: int = 0
    last_exit: ExitStatus | None = None
    last_spawn_at: float | None = None
    deadline: float | None = None
    stop_phase: StopPhase = StopPhase.NONE
    leader_exit: ExitStatus | None = None
    exited_from: State | None = None
    deaths: tuple[Death, ...] = ()
    restart_pending: bool = False
    message: str = ""
    crashes: int = 0
    failures: tuple[float, ...] = ()
    ending: str = ""
    fresh_at: float | None = None
