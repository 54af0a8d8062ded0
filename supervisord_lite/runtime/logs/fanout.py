"""Programs' output fanned out to log followers (``svctl logs -f``), bounded in bytes.

Log output is fanned out by bytes, not items: each follower has a budget in bytes, and what
does not fit is counted instead of queued. A follower that fell behind stays "lagging" until
its reader has taken everything queued before the overflow; only then does it get one
``LogGap`` per stream saying how much it missed, and new bytes flow again. So its output has
one clean hole per stall instead of a bytes-here-and-there mess, and the pump that publishes
never waits for anybody.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Bytes a log follower may have queued before it lags.
FOLLOWER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogPiece:
    """Bytes a program wrote on one stream, in order."""

    program: str
    stream: str
    data: bytes


@dataclass(frozen=True, slots=True)
class LogGap:
    """A follower missed ``dropped`` bytes of this stream at this point."""

    program: str
    stream: str
    dropped: int


class LogFollower:
    """One reader of log output; ``receive`` returns what came since the last call."""

    def __init__(self, names: frozenset[str] | None, stream: str | None, capacity: int) -> None:
        self.names = names
        self.stream = stream
        self.capacity = capacity
        self.lag_events = 0
        self.lagged_bytes = 0
        self._items: list[LogPiece] = []
        self._queued = 0
        self._lag: dict[tuple[str, str], int] = {}
        self._skip: dict[tuple[str, str], int] = {}
        self._wake = trio.Event()
        self._closed = False

    def wants(self, program: str, stream: str) -> bool:
        return (self.names is None or program in self.names) and self.stream in (None, stream)

    def offer(self, program: str, stream: str, data: bytes) -> int:
        """Queue ``data`` if it fits (an empty queue takes any one chunk); else count it.
        Returns 1 when this starts a lag."""
        if self._skip:
            data = self._skipped(program, stream, data)
            if not data:
                return 0
        size = len(data)
        if self._lag or (self._queued and self._queued + size > self.capacity):
            key = (program, stream)
            started = not self._lag
            self._lag[key] = self._lag.get(key, 0) + size
            self.lagged_bytes += size
            if started:
                self.lag_events += 1
                self._wake.set()
            return int(started)
        self._items.append(LogPiece(program, stream, data))
        self._queued += size
        self._wake.set()
        return 0

    def skip(self, program: str, stream: str, count: int) -> None:
        """Drop the next ``count`` bytes of this stream, queued or still to come (the reader
        already has them from the file)."""
        key = (program, stream)
        kept: list[LogPiece] = []
        for piece in self._items:
            if count and (piece.program, piece.stream) == key:
                cut = min(count, len(piece.data))
                count -= cut
                self._queued -= cut
                if cut == len(piece.data):
                    continue
                piece = LogPiece(program, stream, piece.data[cut:])
            kept.append(piece)
        self._items = kept
        if count:
            self._skip[key] = self._skip.get(key, 0) + count

    def _skipped(self, program: str, stream: str, data: bytes) -> bytes:
        key = (program, stream)
        count = self._skip.get(key, 0)
        if not count:
            return data
        cut = min(count, len(data))
        if cut == count:
            del self._skip[key]
        else:
            self._skip[key] = count - cut
        return data[cut:]

    async def receive(self) -> list[LogPiece | LogGap]:
        """Everything queued, then the gaps of a lag that ended; waits while there is nothing.

        Raises:
            trio.EndOfChannel: the fan-out closed and everything was received.
        """
        while not self._items and not self._lag:
            if self._closed:
                raise trio.EndOfChannel
            await self._wake.wait()
            self._wake = trio.Event()
        batch: list[LogPiece | LogGap] = list(self._items)
        self._items.clear()
        self._queued = 0
        batch.extend(LogGap(program, stream, n) for (program, stream), n in self._lag.items())
        self._lag.clear()
        return batch

    def close(self) -> None:
        self._closed = True
        self._wake.set()


class LogFanOut:
    """Hands every program's output to the followers that want it, without ever waiting."""

    def __init__(self, capacity: int = FOLLOWER_BYTES) -> None:
        self.capacity = capacity
        self._by_name: dict[str, set[LogFollower]] = {}
        self._everything: set[LogFollower] = set()
        self._closed = False

    def followers(self, program: str, stream: str) -> int:
        """How many followers want this stream now."""
        return sum(f.wants(program, stream) for f in self._candidates(program))

    def publish(self, program: str, stream: str, data: bytes) -> tuple[int, int]:
        """Offer bytes to every follower of the stream; (lags started, bytes not delivered)."""
        lags = missed = 0
        for follower in self._candidates(program):
            if follower.wants(program, stream):
                before = follower.lagged_bytes
                lags += follower.offer(program, stream, data)
                missed += follower.lagged_bytes - before
        return lags, missed

    def _candidates(self, program: str) -> list[LogFollower]:
        named = self._by_name.get(program)
        if not named:
            return list(self._everything) if self._everything else []
        return [*named, *self._everything]

    @contextmanager
    def follow(
        self, names: Iterable[str] | None = None, stream: str | None = None
    ) -> Iterator[LogFollower]:
        """A follower of ``names`` (every program, now and later, when None) for the block."""
        chosen = None if names is None else frozenset(names)
        follower = LogFollower(chosen, stream, self.capacity)
        if self._closed:
            follower.close()
        if chosen is None:
            self._everything.add(follower)
        else:
            for name in chosen:
                self._by_name.setdefault(name, set()).add(follower)
        try:
            yield follower
        finally:
            follower.close()
            self._everything.discard(follower)
            for name in chosen or ():
                group = self._by_name.get(name)
                if group is not None:
                    group.discard(follower)
                    if not group:
                        del self._by_name[name]

    def close(self) -> None:
        """End every follower: each receives what is queued, then the end."""
        self._closed = True
        for follower in self._everything:
            follower.close()
        for group in self._by_name.values():
            for follower in group:
                follower.close()
