"""Log followers: a byte budget each, one clean gap per stall, never a wait for the publisher."""

from __future__ import annotations

import pytest
import trio

from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.logs.fanout import LogFanOut, LogGap, LogPiece
from supervisord_lite.runtime.logs.tail import CHUNK, _messages


def test_publish_reaches_only_the_followers_that_want_it() -> None:
    fanout = LogFanOut()
    with (
        fanout.follow(["web"]) as web,
        fanout.follow(None, "stderr") as errors,
        fanout.follow() as everything,
    ):
        fanout.publish("web", "stdout", b"a")
        fanout.publish("db", "stderr", b"b")
        assert fanout.followers("web", "stdout") == 2
        assert fanout.followers("db", "stderr") == 2
        assert fanout.followers("db", "stdout") == 1
    assert fanout.followers("web", "stdout") == 0
    assert web._items == [LogPiece("web", "stdout", b"a")]
    assert errors._items == [LogPiece("db", "stderr", b"b")]
    assert [p.data for p in everything._items] == [b"a", b"b"]


async def test_a_follower_that_falls_behind_gets_one_gap_after_what_it_had() -> None:
    fanout = LogFanOut(capacity=10)
    with fanout.follow() as follower:
        assert fanout.publish("web", "stdout", b"12345678") == (0, 0)
        assert fanout.publish("web", "stdout", b"abcd") == (1, 4)  # does not fit: lag starts
        assert fanout.publish("web", "stdout", b"x") == (0, 1)  # lagging: dropped though it fits
        assert fanout.publish("db", "stderr", b"yy") == (0, 2)
        batch = await follower.receive()
        assert batch == [
            LogPiece("web", "stdout", b"12345678"),
            LogGap("web", "stdout", 5),
            LogGap("db", "stderr", 2),
        ]
        fanout.publish("web", "stdout", b"again")  # caught up: bytes flow again
        assert await follower.receive() == [LogPiece("web", "stdout", b"again")]
        assert (follower.lag_events, follower.lagged_bytes) == (1, 7)


async def test_an_empty_follower_takes_one_chunk_over_its_budget() -> None:
    fanout = LogFanOut(capacity=4)
    with fanout.follow() as follower:
        assert fanout.publish("web", "stdout", b"123456789") == (0, 0)
        assert await follower.receive() == [LogPiece("web", "stdout", b"123456789")]


async def test_skip_removes_bytes_already_sent_from_the_file() -> None:
    fanout = LogFanOut()
    with fanout.follow() as follower:
        fanout.publish("web", "stdout", b"abc")
        fanout.publish("db", "stdout", b"zz")
        fanout.publish("web", "stdout", b"def")
        follower.skip("web", "stdout", 4)  # 3 queued + 1 still to come... already queued: "d"
        fanout.publish("web", "stdout", b"ghi")
        assert await follower.receive() == [
            LogPiece("db", "stdout", b"zz"),
            LogPiece("web", "stdout", b"ef"),
            LogPiece("web", "stdout", b"ghi"),
        ]
        follower.skip("web", "stdout", 2)
        fanout.publish("web", "stdout", b"j")
        fanout.publish("web", "stdout", b"klm")
        assert await follower.receive() == [LogPiece("web", "stdout", b"lm")]


async def test_receive_waits_for_data_and_ends_at_close() -> None:
    fanout = LogFanOut()
    with fanout.follow(["web"]) as follower:
        async with trio.open_nursery() as nursery:
            got: list[object] = []

            async def read() -> None:
                try:
                    while True:
                        got.extend(await follower.receive())
                except trio.EndOfChannel:
                    got.append("end")

            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            fanout.publish("web", "stdout", b"x")
            await trio.testing.wait_all_tasks_blocked()
            assert got == [LogPiece("web", "stdout", b"x")]
            fanout.close()
    assert got[-1] == "end"
    with fanout.follow() as late, pytest.raises(trio.EndOfChannel):
        await late.receive()


def test_messages_join_neighbours_split_large_and_place_gaps() -> None:
    big = b"x" * (CHUNK + 10)
    batch: list[LogPiece | LogGap] = [
        LogPiece("web", "stdout", b"a"),
        LogPiece("web", "stdout", b"b"),
        LogPiece("web", "stderr", b"c"),
        LogGap("web", "stderr", 7),
        LogPiece("web", "stderr", big),
    ]
    out = list(_messages(batch, 9))
    assert out == [
        m.LogChunk(id=9, program="web", stream="stdout", data=b"ab"),
        m.LogChunk(id=9, program="web", stream="stderr", data=b"c"),
        m.Lagged(id=9, program="web", stream="stderr", dropped=7),
        m.LogChunk(id=9, program="web", stream="stderr", data=big[:CHUNK]),
        m.LogChunk(id=9, program="web", stream="stderr", data=big[CHUNK:]),
    ]
