"""The order in which a program's lines arrived across its streams, for an interleaved tail.

A program's stdout and stderr go to two files, and neither file says how its lines fell
between the other's. ``svctl logs NAME -n 20`` wants the last 20 lines of the output as the
program wrote them, both streams interleaved. So each program keeps a ``LineOrder``: as the
daemon reads each chunk from a pipe (one event loop: the order of reading is the order of
arrival), it notes how many lines the chunk ended on which stream, merging neighbours of one
stream into one run. A tail then asks :meth:`LineOrder.plan` for the runs that make up the last
N lines, reads that many lines of each file and deals them out run by run.

Bounded: at most ``MAX_RUNS`` runs are kept (the oldest are forgotten, and with them the
order of the oldest lines), and the order is kept in memory, from the daemon's start. Lines
older than what is kept come stream by stream. Bytes an overflow policy dropped were noted
but are not in the files, which can shift the dealing by those lines.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["MAX_RUNS", "LineOrder", "Plan", "deal", "runs"]

MAX_RUNS: Final = 65536
"""Runs (lines of one stream in a row) each program remembers."""


class Plan:
    """The last lines in arrival order: ``runs`` of (stream, lines), oldest first, and how
    many lines that takes of each stream (``counts``)."""

    __slots__ = ("counts", "runs")

    def __init__(self, runs: list[tuple[str, int]]) -> None:
        self.runs = runs
        self.counts: dict[str, int] = {}
        for stream, lines in runs:
            self.counts[stream] = self.counts.get(stream, 0) + lines

    @property
    def lines(self) -> int:
        return sum(self.counts.values())


class LineOrder:
    """Runs of lines by stream, in arrival order, bounded by ``MAX_RUNS``."""

    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self._streams: deque[str] = deque(maxlen=max_runs)
        self._counts: deque[int] = deque(maxlen=max_runs)

    def note(self, stream: str, data: bytes) -> None:
        """``data`` was read from ``stream``: count the lines it ends."""
        lines = data.count(b"\n")
        if not lines:
            return
        if self._streams and self._streams[-1] == stream:
            self._counts[-1] += lines
        else:
            self._streams.append(stream)
            self._counts.append(lines)

    def plan(self, lines: int) -> Plan:
        """The runs that make up the last ``lines`` lines (fewer when fewer are known)."""
        taken: list[tuple[str, int]] = []
        wanted = lines
        for stream, count in zip(reversed(self._streams), reversed(self._counts), strict=True):
            if wanted <= 0:
                break
            take = min(count, wanted)
            taken.append((stream, take))
            wanted -= take
        taken.reverse()
        return Plan(taken)


def deal(plan: Plan, lines: dict[str, list[bytes]]) -> list[tuple[str, bytes]]:
    """Each stream's last lines (``lines``, oldest first, as many as ``plan.counts`` says or
    fewer) dealt out in the plan's order: (stream, line) pairs. A stream that has fewer lines
    than its runs want gives what it has, from its oldest run on."""
    shortfall = {s: max(plan.counts.get(s, 0) - len(got), 0) for s, got in lines.items()}
    position = dict.fromkeys(lines, 0)
    out: list[tuple[str, bytes]] = []
    for stream, count in plan.runs:
        got = lines.get(stream, [])
        skip = min(shortfall.get(stream, 0), count)
        if skip:
            shortfall[stream] -= skip
            count -= skip
        at = position.get(stream, 0)
        out.extend((stream, line) for line in got[at : at + count])
        position[stream] = at + count
    return out


def runs(picked: list[tuple[str, bytes]], limit: int) -> Iterator[tuple[str, bytes]]:
    """Neighbouring lines of one stream joined, into pieces of at most ``limit`` bytes (a
    longer line is a piece of its own)."""
    stream = ""
    pending: list[bytes] = []
    size = 0
    for name, line in picked:
        if pending and (name != stream or size + len(line) > limit):
            yield stream, b"".join(pending)
            pending, size = [], 0
        stream = name
        pending.append(line)
        size += len(line)
    if pending:
        yield stream, b"".join(pending)
