"""The event log: every event of the daemon and its programs, numbered, stored, then pushed.

``publish`` hands an event to the store writer like any other record (docs/events.md); the
store gives it the next ``seq`` in the transaction that writes it, and only then, from the
writer's ``on_written``, is it pushed to live subscribers and does ``wait_beyond`` wake
readers that caught up (the webhooks). So:

- a follower never hears an event that is not on disk, nor one whose ``seq`` a later daemon
  could give again (seqs come from SQLite's ``AUTOINCREMENT``);
- a reader that reads the store up to ``newest`` and hears the fan-out from before that read
  has every event exactly once once it skips what it read (``stream_events``);
- while the store cannot be written, events wait with the other records and are pushed, in
  order, once they land.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeAlias

import msgspec
import trio

from supervisord_lite.protocol.messages import DaemonEvent, StateChanged
from supervisord_lite.runtime.fanout import FanOut, FanOutStatistics, Subscription
from supervisord_lite.store_records import EventLogged, LoggedEvent

if TYPE_CHECKING:
    from collections.abc import Iterator

    from supervisord_lite.runtime.storewriter import StoreWriter

__all__ = ["Event", "EventLog", "decode", "kind_of"]

Event: TypeAlias = StateChanged | DaemonEvent


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Event)


def kind_of(event: Event) -> str:
    """An event's kind: a program event's ``change``; for the daemon's, ``daemon`` (started,
    stopping, stopped), ``reload`` or ``webhook``."""
    if isinstance(event, StateChanged):
        return event.change
    return event.change if event.change in ("reload", "webhook") else "daemon"


def decode(row: LoggedEvent) -> Event:
    """A logged row as the event it holds, with its ``seq``."""
    return msgspec.structs.replace(_decoder.decode(row.body), seq=row.seq)


class EventLog:
    """See the module docstring. ``newest`` is the highest seq known to be on disk."""

    def __init__(self, writer: StoreWriter, *, newest: int = 0, capacity: int = 4096) -> None:
        self._writer = writer
        self._fanout: FanOut[Event] = FanOut(capacity)
        self.newest = newest
        self._grew = trio.Event()
        writer.on_written = self._written

    def publish(self, event: Event) -> None:
        """Log ``event`` (its ``seq`` and ``id`` are set by the log); never blocks."""
        program = event.program if isinstance(event, StateChanged) else ""
        body = _encoder.encode(msgspec.structs.replace(event, seq=0, id=0))
        self._writer.submit(
            EventLogged(at=event.at, kind=kind_of(event), program=program, body=body)
        )

    def _written(self, rows: list[LoggedEvent]) -> None:
        for row in rows:
            self._fanout.publish(decode(row))
        self.newest = max(self.newest, rows[-1].seq)
        self._grew.set()
        self._grew = trio.Event()

    async def wait_beyond(self, seq: int) -> None:
        """Return once an event after ``seq`` is on disk (at once if one is)."""
        while self.newest <= seq:
            await self._grew.wait()

    async def read(self, since: int, limit: int) -> list[Event]:
        """At most ``limit`` logged events from seq ``since`` on, oldest first.

        Raises:
            StoreUnavailable: the store cannot be read now (records it needs are held back).
        """
        rows = await self._writer.query(lambda store: store.logged_events(since, limit))
        return [decode(row) for row in rows]

    async def oldest(self) -> int:
        """The oldest seq the store still keeps (0 when the log is empty)."""
        oldest, _ = await self._writer.query(lambda store: store.event_bounds())
        return oldest

    async def start_of_last(self, count: int) -> int:
        """The seq from which the last ``count`` logged events begin."""
        return await self._writer.query(lambda store: store.start_of_last(count))

    @contextmanager
    def subscribe(self) -> Iterator[Subscription[Event]]:
        """Hear every event written from now on, for the ``with`` block."""
        with self._fanout.subscribe() as sub:
            yield sub

    def close(self) -> None:
        """End every subscription (shutdown)."""
        self._fanout.close()

    def statistics(self) -> FanOutStatistics:
        return self._fanout.statistics()
