"""Frames: length prefix, split anywhere, refused before buffering, out of step stays out."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisord_lite.protocol import (
    MAX_FRAME,
    End,
    FrameDecoder,
    FrameEncoder,
    Hello,
    LogChunk,
    Ping,
    Pong,
    ServerMessage,
    Status,
)
from supervisord_lite.protocol.errors import FrameTooLarge

MESSAGES = [
    Hello(id=1, version=1, client="test"),
    Ping(id=2),
    Status(id=3, names=("web", "worker")),
    LogChunk(id=4, program="web", stream="stdout", data=b"\x00\xff" * 300),
    Ping(id=5),
]


def _stream() -> tuple[bytes, list[bytes]]:
    encoder = FrameEncoder()
    frames = [encoder.encode(msg) for msg in MESSAGES]
    return b"".join(frames), [msgspec.msgpack.encode(msg) for msg in MESSAGES]


def test_frame_is_big_endian_length_then_msgpack_body() -> None:
    frame = FrameEncoder().encode(Ping(id=7))
    body = msgspec.msgpack.encode(Ping(id=7))
    assert frame == len(body).to_bytes(4, "big") + body


def test_encoder_reuses_its_buffer_safely() -> None:
    encoder = FrameEncoder()
    big = LogChunk(program="p", stream="stderr", data=b"x" * 200_000)
    first = encoder.encode(big)
    small = encoder.encode(Ping(id=1))
    again = encoder.encode(big)
    assert first == again
    assert small == FrameEncoder().encode(Ping(id=1))
    assert FrameDecoder().feed(first + small) == [
        msgspec.msgpack.encode(big),
        msgspec.msgpack.encode(Ping(id=1)),
    ]


def test_encoder_refuses_a_body_above_max_frame_and_keeps_working() -> None:
    encoder = FrameEncoder(max_frame=100)
    with pytest.raises(FrameTooLarge):
        encoder.encode(LogChunk(program="p", stream="stdout", data=b"x" * 200))
    assert encoder.encode(Ping()) == FrameEncoder().encode(Ping())


def test_whole_stream_in_one_chunk() -> None:
    data, bodies = _stream()
    decoder = FrameDecoder()
    assert decoder.feed(data) == bodies
    assert decoder.at_boundary
    assert decoder.pending == 0


def test_one_byte_at_a_time() -> None:
    data, bodies = _stream()
    decoder = FrameDecoder()
    out: list[bytes] = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))
    assert out == bodies
    assert decoder.at_boundary


def test_every_two_way_split() -> None:
    data, bodies = _stream()
    for cut in range(len(data) + 1):
        decoder = FrameDecoder()
        out = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert out == bodies, cut
        assert decoder.at_boundary


def test_empty_feed_is_harmless() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\x00\x00") == []
    assert decoder.feed(b"") == []
    assert decoder.pending == 2


def test_zero_length_body_is_a_frame() -> None:
    assert FrameDecoder().feed(b"\x00\x00\x00\x00" * 2) == [b"", b""]


def test_truncated_stream_is_not_at_a_boundary() -> None:
    data, bodies = _stream()
    decoder = FrameDecoder()
    assert decoder.feed(data[:-1]) == bodies[:-1]
    assert not decoder.at_boundary
    assert decoder.pending == 4 + len(bodies[-1]) - 1


def test_header_alone_is_not_a_boundary() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00\x00\x00\x05") == []
    assert not decoder.at_boundary
    assert decoder.pending == 4
    decoder.feed(b"\x00\x00")
    assert decoder.pending == 6


@pytest.mark.parametrize("tail", [b"", b"x" * 1000])
def test_oversize_prefix_refused_before_the_body_is_buffered(tail: bytes) -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(b"\xff\xff\xff\xff" + tail)
    assert info.value.code == "frame_too_large"
    assert decoder.pending <= 4


def test_oversize_prefix_refused_on_its_fourth_byte() -> None:
    decoder = FrameDecoder()
    for byte in b"\xff\xff\xff":
        assert decoder.feed(bytes([byte])) == []
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"\xff")
    assert decoder.pending <= 4


def test_decoder_stays_failed_after_an_oversize_prefix() -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        decoder.feed((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge):
        decoder.feed(FrameEncoder().encode(Ping()))


def test_max_frame_is_inclusive() -> None:
    decoder = FrameDecoder(max_frame=3)
    assert decoder.feed(b"\x00\x00\x00\x03abc") == [b"abc"]
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"\x00\x00\x00\x04")


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_max_frame_must_fit_the_prefix(bad: int) -> None:
    with pytest.raises(ValueError, match="max_frame"):
        FrameDecoder(max_frame=bad)
    with pytest.raises(ValueError, match="max_frame"):
        FrameEncoder(max_frame=bad)


def test_garbage_is_cut_into_frames_or_refused() -> None:
    decoder = FrameDecoder(max_frame=64)
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=1, max_value=64), max_size=50))
def test_any_bytes_give_bodies_or_frame_too_large(data: bytes, sizes: list[int]) -> None:
    decoder = FrameDecoder(max_frame=512)
    pos = 0
    try:
        for size in [*sizes, len(data)]:
            decoder.feed(data[pos : pos + size])
            pos += size
            assert decoder.pending <= 4 + 512
    except FrameTooLarge:
        assert decoder.pending <= 4


_messages = st.lists(
    st.one_of(
        st.builds(Pong, id=st.integers(-(2**63), 2**64 - 1)),
        st.builds(End, id=st.integers(0, 2**32), message=st.text(max_size=40)),
        st.builds(
            LogChunk,
            program=st.text(max_size=10),
            stream=st.sampled_from(["stdout", "stderr"]),
            data=st.binary(max_size=600),
        ),
    ),
    max_size=12,
)


@given(_messages, st.lists(st.integers(min_value=0), max_size=20))
def test_any_messages_cut_anywhere_decode_to_the_same_messages(
    messages: list[ServerMessage], cuts: list[int]
) -> None:
    encoder = FrameEncoder()
    data = b"".join(encoder.encode(msg) for msg in messages)
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    decoder = FrameDecoder()
    bodies: list[bytes] = []
    for start, end in itertools.pairwise(points):
        bodies.extend(decoder.feed(data[start:end]))
    assert decoder.at_boundary
    typed = msgspec.msgpack.Decoder(ServerMessage)
    assert [typed.decode(body) for body in bodies] == messages
