"""Per-program counts of what the history records: runs started, runs ended by outcome, failed
spawns, OOM kills.

They are counted where every history record passes, the store writer's ``submit``
(``StoreWriter.tap``), so they agree with ``svctl history`` and cost a dict update per record.
They count from the daemon's start and are kept across reloads; a program that a reload
removed is forgotten at the next scrape (``prune``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from supervisord_lite.store_records import EventRecorded, Outcome, RunEnded, RunStarted

if TYPE_CHECKING:
    from collections.abc import Collection

    from supervisord_lite.store_records import StoreOp

#: The outcomes a run of this daemon can end with (``lost`` is written only by recovery, for
#: the runs of a previous daemon).
OUTCOMES: tuple[Outcome, ...] = (
    Outcome.COMPLETED,
    Outcome.FAILED,
    Outcome.STOPPED,
    Outcome.KILLED,
)

SPAWN_FAILED = "spawn_failed"
OOM_KILLED = "oom_killed"


@dataclass(slots=True)
class RunCounts:
    """One program's counts."""

    starts: int = 0
    spawn_failures: int = 0
    oom_kills: int = 0
    exits: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    def copy(self) -> RunCounts:
        return RunCounts(self.starts, self.spawn_failures, self.oom_kills, dict(self.exits))


class RunCounters:
    """See the module docstring; ``observe`` is the store writer's tap."""

    def __init__(self) -> None:
        self.programs: dict[str, RunCounts] = {}

    def observe(self, op: StoreOp) -> None:
        if not isinstance(op, RunStarted | RunEnded | EventRecorded):
            return  # the event log and its readers' cursors count no run
        counts = self.programs.get(op.program)
        if counts is None:
            counts = self.programs[op.program] = RunCounts()
        if isinstance(op, RunStarted):
            counts.starts += 1
        elif isinstance(op, RunEnded):
            counts.exits[op.outcome] = counts.exits.get(op.outcome, 0) + 1
        elif isinstance(op, EventRecorded):
            if op.kind == SPAWN_FAILED:
                counts.spawn_failures += 1
            elif op.kind == OOM_KILLED:
                counts.oom_kills += 1

    def prune(self, keep: Collection[str]) -> None:
        """Forget the programs not in ``keep`` (removed by a reload)."""
        for name in [n for n in self.programs if n not in keep]:
            del self.programs[name]

    def get(self, program: str) -> RunCounts:
        """A copy of the program's counts (zeros when it has none yet)."""
        counts = self.programs.get(program)
        return counts.copy() if counts is not None else RunCounts()
