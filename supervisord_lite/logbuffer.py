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

__all__ = ["LogBuffer", "LogBufferStatistics", "OverflowPolicy"]


class OverflowPolicy(enum.StrEnum):
    """What gives when a put does not fit."""

    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"


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

    __slots__ = (
        "_bytes_dropped",
        "_bytes_in",
        "_bytes_out",
        "_capacity",
        "_chunks",
        "_depth",
        "_held_back",
        "_offset",
        "_peak_depth",
        "_policy",
    )

    def __init__(self, capacity: int, policy: OverflowPolicy) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 byte, got {capacity}")
        self._capacity = capacity
        self._policy = OverflowPolicy(policy)
        self._chunks: deque[bytes] | None = None
        self._offset = 0
        self._depth = 0
        self._bytes_in = 0
        self._bytes_out = 0
        self._bytes_dropped = 0
        self._held_back = 0
        self._peak_depth = 0

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
        if self._policy is OverflowPolicy.BLOCK:
            if self._depth and self._depth + size > self._capacity:
                self._held_back += 1
                return False
            self._bytes_in += size
            self._append(data)
        elif self._policy is OverflowPolicy.DROP_OLDEST:
            self._bytes_in += size
            if size >= self._capacity:
                self._bytes_dropped += size - self._capacity
                self._evict(self._depth)
                self._append(data[size - self._capacity :])
            else:
                self._evict(self._depth + size - self._capacity)
                self._append(data)
        else:
            self._bytes_in += size
            room = self._capacity - self._depth
            if room < size:
                self._bytes_dropped += size - room
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
        self._bytes_out += wanted
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
        self._bytes_out += wanted
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
        return LogBufferStatistics(
            capacity=self._capacity,
            policy=self._policy,
            bytes_in=self._bytes_in,
            bytes_out=self._bytes_out,
            bytes_dropped=self._bytes_dropped,
            held_back=self._held_back,
            depth=self._depth,
            peak_depth=self._peak_depth,
        )

    def _append(self, data: bytes) -> None:
        if self._chunks is None:
            self._chunks = deque()
        self._chunks.append(data)
        self._depth += len(data)
        if self._depth > self._peak_depth:
            self._peak_depth = self._depth

    def _evict(self, n: int) -> None:
        if n <= 0:
            return
        self._take(n, keep=False)
        self._bytes_dropped += n

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
