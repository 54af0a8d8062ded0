"""Control requests counted by op and outcome, with the latency of their first reply.

The handlers call ``measure`` around each request; what it keeps is a few integers per op, so
a request costs two clock reads and a bisect, and nothing happens between requests. The
latency is the time until the first reply is handed to the connection: for a one-shot request
its answer, for a stream (``subscribe``, ``logs``) the ``ok`` that opens it. The outcome is
``ok``, the ``ErrorCode`` of an error reply, or ``cancelled`` when the request ended (its client
went away) before any reply.
"""

from __future__ import annotations

import bisect
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from supervisord_lite.protocol import messages as m

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    Send = Callable[[m.ServerMessage], Awaitable[None]]

#: Upper bounds (seconds) of the latency buckets: an inline status answers in well under a
#: millisecond, a ``start`` that waits for RUNNING takes seconds.
BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


@dataclass(slots=True)
class Latencies:
    """A histogram: ``counts[i]`` observations in bucket ``i`` (the last one is +Inf)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as the exposition wants them, ``+Inf`` last."""
        running = 0
        pairs = []
        for bound, count in zip([*map(str, BUCKETS), "+Inf"], self.counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs

    def copy(self) -> Latencies:
        return Latencies(list(self.counts), self.total)


def op_of(request: m.Request) -> str:
    """The request's name on the wire (``status``, ``start``...)."""
    tag = type(request).__struct_config__.tag
    return str(tag) if tag is not None else type(request).__name__.lower()


class RequestMeter:
    """See the module docstring."""

    def __init__(self, clock: Callable[[], float] = trio.current_time) -> None:
        self._clock = clock
        #: ``(op, outcome)`` -> requests.
        self.outcomes: dict[tuple[str, str], int] = {}
        #: op -> latency of the first reply.
        self.latencies: dict[str, Latencies] = {}

    @contextlib.contextmanager
    def measure(self, request: m.Request, send: Send) -> Iterator[Send]:
        """``send`` wrapped to note the first reply; the request is counted when that reply
        goes out, or as ``cancelled`` when the block ends without one."""
        op = op_of(request)
        start = self._clock()
        replied = False

        async def measured(msg: m.ServerMessage) -> None:
            nonlocal replied
            if not replied:
                replied = True
                outcome = msg.code.value if isinstance(msg, m.Error) else "ok"
                self._count(op, outcome)
                latencies = self.latencies.get(op)
                if latencies is None:
                    latencies = self.latencies[op] = Latencies()
                latencies.observe(self._clock() - start)
            await send(msg)

        try:
            yield measured
        finally:
            if not replied:
                self._count(op, "cancelled")

    def _count(self, op: str, outcome: str) -> None:
        key = (op, outcome)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
