"""The event log on a real SQLite store and the real store writer: replay then follow with an
exact seam, a follower that falls behind catches up from the store, retention says what it
no longer keeps; and the events a program's life produces carry only their own fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime import eventstream
from supervisord_lite.runtime.eventlog import EventLog
from supervisord_lite.runtime.eventstream import stream_events
from supervisord_lite.runtime.storewriter import StoreWriter
from supervisord_lite.store import Store
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    import pytest


def _event(i: int) -> m.DaemonEvent:
    return m.DaemonEvent(change="reload", at=1000.0 + i, message=f"event {i}")


class Collector:
    """A subscriber's end of the socket: keeps what is sent; ``slow`` makes each send yield
    many times, so the daemon outpaces it."""

    def __init__(self, *, slow: bool = False) -> None:
        self.sent: list[m.ServerMessage] = []
        self.slow = slow
        self.changed = trio.Event()

    async def send(self, message: m.ServerMessage) -> None:
        if self.slow:
            for _ in range(20):
                await trio.lowlevel.checkpoint()
        self.sent.append(message)
        self.changed.set()
        self.changed = trio.Event()

    def seqs(self) -> list[int]:
        return [x.seq for x in self.sent if isinstance(x, m.DaemonEvent | m.StateChanged)]

    async def wait_seq(self, seq: int) -> None:
        with trio.fail_after(20):
            while seq not in self.seqs():
                await self.changed.wait()


async def _with_log(
    tmp_path: Path,
    body: Callable[[EventLog, StoreWriter, trio.Nursery], Awaitable[None]],
    *,
    keep: int = 0,
    capacity: int = 4096,
) -> None:
    store = Store.open(tmp_path / "state.db", keep_events=keep)
    writer = StoreWriter(store)
    log = EventLog(writer, newest=store.event_bounds()[1], capacity=capacity)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer.run)
            await body(log, writer, nursery)
            log.close()
            writer.close()
    finally:
        store.close()


async def test_replay_then_follow_has_every_event_once_across_the_seam(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small pages, so the replay reads the store several times while events keep coming.
    monkeypatch.setattr(eventstream, "PAGE", 7)

    async def body(log: EventLog, writer: StoreWriter, nursery: trio.Nursery) -> None:
        for i in range(50):
            log.publish(_event(i))
        await writer.wait_settled()
        follower = Collector()
        nursery.start_soon(stream_events, m.Subscribe(id=3, since=10), log, follower.send)

        async def publish_more() -> None:
            for i in range(50, 120):
                log.publish(_event(i))  # batched by the writer as it goes
                if i % 5 == 0:
                    await trio.lowlevel.checkpoint()

        nursery.start_soon(publish_more)
        await follower.wait_seq(120)
        assert follower.seqs() == list(range(10, 121))
        assert all(x.id == 3 for x in follower.sent)
        assert isinstance(follower.sent[0], m.Ok)

    await _with_log(tmp_path, body)


async def test_a_follower_that_falls_behind_catches_up_from_the_store(tmp_path: Path) -> None:
    async def body(log: EventLog, writer: StoreWriter, nursery: trio.Nursery) -> None:
        follower = Collector(slow=True)
        nursery.start_soon(stream_events, m.Subscribe(id=1), log, follower.send)
        await follower.changed.wait()  # subscribed: its Ok is sent
        for i in range(300):
            log.publish(_event(i))
            if i % 50 == 0:
                await writer.wait_settled()
        await follower.wait_seq(300)
        assert follower.seqs() == list(range(1, 301))
        assert log.statistics().dropped > 0  # it did fall behind the fan-out

    await _with_log(tmp_path, body, capacity=8)


async def test_replay_says_what_retention_no_longer_keeps(tmp_path: Path) -> None:
    async def body(log: EventLog, writer: StoreWriter, nursery: trio.Nursery) -> None:
        for i in range(30):
            log.publish(_event(i))
        await writer.wait_settled()
        old = Collector()
        said = await stream_events(m.Subscribe(id=2, since=5, follow=False), log, old.send)
        assert said == "replayed"
        missed = old.sent[1]
        assert isinstance(missed, m.Missed)
        assert (missed.first, missed.oldest) == (5, 21)
        assert old.seqs() == list(range(21, 31))
        last = Collector()
        await stream_events(m.Subscribe(id=2, since=-3, follow=False), log, last.send)
        assert last.seqs() == [28, 29, 30]
        everything = Collector()
        await stream_events(m.Subscribe(id=2, since=0, follow=False), log, everything.send)
        assert everything.seqs() == list(range(21, 31))
        assert not any(isinstance(x, m.Missed) for x in everything.sent)

    await _with_log(tmp_path, body, keep=10)


PROGRAMS = """\
[programs.job]
command = ["sh", "-c", "exit 3"]
autostart = false
autorestart = "never"
start_seconds = 0
"""


async def test_events_carry_their_own_exit_and_pid_only(tmp_path: Path) -> None:
    async with supervising(tmp_path, PROGRAMS, boot=False) as sup:
        with sup.events.subscribe() as sub:
            for _ in range(2):
                await sup.start(["job"])
                await sup.wait_state(["job"], m.ProgramState.EXITED)
            await sup.store.wait_settled()  # every event written, so pushed
            events = []
            while True:
                try:
                    events.append(sub.receive.receive_nowait())
                except trio.WouldBlock:
                    break
    states = [e for e in events if isinstance(e, m.StateChanged)]
    ends = [e for e in states if e.new is m.ProgramState.EXITED]
    assert [e.exit_code for e in ends] == [3, 3]
    assert all(e.pid is not None for e in ends)
    others = [e for e in states if e.new is not m.ProgramState.EXITED]
    assert others
    assert all(e.exit_code is None and e.exit_signal is None for e in others)
    starting = [e for e in others if e.new is m.ProgramState.STARTING]
    assert all(e.pid is None for e in starting)  # no process yet: not the last run's
    assert [e.seq for e in states] == sorted(e.seq for e in states)
