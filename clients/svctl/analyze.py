"""Why a start was slow: each program's time from being asked up to spawn to ready, and the
chain of dependencies that held the last one back (``svctl analyze``, after
``systemd-analyze critical-chain``).

Pure: it reads the programs' status (``asked_at``, ``started_at``, ``ready_since``,
``depends_on``) and does arithmetic; the command fetches the status and prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from supervisord_lite.protocol.messages import ProgramStatus

__all__ = ["StartTimes", "chain", "render_chain", "render_table", "start_times"]

#: A dependency's condition is met when the program started (its spawn) or became ready.
_MET_AT_SPAWN = frozenset({"started"})


@dataclass(frozen=True)
class StartTimes:
    """One program's last start, in seconds since ``origin`` (the earliest ask of any program:
    the daemon's start, or the request that began it); None for what has not happened."""

    name: str
    asked: float | None
    spawned: float | None
    ready: float | None
    depends_on: Mapping[str, str]

    @property
    def waited(self) -> float | None:
        """From being asked up to its spawn: its dependencies, backoff, the spawn itself."""
        return _between(self.asked, self.spawned)

    @property
    def startup(self) -> float | None:
        """From its spawn to ready: the program's own start."""
        return _between(self.spawned, self.ready)

    def met_at(self, condition: str) -> float | None:
        """When a dependent's ``condition`` on this program was met."""
        return self.spawned if condition in _MET_AT_SPAWN else self.ready

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "asked": self.asked,
            "spawned": self.spawned,
            "ready": self.ready,
            "waited": self.waited,
            "startup": self.startup,
            "depends_on": dict(self.depends_on),
        }


def _between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start)


def start_times(programs: Sequence[ProgramStatus]) -> tuple[float | None, list[StartTimes]]:
    """The origin (wall clock) and each program's times relative to it, in start order."""
    asks = [p.asked_at for p in programs if p.asked_at is not None]
    origin = min(asks) if asks else None

    def rel(at: float | None) -> float | None:
        return None if at is None or origin is None else at - origin

    rows = [
        StartTimes(
            name=p.name,
            asked=rel(p.asked_at),
            spawned=rel(p.started_at),
            ready=rel(p.ready_since),
            depends_on=p.depends_on,
        )
        for p in programs
    ]
    rows.sort(key=lambda r: (r.ready is None, r.ready or 0.0, r.name))
    return origin, rows


def chain(rows: Sequence[StartTimes], target: str | None = None) -> list[StartTimes]:
    """The critical chain to ``target`` (default: the program ready last): the target, then
    the dependency whose condition was met last before it spawned, and so on down."""
    by_name = {r.name: r for r in rows}
    if target is None:
        ready = [r for r in rows if r.ready is not None]
        if not ready:
            return []
        target = max(ready, key=lambda r: r.ready or 0.0).name
    found: list[StartTimes] = []
    seen: set[str] = set()
    current = by_name.get(target)
    while current is not None and current.name not in seen:
        found.append(current)
        seen.add(current.name)
        held = [
            (met, by_name[dep])
            for dep, condition in current.depends_on.items()
            if dep in by_name and (met := by_name[dep].met_at(condition)) is not None
        ]
        current = max(held, key=lambda pair: pair[0])[1] if held else None
    return found


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def render_table(rows: Sequence[StartTimes]) -> list[str]:
    """One line per program: when it was asked, spawned and ready, and the two spans."""
    header = ("NAME", "ASKED", "SPAWNED", "READY", "WAITED", "STARTUP")
    table = [header] + [
        (
            r.name,
            "@" + _seconds(r.asked),
            "@" + _seconds(r.spawned),
            "@" + _seconds(r.ready),
            "+" + _seconds(r.waited),
            "+" + _seconds(r.startup),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table
    ]


def render_chain(found: Sequence[StartTimes]) -> list[str]:
    """The chain as ``systemd-analyze critical-chain`` draws it: ready time after ``@``, the
    program's own startup after ``+``, each dependency indented under what it held."""
    lines = []
    for depth, row in enumerate(found):
        lead = "" if depth == 0 else "  " * (depth - 1) + "└─"
        ready = "not ready" if row.ready is None else f"@{row.ready:.3f}s"
        startup = "" if row.startup is None else f" +{row.startup:.3f}s"
        lines.append(f"{lead}{row.name} {ready}{startup}")
    return lines
