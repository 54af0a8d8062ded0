"""LogBuffer: each overflow policy, oversize chunks, byte-exact eviction, counter invariants, and
the stream's counters it keeps them in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisord_lite.logbuffer import (
    LogBuffer,
    LogBufferStatistics,
    OverflowPolicy,
    StreamCounters,
)


def assert_invariant(buffer: LogBuffer) -> LogBufferStatistics:
    stats = buffer.statistics()
    assert stats.bytes_in == stats.bytes_out + stats.bytes_dropped + stats.depth
    assert stats.depth == len(buffer)
    assert stats.peak_depth >= stats.depth
    return stats


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        LogBuffer(0, OverflowPolicy.BLOCK)


def test_policy_values_are_the_config_spellings() -> None:
    assert [p.value for p in OverflowPolicy] == ["block", "drop-oldest", "drop-newest"]
    assert LogBuffer(4, "drop-oldest").policy is OverflowPolicy.DROP_OLDEST  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", list(OverflowPolicy))
def test_fifo_order_within_capacity(policy: OverflowPolicy) -> None:
    buffer = LogBuffer(100, policy)
    assert buffer.put(b"hello ")
    assert buffer.put(b"")
    assert buffer.put(b"world")
    assert len(buffer) == 11
    assert buffer.get(3) == b"hel"
    assert buffer.get(5) == b"lo wo"
    assert buffer.get() == b"rld"
    assert buffer.get() == b""
    assert buffer.get(10) == b""
    stats = assert_invariant(buffer)
    assert (stats.bytes_in, stats.bytes_out, stats.bytes_dropped) == (11, 11, 0)
    assert stats.peak_depth == 11
    assert stats.capacity == 100
    assert stats.policy is policy


def test_get_chunks_returns_the_stored_pieces_without_joining() -> None:
    buffer = LogBuffer(100, OverflowPolicy.BLOCK)
    first, second = b"abcdef", b"ghij"
    buffer.put(first)
    buffer.put(second)
    assert buffer.get(2) == b"ab"
    pieces = buffer.get_chunks(6)
    assert pieces == [b"cdef", b"gh"]
    assert buffer.get_chunks() == [b"ij"]
    assert buffer.get_chunks() == []
    buffer.put(first)
    assert buffer.get_chunks()[0] is first  # whole chunks are not copied
    assert buffer.statistics().bytes_out == 16
    with pytest.raises(ValueError, match="negative"):
        buffer.get_chunks(-1)


def test_get_zero_and_negative() -> None:
    buffer = LogBuffer(10, OverflowPolicy.BLOCK)
    buffer.put(b"abc")
    assert buffer.get(0) == b""
    with pytest.raises(ValueError, match="max_bytes"):
        buffer.get(-1)
    assert buffer.get() == b"abc"


def test_put_copies_mutable_input() -> None:
    buffer = LogBuffer(10, OverflowPolicy.BLOCK)
    data = bytearray(b"abc")
    buffer.put(data)  # type: ignore[arg-type]
    data[0] = ord("z")
    assert buffer.get() == b"abc"


def test_block_refuses_when_full_and_counts_held_back() -> None:
    buffer = LogBuffer(10, OverflowPolicy.BLOCK)
    assert buffer.put(b"123456")
    assert buffer.has_room(4)
    assert not buffer.has_room(5)
    assert not buffer.put(b"abcde")
    assert not buffer.put(b"abcde")
    stats = assert_invariant(buffer)
    assert stats.held_back == 2
    assert stats.bytes_in == 6
    assert stats.bytes_dropped == 0
    assert buffer.get(2) == b"12"
    assert buffer.put(b"abcde")
    assert buffer.get() == b"3456abcde"
    assert assert_invariant(buffer).held_back == 2


def test_block_accepts_one_oversize_chunk_into_an_empty_queue() -> None:
    buffer = LogBuffer(4, OverflowPolicy.BLOCK)
    assert buffer.has_room(10)
    assert buffer.put(b"0123456789")
    assert len(buffer) == 10
    assert not buffer.has_room(1)
    assert not buffer.put(b"x")
    stats = assert_invariant(buffer)
    assert stats.peak_depth == 10
    assert buffer.get(3) == b"012"
    assert not buffer.put(b"x")
    assert buffer.get() == b"3456789"
    assert buffer.put(b"x")
    assert buffer.get() == b"x"
    assert assert_invariant(buffer).bytes_dropped == 0


def test_drop_oldest_evicts_byte_exact_across_chunk_boundaries() -> None:
    buffer = LogBuffer(10, OverflowPolicy.DROP_OLDEST)
    assert buffer.put(b"aaaa")
    assert buffer.put(b"bbbb")
    assert buffer.put(b"cc")
    assert not buffer.has_room(1)
    assert buffer.put(b"ddddd")
    assert len(buffer) == 10
    stats = assert_invariant(buffer)
    assert stats.bytes_dropped == 5
    assert buffer.get() == b"bbbccddddd"


def test_drop_oldest_eviction_inside_a_partially_read_chunk() -> None:
    buffer = LogBuffer(8, OverflowPolicy.DROP_OLDEST)
    buffer.put(b"abcdefgh")
    assert buffer.get(2) == b"ab"
    buffer.put(b"123")
    assert buffer.get() == b"defgh123"
    stats = assert_invariant(buffer)
    assert (stats.bytes_in, stats.bytes_out, stats.bytes_dropped) == (11, 10, 1)


def test_drop_oldest_oversize_chunk_keeps_its_tail() -> None:
    buffer = LogBuffer(4, OverflowPolicy.DROP_OLDEST)
    buffer.put(b"xy")
    assert buffer.put(b"0123456789")
    assert buffer.get() == b"6789"
    stats = assert_invariant(buffer)
    assert stats.bytes_in == 12
    assert stats.bytes_dropped == 8
    assert stats.peak_depth == 4


def test_drop_newest_keeps_a_prefix() -> None:
    buffer = LogBuffer(6, OverflowPolicy.DROP_NEWEST)
    assert buffer.put(b"abcd")
    assert buffer.put(b"efgh")
    assert buffer.put(b"ijk")
    assert buffer.get() == b"abcdef"
    stats = assert_invariant(buffer)
    assert (stats.bytes_in, stats.bytes_dropped, stats.held_back) == (11, 5, 0)


def test_drop_newest_oversize_chunk_into_empty_queue() -> None:
    buffer = LogBuffer(3, OverflowPolicy.DROP_NEWEST)
    assert buffer.put(b"0123456")
    assert buffer.get() == b"012"
    assert assert_invariant(buffer).bytes_dropped == 4


@pytest.mark.parametrize("policy", list(OverflowPolicy))
def test_discard_counts_what_was_queued(policy: OverflowPolicy) -> None:
    buffer = LogBuffer(10, policy)
    buffer.put(b"abc")
    buffer.put(b"defg")
    buffer.get(1)
    assert buffer.discard() == 6
    assert buffer.discard() == 0
    assert len(buffer) == 0
    assert buffer.get() == b""
    stats = assert_invariant(buffer)
    assert (stats.bytes_out, stats.bytes_dropped) == (1, 6)


def is_subsequence(needle: bytes, haystack: bytes) -> bool:
    it = iter(haystack)
    return all(byte in it for byte in needle)


def test_is_subsequence_helper() -> None:
    assert is_subsequence(b"ace", b"abcde")
    assert not is_subsequence(b"eca", b"abcde")


operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.binary(min_size=0, max_size=40)),
        st.tuples(st.just("get"), st.one_of(st.none(), st.integers(0, 40))),
        st.tuples(st.just("get_chunks"), st.one_of(st.none(), st.integers(0, 40))),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 32),
    policy=st.sampled_from(list(OverflowPolicy)),
    ops=operations,
)
def test_random_puts_and_gets_keep_the_invariant(
    capacity: int, policy: OverflowPolicy, ops: list[tuple[str, object]]
) -> None:
    buffer = LogBuffer(capacity, policy)
    offered = bytearray()
    accepted = bytearray()
    out = bytearray()
    for kind, arg in ops:
        if kind == "put":
            assert isinstance(arg, bytes)
            offered += arg
            if buffer.put(arg):
                accepted += arg
            else:
                assert policy is OverflowPolicy.BLOCK
        else:
            assert arg is None or isinstance(arg, int)
            if kind == "get":
                chunk = buffer.get(arg)
            else:
                pieces = buffer.get_chunks(arg)
                assert all(pieces)
                chunk = b"".join(pieces)
            if arg is not None:
                assert len(chunk) <= arg
            out += chunk
        stats = assert_invariant(buffer)
        if policy is not OverflowPolicy.BLOCK:
            assert stats.depth <= capacity
    out += buffer.get()
    stats = assert_invariant(buffer)
    assert stats.depth == 0
    assert stats.bytes_out == len(out)
    if policy is OverflowPolicy.BLOCK:
        assert stats.bytes_dropped == 0
        assert stats.bytes_in == len(accepted)
        assert bytes(out) == bytes(accepted)
    else:
        assert stats.held_back == 0
        assert stats.bytes_in == len(offered)
        assert len(out) + stats.bytes_dropped == len(offered)
        assert is_subsequence(bytes(out), bytes(offered))


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 32),
    chunks=st.lists(st.binary(min_size=1, max_size=40), max_size=30),
    drain_every=st.integers(1, 5),
)
def test_drop_newest_output_is_offered_minus_dropped_in_order(
    capacity: int, chunks: list[bytes], drain_every: int
) -> None:
    """Each chunk contributes a prefix; the output is exactly those prefixes, in order."""
    buffer = LogBuffer(capacity, OverflowPolicy.DROP_NEWEST)
    expected = bytearray()
    out = bytearray()
    for index, chunk in enumerate(chunks, start=1):
        room = capacity - len(buffer)
        expected += chunk[:room]
        assert buffer.put(chunk)
        if index % drain_every == 0:
            out += buffer.get()
    out += buffer.get()
    assert bytes(out) == bytes(expected)
    assert_invariant(buffer)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 32),
    chunks=st.lists(st.binary(min_size=1, max_size=40), max_size=30),
)
def test_drop_oldest_keeps_the_newest_capacity_bytes(capacity: int, chunks: list[bytes]) -> None:
    buffer = LogBuffer(capacity, OverflowPolicy.DROP_OLDEST)
    for chunk in chunks:
        assert buffer.put(chunk)
    offered = b"".join(chunks)
    assert buffer.get() == offered[-capacity:]
    stats = assert_invariant(buffer)
    assert stats.bytes_dropped == max(0, len(offered) - capacity)


def test_the_queue_counts_in_the_stream_s_counters() -> None:
    counters = StreamCounters()
    buffer = LogBuffer(8, OverflowPolicy.DROP_NEWEST, counters)
    buffer.put(b"0123456789")  # 2 bytes do not fit
    assert buffer.get(3) == b"012"
    counters.bytes_written += 3  # what a writer would add
    counters.dropped_unqueued += 5  # what a stopped pump would add
    assert (counters.bytes_in, counters.bytes_out, counters.dropped_in_queue) == (10, 3, 2)
    assert counters.peak_depth == 8
    assert counters.bytes_dropped == 2 + 5
    assert counters.settled == 3 + 2  # written, or dropped on the way out of the queue
    stats = assert_invariant(buffer)
    assert (stats.bytes_in, stats.bytes_dropped, stats.depth) == (10, 2, 5)
    assert LogBuffer(4, OverflowPolicy.BLOCK).counters is not counters  # one of its own
