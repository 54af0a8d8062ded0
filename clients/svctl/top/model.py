"""What ``svctl top`` shows, as data: one row per program, kept up to date from the daemon's
pushed state changes, with the cells of the table worked out from it.

Pure: no clock (``now`` is a parameter, the app's monotonic time), no I/O, no Textual. A
status read replaces a row; a pushed ``StateChanged`` moves it at once (state, pid, exit,
progress) and marks it for a read of that one program (``stale``), which brings what the
event does not carry (restarts, health, the message). The CPU share comes from two usage
reads: CPU seconds used between them over the time between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import msgspec

from supervisord_lite.protocol.messages import ProgramState, Progress
from svctl import render

if TYPE_CHECKING:
    from collections.abc import Iterable

    from supervisord_lite.protocol.messages import ProgramStatus, RunUsage
    from svctl import StateChanged

__all__ = ["COLUMNS", "Board", "Row", "bar", "cells", "detail", "health", "memory"]

#: The table's columns: (key, heading).
COLUMNS: Final = (
    ("name", "NAME"),
    ("state", "STATE"),
    ("pid", "PID"),
    ("uptime", "UPTIME"),
    ("restarts", "RST"),
    ("cpu", "CPU%"),
    ("memory", "MEM"),
    ("health", "HEALTH"),
    ("progress", "PROGRESS"),
)

_NONE: Final = "-"
#: The states a program has a process in.
_LIVE: Final = frozenset({ProgramState.STARTING, ProgramState.RUNNING, ProgramState.STOPPING})
_BAR: Final = 8


@dataclass
class Row:
    """One program: its last status, and when (``seen``, monotonic) it was true."""

    status: ProgramStatus
    seen: float
    usage: RunUsage | None = None
    #: (cpu seconds, monotonic time) of the last usage read of the current run.
    sampled: tuple[float, float] | None = None
    cpu_share: float | None = None

    def uptime(self, now: float) -> float | None:
        up = self.status.uptime
        return None if up is None or self.status.pid is None else up + max(0.0, now - self.seen)


@dataclass
class Board:
    """Every program's row, in the daemon's order, and which rows wait for a read."""

    rows: dict[str, Row] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)

    def load(self, programs: Iterable[ProgramStatus], now: float) -> None:
        """Every program afresh (at start, after a reconnect, after a reload)."""
        old = self.rows
        self.rows = {}
        for p in programs:
            row = Row(p, now)
            if (before := old.get(p.name)) is not None and before.status.pid == p.pid:
                row.sampled, row.cpu_share = before.sampled, before.cpu_share
            self.rows[p.name] = row
            if p.usage is not None:
                self._sample(row, p.usage, now)
        self.stale &= set(self.rows)

    def update(self, programs: Iterable[ProgramStatus], now: float) -> None:
        """Rows from a status read of some programs; usage, when the read carried it."""
        for p in programs:
            row = self.rows.get(p.name)
            if row is None:
                self.rows[p.name] = row = Row(p, now)
            elif row.status.pid != p.pid:
                row.sampled = row.cpu_share = row.usage = None
            row.status, row.seen = p, now
            if p.usage is not None:
                self._sample(row, p.usage, now)
            elif p.pid is None:
                row.usage = None
            self.stale.discard(p.name)

    def apply(self, event: StateChanged, now: float) -> bool:
        """Move a row by a pushed change; False for a program this board does not know (a
        reload added it: the caller reads every program again)."""
        row = self.rows.get(event.program)
        if row is None:
            return False
        status = row.status
        if event.change == "progress":
            row.status = replace_status(status, progress=event.progress)
            return True
        if event.change == "state":
            # The change that ends a run carries that run's pid: the row then has none.
            pid = event.pid if event.new in _LIVE else None
            started = pid is not None and pid != status.pid
            row.status = replace_status(
                status,
                state=event.new,
                pid=pid,
                exit_code=event.exit_code,
                exit_signal=event.exit_signal,
                message=event.message,
                uptime=0.0 if started else status.uptime if pid is not None else None,
                ready=event.new is ProgramState.RUNNING,
            )
            if started:
                row.seen = now
            if started or pid is None:  # a new run, or none: its usage is not known
                row.sampled = row.cpu_share = row.usage = None
        self.stale.add(event.program)
        return True

    def _sample(self, row: Row, usage: RunUsage, now: float) -> None:
        before = row.sampled
        if before is not None and now > before[1]:
            row.cpu_share = max(0.0, (usage.cpu_seconds - before[0]) / (now - before[1]))
        row.usage, row.sampled = usage, (usage.cpu_seconds, now)


def replace_status(status: ProgramStatus, **changes: Any) -> ProgramStatus:
    """``status`` with some fields changed."""
    return msgspec.structs.replace(status, **changes)


def memory(size: int | None) -> str:
    """``512B``, ``2.0K``, ``12.3M``, ``150M``: bytes in binary units."""
    if size is None:
        return _NONE
    units = ("B", "K", "M", "G", "T")
    value, i = float(size), 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return f"{value:.0f}{units[i]}" if i == 0 or value >= 100 else f"{value:.1f}{units[i]}"


def bar(progress: Progress | None, width: int = _BAR) -> str:
    """``█████░░░ 62%`` for a report with a total, ``3 files`` without one, "" without one."""
    if progress is None:
        return ""
    done, total = progress.done, progress.total
    if done is not None and total:
        share = min(max(done / total, 0.0), 1.0)
        filled = round(share * width)
        return "█" * filled + "░" * (width - filled) + f" {share * 100:3.0f}%"
    return render.progress_text(msgspec.structs.replace(progress, phase=None, message=None))


def health(status: ProgramStatus) -> str:
    """``ready``, ``unhealthy`` (its liveness probe fails), ``waiting`` (for a dependency),
    or ``-``."""
    if status.healthy is False:
        return "unhealthy"
    if status.ready:
        return "ready"
    if status.waiting_for:
        return "waiting"
    return _NONE


def cells(row: Row, now: float) -> dict[str, str]:
    """The row's table cells by column key."""
    s = row.status
    up = row.uptime(now)
    return {
        "name": s.name,
        "state": s.state.value,
        "pid": str(s.pid) if s.pid is not None else _NONE,
        "uptime": render.uptime(up) if up is not None else _NONE,
        "restarts": str(s.restarts),
        "cpu": f"{row.cpu_share * 100:.1f}" if row.cpu_share is not None else _NONE,
        "memory": memory(row.usage.memory_bytes) if row.usage is not None else _NONE,
        "health": health(s),
        "progress": bar(s.progress),
    }


def detail(row: Row, now: float) -> str:
    """One line about the program: its message, what it waits for, its progress report,
    its own status text, its last exit."""
    s = row.status
    parts = [f"{s.name}: {s.state.value.lower()}"]
    if s.message:
        parts.append(s.message)
    if s.waiting_for:
        parts.append(f"waiting for {s.waiting_for}")
    if s.progress is not None:
        parts.append(render.progress_text(s.progress))
    if s.notify_status and (s.progress is None or s.progress.message != s.notify_status):
        parts.append(s.notify_status)
    if s.exit_code is not None or s.exit_signal is not None:
        parts.append("last exit " + render.last_exit(s.exit_code, s.exit_signal))
    if row.usage is not None:
        n = row.usage.processes
        parts.append(f"{n} process{'es' if n != 1 else ''}, {row.usage.cpu_seconds:.1f}s CPU")
    return " · ".join(parts)


class Lines:
    """A program's output split into lines, per stream: a chunk may end mid-line, and the
    rest of that line comes with the next one. A line longer than ``longest`` is cut."""

    def __init__(self, longest: int = 4096) -> None:
        self._partial: dict[str, bytes] = {}
        self._longest = longest

    def feed(self, stream: str, data: bytes) -> list[str]:
        """The complete lines in ``data`` (with what was left of the stream before)."""
        pieces = (self._partial.pop(stream, b"") + data).split(b"\n")
        rest = pieces.pop()
        if rest:
            self._partial[stream] = rest[-self._longest :]
        return [p[: self._longest].decode(errors="replace").rstrip("\r") for p in pieces]
