"""What a :class:`StatusReply` carries: one row per program and the state store's health.

A :class:`ProgramStatus` row is what ``svctl status`` shows of a program; the values nested in
it (its log counters, probe reports, progress, the operator's intent, its usage) are Structs of
their own so clients can read each without the rest. They sit apart from the replies because
``svctl status``, ``svctl top``, the metrics and the web page all read them.

This module is pure: it imports the standard library, msgspec and the shared vocabulary.
"""

from __future__ import annotations

from msgspec import Struct

from supervisord_lite.protocol._fields import NonNegative, Stream
from supervisord_lite.vocabulary import ProgramState, Want

__all__ = [
    "LogStreamStats",
    "OperatorIntent",
    "ProbeReport",
    "ProgramStatus",
    "Progress",
    "RunUsage",
    "StoreHealth",
]


class LogStreamStats(Struct, kw_only=True, frozen=True):
    """The counters of one program stream's log path (``svctl status --json``, ``svctl stats``).

    They count since the program was configured (restarts keep adding up). Once the stream is
    quiet, ``bytes_read == bytes_written + bytes_dropped``; while it is busy the difference is
    ``depth``, the bytes queued for the file. ``held_back`` counts the times the ``block``
    policy stopped reading (so the kernel held the program); ``lagged`` the times a log
    follower fell behind and ``lagged_bytes`` what followers missed (the file misses nothing
    for it). ``error`` is the current write failure ("" while writing works) and
    ``write_errors`` how many writes failed in all. ``reopened`` counts the times the file was
    reopened: its path was renamed or deleted under the daemon, or a reopen was asked for.
    """

    stream: Stream
    path: str
    policy: str
    capacity: NonNegative
    bytes_read: NonNegative = 0
    bytes_written: NonNegative = 0
    bytes_dropped: NonNegative = 0
    held_back: NonNegative = 0
    depth: NonNegative = 0
    peak_depth: NonNegative = 0
    write_errors: NonNegative = 0
    error: str = ""
    followers: NonNegative = 0
    lagged: NonNegative = 0
    lagged_bytes: NonNegative = 0
    reopened: NonNegative = 0


class ProbeReport(Struct, kw_only=True, frozen=True):
    """The last look a probe took at a program: passed or not, what it saw (``HTTP 503``,
    ``exit 1: ...``), how long it took (seconds) and when (wall-clock epoch seconds)."""

    ok: bool
    detail: str
    latency: float
    at: float


class Progress(Struct, kw_only=True, frozen=True):
    """A program's latest progress report in its current run (docs/progress.md): how much is
    ``done`` of ``total`` (counted in ``unit``), in which ``phase``, its ``message`` (the
    ``STATUS=`` text), when it came (``at``, wall-clock epoch seconds) and its free ``X_`` fields.
    ``reports`` counts the reports of the run (only the latest is kept)."""

    done: float | None = None
    total: float | None = None
    phase: str | None = None
    unit: str | None = None
    message: str | None = None
    at: float = 0.0
    fields: dict[str, str] = {}
    reports: NonNegative = 0


class OperatorIntent(Struct, kw_only=True, frozen=True):
    """The operator's last start (``want = up``) or stop (``down``) of a program, and when
    (wall-clock epoch seconds); it outlives reloads and daemon restarts."""

    want: Want
    at: float


class RunUsage(Struct, kw_only=True, frozen=True):
    """What a program's current run uses now, as the metrics count it (docs/metrics.md):
    CPU time (user and system, seconds since the run started), memory (bytes: its cgroup's
    ``memory.current``, else the resident set of its processes) and its processes alive."""

    cpu_seconds: float
    memory_bytes: NonNegative
    processes: NonNegative


class ProgramStatus(Struct, kw_only=True, frozen=True):
    """One program as ``svctl status`` shows it.

    ``started_at`` is wall-clock epoch seconds (for display); ``uptime`` is measured on the
    daemon's monotonic clock, so it stays right when the wall clock jumps. ``logs`` holds the
    counters of each captured stream (none for a stream sent to /dev/null), when asked for.
    ``containment`` names how the program's descendants are kept within reach: ``cgroup`` (a
    cgroup v2 per run) or ``subreaper`` (its process group, plus adoption of escapees).
    ``ready`` is true while the program is RUNNING (ready by its probe, or alive
    ``start_seconds``), since ``ready_since`` (wall clock); ``healthy`` is None without a
    liveness probe, else whether it has passed since it last failed; ``probe`` is the last look
    a probe took; ``notify_status`` the program's own ``STATUS=`` text; ``waiting_for`` why a
    program wanted up is not started yet (its dependencies); ``progress`` the latest progress
    report of its current run (None before the first). ``asked_at`` is when (wall clock) it was
    last asked to come up (a start, a restart, the daemon's own start); ``depends_on`` maps each
    program it depends on to the condition it waits for (``svctl analyze``, ``svctl graph``);
    ``intent`` the operator's last word on it (None while ``autostart`` decides); ``next_run``
    when a scheduled program is next due (wall clock; None when it is not scheduled, or paused
    by the operator); ``reload_check`` the last run of its ``reload_check`` (a change of its
    watched files; None before the first).
    ``usage`` what the run uses, when asked for (``Status(usage=True)``) and a run is alive.
    """

    name: str
    state: ProgramState
    want: Want
    pid: int | None
    started_at: float | None
    uptime: float | None
    exit_code: int | None
    exit_signal: str | None
    message: str = ""
    restarts: int = 0
    logs: tuple[LogStreamStats, ...] = ()
    containment: str = ""
    ready: bool = False
    ready_since: float | None = None
    healthy: bool | None = None
    probe: ProbeReport | None = None
    notify_status: str | None = None
    waiting_for: str = ""
    progress: Progress | None = None
    asked_at: float | None = None
    depends_on: dict[str, str] = {}
    intent: OperatorIntent | None = None
    next_run: float | None = None
    reload_check: ProbeReport | None = None
    usage: RunUsage | None = None


class StoreHealth(Struct, kw_only=True, frozen=True):
    """The state store's health, in every :class:`StatusReply` (None from a daemon that
    predates it).

    ``pending`` records are held back because writing failed in a way that may pass (another
    process holds the database lock, the disk is full); they are retried, in order, and
    ``failing`` stays true until a write succeeds. ``dropped`` records were given up because
    too many were held back, ``refused`` ones were refused by the store: neither is on disk.
    ``error`` is the last write error (kept after the store recovers; "" if there was none),
    ``error_at`` its wall-clock time, ``write_errors`` how many writes failed in all.
    """

    path: str = ""
    pending: NonNegative = 0
    written: NonNegative = 0
    dropped: NonNegative = 0
    refused: NonNegative = 0
    write_errors: NonNegative = 0
    failing: bool = False
    error: str = ""
    error_at: float | None = None
