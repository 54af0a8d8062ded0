"""One ``Subscribe`` served: the logged events from a seq, then the live ones, each once.

The seam (docs/events.md): the subscription to the live fan-out is taken *before* the store is
read, so an event is either in what the read returned or heard live, or both; those heard live
at or below the last seq sent are skipped. A follower that falls behind the fan-out (a slow
client) is not cut off: it takes a new subscription and catches up from the store again, so it
loses nothing the log still keeps. Events the log no longer keeps are told as one ``Missed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from supervisord_lite.protocol import messages as m

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from supervisord_lite.runtime.eventlog import Event, EventLog
    from supervisord_lite.runtime.fanout import Subscription

__all__ = ["PAGE", "stream_events"]

#: Events read from the store at a time while replaying.
PAGE: Final = 256


async def stream_events(
    request: m.Subscribe, log: EventLog, send: Callable[[m.ServerMessage], Awaitable[None]]
) -> str:
    """Serve ``request`` until it is over; the message of its ``End``.

    Raises:
        StoreUnavailable: the replay could not read the store.
    """
    rid = request.id
    since = request.since
    with log.subscribe() as sub:
        await send(m.Ok(id=rid, message="subscribed"))
        if since is None:
            last = log.newest
        else:
            first = await log.start_of_last(-since) if since < 0 else max(since, 1)
            last = await _catch_up(rid, log, first - 1, send, check_missed=since > 0)
            if not request.follow:
                return "replayed"
        last, lagged = await _follow(rid, sub, last, send)
    while lagged:
        # Fell behind the fan-out: listen again, then take what was missed from the store.
        with log.subscribe() as sub:
            last = await _catch_up(rid, log, last, send, check_missed=True)
            last, lagged = await _follow(rid, sub, last, send)
    return "the daemon is shutting down"


async def _follow(
    rid: int,
    sub: Subscription[Event],
    last: int,
    send: Callable[[m.ServerMessage], Awaitable[None]],
) -> tuple[int, bool]:
    """Send what is heard live after ``last``; the last seq sent, and whether the fan-out
    dropped events for this subscriber (else it ended: shutdown)."""
    async for event in sub.receive:
        if sub.dropped:
            return last, True
        if event.seq > last:
            await send(_with_id(event, rid))
            last = event.seq
    return last, False


async def _catch_up(
    rid: int,
    log: EventLog,
    last: int,
    send: Callable[[m.ServerMessage], Awaitable[None]],
    *,
    check_missed: bool,
) -> int:
    """Send the logged events after ``last``, page by page; the last seq sent."""
    while True:
        events = await log.read(last + 1, PAGE)
        if check_missed and events and events[0].seq > last + 1:
            await send(m.Missed(id=rid, first=last + 1, oldest=events[0].seq))
        check_missed = False
        for event in events:
            await send(_with_id(event, rid))
            last = event.seq
        if len(events) < PAGE:
            return last


def _with_id(event: Event, rid: int) -> Event:
    return msgspec.structs.replace(event, id=rid)
