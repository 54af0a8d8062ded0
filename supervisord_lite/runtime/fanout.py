"""Fan-out of pushed items (the daemon's state changes) to any number of subscribers.

Each subscriber has its own bounded channel and ``publish`` never waits: a subscriber that does
not keep up loses items, and the count of what it lost is kept on it so its reader can say so.
One slow reader can therefore never hold up a program, the store, or another reader. (Programs'
output has its own fan-out, bounded in bytes: ``runtime.logs.fanout``.)
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec
import trio

if TYPE_CHECKING:
    from collections.abc import Iterator

T = TypeVar("T")


class FanOutStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of one fan-out."""

    subscribers: int
    published: int
    dropped: int
    lagged_subscribers: int


class Subscription(Generic[T]):
    """One reader's end: iterate ``receive`` for items; ``dropped`` counts what it missed."""

    def __init__(self, capacity: int) -> None:
        self._send, self.receive = trio.open_memory_channel[T](capacity)
        self.dropped = 0

    def offer(self, item: T) -> bool:
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            self.dropped += 1
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False  # its reader left, or the fan-out was closed
        return True

    def close(self) -> None:
        self._send.close()


class FanOut(Generic[T]):
    """Publishes each item to every current subscriber, without ever blocking."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._subscribers: set[Subscription[T]] = set()
        self._published = 0
        self._dropped = 0
        self._lagged = 0
        self._closed = False

    def publish(self, item: T) -> None:
        """Offer ``item`` to every subscriber (nobody hears it once the fan-out is closed)."""
        if self._closed:
            return
        self._published += 1
        for sub in self._subscribers:
            if not sub.offer(item):
                self._dropped += 1
                if sub.dropped == 1:
                    self._lagged += 1

    @contextmanager
    def subscribe(self, capacity: int | None = None) -> Iterator[Subscription[T]]:
        """A subscription for the duration of the ``with`` block."""
        sub: Subscription[T] = Subscription(capacity or self.capacity)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
            sub.close()

    def close(self) -> None:
        """End every subscription: their readers see the end of the channel."""
        self._closed = True
        for sub in self._subscribers:
            sub.close()

    def statistics(self) -> FanOutStatistics:
        return FanOutStatistics(
            subscribers=len(self._subscribers),
            published=self._published,
            dropped=self._dropped,
            lagged_subscribers=self._lagged,
        )
