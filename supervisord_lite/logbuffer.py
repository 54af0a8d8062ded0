"""A bounded byte queue for one program stream, with an overflow policy and exact counters.

The log pump puts what it reads from a child's pipe and the writers get it back out, oldest
first. When the queue is full the policy decides what gives:

- ``BLOCK``: the put is refused and the pump stops reading, so the kernel pipe (and then the
  child's ``write``) holds the data; nothing is lost. A chunk is accepted whole when it fits, or
  when the queue is empty, so one oversize chunk overshoots ``capacity`` instead of deadlocking.
- ``DROP_OLDEST``: the newest bytes always go in; the oldest queued bytes are evicted to make
  room, byte-exact (a chunk is split if needed).
- ``DROP_NEWEST``: what fits of the new chunk (a prefix) goes in; the rest is dropped.

Invariants, after every call::

    bytes_in == bytes_out + bytes_dropped + depth
    depth <= capacity                (except one oversize chunk accepted into an empty BLOCK queue)
    bytes come out in the order they went in; only dropped bytes are missing

The counters live in a ``StreamCounters``: the one record of a program stream's log path, which
the queue, the pump, the file writer and the file each update where the event happens, and
which the stream's ``statistics()`` reads. A queue made on its own gets one of its own.

Storage is a deque of chunks plus an offset into the first one, so puts, evictions and gets
cost amortised O(1) per chunk, never per byte. The deque exists only while something is queued:
a daemon holds thousands of these queues, nearly all empty, and an empty deque still costs over
half a KiB.

This module is pure: it imports only the standard library and msgspec.
"""

from __future__ import annotations

import enum
from collections import deque

import msgspec

__all__ = ["LogBuffer", "LogBufferStatistics", "OverflowPolicy", "StreamCounters"]


class OverflowPolicy(enum.StrEnum):
    """What gives when a put does not fit."""

    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"


class StreamCounters:
    """Every counter of one program stream's log path, from the pipe to the file.

    One object per stream, for as long as the program is configured (restarts add up):

    - the pump: ``bytes_read`` from the pipes; ``dropped_unqueued``, bytes read but never queued
      (a pump stopped while it held a chunk the full queue refused); ``lagged`` and
      ``lagged_bytes``, the times a follower fell behind and what followers missed;
    - the queue (``LogBuffer``): ``bytes_in``, ``bytes_out``, ``dropped_in_queue`` (by the
      overflow policy, or discarded at a close), ``held_back`` and ``peak_depth``;
    - the file writer: ``bytes_written``, ``dropped_unwritten`` (out of the queue but never in
      the file: a failed write under ``drop-oldest``, or given up at the close),
      ``write_errors`` and ``error`` (the current failure, "" while writing works);
    - the file: ``reopened``, the times it was reopened because its path was renamed or
      deleted under the daemon, or because a reopen was asked for.
    """

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "bytes_read",
        "bytes_written",
        "dropped_in_queue",
        "dropped_unqueued",
        "dropped_unwritten",
        "error",
        "held_back",
        "lagged",
        "lagged_bytes",
        "peak_depth",
        "reopened",
        "write_errors",
    )

    def __init__(self) -> None:
        self.bytes_read = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.bytes_written = 0
        self.dropped_in_queue = 0
        self.dropped_unqueued = 0
        self.dropped_unwritten = 0
        self.held_back = 0
        self.peak_depth = 0
        self.write_errors = 0
        self.error = ""
        self.lagged = 0
        self.lagged_bytes = 0
        self.reopened = 0

    @property
    def bytes_dropped(self) -> int:
        """Every byte read from the program that will never be in the file."""
        return self.dropped_in_queue + self.dropped_unwritten + self.dropped_unqueued

    @property
    def settled(self) -> int:
        """How far the queued bytes have got: written to the file, or dropped on the way."""
        return self.bytes_written + self.dropped_unwritten + self.dropped_in_queue


class LogBufferStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one buffer's counters.

    ``held_back`` counts puts refused under ``BLOCK`` (each one a moment the pump stopped
    reading); refused bytes are not counted in ``bytes_in``.
    """

    capacity: int
    policy: OverflowPolicy
    bytes_in: int
    bytes_out: int
    bytes_dropped: int
    held_back: int
    depth: int
    peak_depth: int


class LogBuffer:
    """A bounded FIFO of bytes with an overflow policy; see the module docstring."""

    __slots__ = ("_capacity", "_chunks", "_depth", "_offset", "_policy", "counters")

    def __init__(
        self, capacity: int, policy: OverflowPolicy, counters: StreamCounters | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 byte, got {capacity}")
        self._capacity = capacity
        self._policy = OverflowPolicy(policy)
        self._chunks: deque[bytes] | None = None
        self._offset = 0
        self._depth = 0
        #: Where the queue counts what goes in, out and is dropped (shared with its stream).
        self.counters = counters if counters is not None else StreamCounters()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def policy(self) -> OverflowPolicy:
        return self._policy

    def __len__(self) -> int:
        return self._depth

    def has_room(self, n: int) -> bool:
        """True when a put of ``n`` bytes now would be accepted whole, neither refused nor cut."""
        if self._depth + n <= self._capacity:
            return True
        return self._policy is OverflowPolicy.BLOCK and self._depth == 0

    def put(self, data: bytes) -> bool:
        """Offer a chunk; False only under ``BLOCK`` when it was refused (retry after a get)."""
        if type(data) is not bytes:
            data = bytes(data)
        size = len(data)
        if size == 0:
            return True
        counters = self.counters
        if self._policy is OverflowPolicy.BLOCK:
            if self._depth and self._depth + size > self._capacity:
                counters.held_back += 1
                return False
            counters.bytes_in += size
            self._append(data)
        elif self._policy is OverflowPolicy.DROP_OLDEST:
            counters.bytes_in += size
            if size >= self._capacity:
                counters.dropped_in_queue += size - self._capacity
                self._evict(self._depth)
                self._append(data[size - self._capacity :])
            else:
                self._evict(self._depth + size - self._capacity)
                self._append(data)
        else:
            counters.bytes_in += size
            room = self._capacity - self._depth
            if room < size:
                counters.dropped_in_queue += size - room
                data = data[:room]
            if data:
                self._append(data)
        return True

    def get(self, max_bytes: int | None = None) -> bytes:
        """Remove and return up to ``max_bytes`` (all if None) of the oldest bytes; b"" if empty."""
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        wanted = self._depth if max_bytes is None else min(max_bytes, self._depth)
        if wanted == 0:
            return b""
        parts = self._take(wanted, keep=True)
        self.counters.bytes_out += wanted
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def get_chunks(self, max_bytes: int | None = None) -> list[bytes]:
        """Like ``get``, but the bytes come as the pieces they are stored in, never joined.

        A writer that hands them to ``writev`` (or writes them one by one) saves a copy of the
        whole batch, and the allocation of one large buffer, on every call.
        """
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        wanted = self._depth if max_bytes is None else min(max_bytes, self._depth)
        if wanted == 0:
            return []
        parts = self._take(wanted, keep=True)
        self.counters.bytes_out += wanted
        return parts

    def discard(self) -> int:
        """Drop everything queued, counted as dropped; returns how many bytes that was.

        For a writer that gives up (disk full, drain deadline passed): the loss stays visible
        in ``bytes_dropped`` and the invariant holds.
        """
        dropped = self._depth
        self._evict(dropped)
        return dropped

    def statistics(self) -> LogBufferStatistics:
        counters = self.counters
        return LogBufferStatistics(
            capacity=self._capacity,
            policy=self._policy,
            bytes_in=counters.bytes_in,
            bytes_out=counters.bytes_out,
            bytes_dropped=counters.dropped_in_queue,
            held_back=counters.held_back,
            depth=self._depth,
            peak_depth=counters.peak_depth,
        )

    def _append(self, data: bytes) -> None:
        if self._chunks is None:
            self._chunks = deque()
        self._chunks.append(data)
        self._depth += len(data)
        if self._depth > self.counters.peak_depth:
            self.counters.peak_depth = self._depth

    def _evict(self, n: int) -> None:
        if n <= 0:
            return
        self._take(n, keep=False)
        self.counters.dropped_in_queue += n

    def _take(self, n: int, *, keep: bool) -> list[bytes]:
        """Remove the ``n`` (<= depth) oldest bytes; return them as pieces if ``keep``."""
        parts: list[bytes] = []
        chunks = self._chunks
        assert chunks is not None  # n <= depth, and depth > 0 means a chunk is queued
        remaining = n
        while remaining:
            head = chunks[0]
            start = self._offset
            available = len(head) - start
            if available <= remaining:
                if keep:
                    parts.append(head[start:] if start else head)
                chunks.popleft()
                self._offset = 0
                remaining -= available
            else:
                if keep:
                    parts.append(head[start : start + remaining])
                self._offset = start + remaining
                remaining = 0
        self._depth -= n
        if not chunks:
            self._chunks = None
        return parts
