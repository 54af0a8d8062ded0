"""Webhooks against a real HTTP server on 127.0.0.1, in the test's own trio run: every logged
event in seq order, signed; only the kinds and programs asked for; a receiver that was down
gets everything once it is back, and its failing and recovery are events themselves."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import trio

from supervisord_lite.config_webhooks import WebhookConfig
from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.webhooks import SIGNATURE_HEADER, Webhooks, backoff
from tests.supervisor_harness import supervising
from tests.webhook_receiver import Delivery, Receiver

if TYPE_CHECKING:
    import random
    from collections.abc import AsyncIterator, Callable
    from contextlib import AbstractAsyncContextManager
    from pathlib import Path

    from supervisord_lite.runtime.supervisor import Supervisor

PROGRAMS = """\
[programs.job]
command = ["sh", "-c", "exit 3"]
autostart = false
autorestart = "never"
start_seconds = 0

[programs.other]
command = ["sh", "-c", "exit 0"]
autostart = false
autorestart = "never"
start_seconds = 0
"""


async def _received(receiver: Receiver, predicate: Callable[[list[Delivery]], object]) -> Any:
    return await trio.to_thread.run_sync(receiver.wait_for, predicate, abandon_on_cancel=True)


async def _logged(sup: Supervisor) -> list[int]:
    """Every seq in the event log now."""
    await sup.store.wait_settled()
    return [event.seq for event in await sup.events.read(1, 10_000)]


async def _run_twice(sup: Supervisor, name: str) -> None:
    for _ in range(2):
        await sup.start([name])
        await sup.wait_state([name], m.ProgramState.EXITED)


def _hooks(sup: Supervisor, nursery: trio.Nursery, *hooks: WebhookConfig) -> Webhooks:
    webhooks = Webhooks(sup.events, sup.store, nursery)
    webhooks.apply(hooks, start=0)
    return webhooks


def _with_hooks(
    tmp_path: Path,
) -> AbstractAsyncContextManager[tuple[Supervisor, trio.Nursery]]:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def opened() -> AsyncIterator[tuple[Supervisor, trio.Nursery]]:
        async with supervising(tmp_path, PROGRAMS, boot=False) as sup, trio.open_nursery() as n:
            yield sup, n
            n.cancel_scope.cancel()

    return opened()


async def test_every_event_in_order_and_signed(tmp_path: Path) -> None:
    with Receiver() as receiver:
        async with _with_hooks(tmp_path) as (sup, nursery):
            hook = WebhookConfig(url=receiver.url, secret="s3cret", headers={"X-Team": "ops"})
            webhooks = _hooks(sup, nursery, hook)
            await _run_twice(sup, "job")
            logged = await _logged(sup)
            got = await _received(receiver, lambda d: d and d[-1].seq >= logged[-1])
            # One more event: once it is in, the hook has counted every delivery before it.
            await sup.start(["job"])
            await _received(receiver, lambda d: d[-1].seq > logged[-1])
            [status] = webhooks.statuses()
    got = got[: len(logged)]
    assert [d.seq for d in got] == logged
    for delivery in got:
        expected = "sha256=" + hmac.new(b"s3cret", delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers[SIGNATURE_HEADER] == expected
        assert delivery.headers["X-Team"] == "ops"
        assert delivery.event()["seq"] == delivery.seq
        assert "id" not in delivery.event()
    ends = [d.event() for d in got if d.event().get("new") == "EXITED"]
    assert [e["exit_code"] for e in ends] == [3, 3]
    assert status.delivered >= len(logged)
    assert status.failed == 0
    assert status.cursor >= logged[-1]


async def test_only_the_kinds_and_programs_asked_for(tmp_path: Path) -> None:
    with Receiver() as receiver:
        async with _with_hooks(tmp_path) as (sup, nursery):
            hook = WebhookConfig(url=receiver.url, events=("state",), programs=("j*",))
            _hooks(sup, nursery, hook)
            await _run_twice(sup, "other")
            await _run_twice(sup, "job")
            await sup.store.wait_settled()
            wanted = [
                e.seq
                for e in await sup.events.read(1, 10_000)
                if isinstance(e, m.StateChanged) and e.change == "state" and e.program == "job"
            ]
            got = await _received(receiver, lambda d: d and d[-1].seq >= wanted[-1])
    assert [d.seq for d in got] == wanted
    assert {(d.event()["type"], d.event()["program"]) for d in got} == {("state", "job")}


async def test_a_receiver_that_was_down_gets_everything_in_order(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.start()
    receiver.stop()  # the port is known, and nothing listens on it
    try:
        async with _with_hooks(tmp_path) as (sup, nursery):
            hook = WebhookConfig(url=receiver.url, retry_initial=0.05, retry_max=0.2)
            with sup.events.subscribe() as sub:
                webhooks = _hooks(sup, nursery, hook)
                await _run_twice(sup, "job")
                with trio.fail_after(20):
                    async for event in sub.receive:  # its failing is an event
                        if isinstance(event, m.DaemonEvent) and event.change == "webhook":
                            break
                assert event.webhook is not None
                assert event.webhook.failing
                await trio.to_thread.run_sync(receiver.start)
                logged = await _logged(sup)
                got = await _received(receiver, lambda d: d and d[-1].seq >= logged[-1])
                with trio.fail_after(20):
                    async for event in sub.receive:  # and so is its recovery
                        if isinstance(event, m.DaemonEvent) and event.change == "webhook":
                            break
                assert event.webhook is not None
                assert not event.webhook.failing
            [status] = webhooks.statuses()
    finally:
        receiver.stop()
    assert [d.seq for d in got][: len(logged)] == logged
    assert status.failed >= 1
    assert not status.failing


def test_backoff_grows_to_its_bound_with_jitter() -> None:
    class Half:
        def uniform(self, low: float, high: float) -> float:
            return (low + high) / 2

    rng: random.Random = Half()  # type: ignore[assignment]
    waits = [backoff(n, 1.0, 10.0, rng) for n in range(6)]
    assert waits == [0.75, 1.5, 3.0, 6.0, 7.5, 7.5]
