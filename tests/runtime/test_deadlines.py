"""The timerfd deadline service: callbacks in deadline order, never before their deadline."""

from __future__ import annotations

import trio

from supervisord_lite.runtime.deadlines import Deadlines


async def test_callbacks_fire_in_order_and_never_early() -> None:
    deadlines = Deadlines()
    fired: list[tuple[str, float, float]] = []
    done = trio.Event()

    def note(name: str, at: float) -> None:
        fired.append((name, at, trio.current_time()))
        if len(fired) == 3:
            done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadlines.run)
        now = trio.current_time()
        deadlines.at(now + 0.06, lambda: note("late", now + 0.06))
        deadlines.at(now + 0.02, lambda: note("early", now + 0.02))  # re-arms sooner
        deadlines.at(now - 1.0, lambda: note("past", now - 1.0))  # already due: at once
        with trio.fail_after(10):
            await done.wait()
        nursery.cancel_scope.cancel()
    assert [name for name, _, _ in fired] == ["past", "early", "late"]
    assert all(when >= at for _, at, when in fired)


async def test_nothing_pending_leaves_the_timer_disarmed() -> None:
    deadlines = Deadlines()
    fired: list[int] = []
    once = trio.Event()

    def fire() -> None:
        fired.append(1)
        once.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadlines.run)
        deadlines.at(trio.current_time() + 0.01, fire)
        with trio.fail_after(10):
            await once.wait()
        await trio.sleep(0.05)  # a disarmed timer never fires again
        nursery.cancel_scope.cancel()
    assert fired == [1]
    assert deadlines._armed_for is None
