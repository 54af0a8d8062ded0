"""The one task that talks to the state store, off the event loop.

Programs hand it ops without waiting (``submit``); it writes whatever has queued up since its
last write in one short transaction, in a worker thread, so a burst of 100 exits costs one
commit, not 100. Reads (``query``) go through the same queue, so a history asked for right after
a stop already contains that stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import trio

from supervisord_lite.errors import StoreError
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.store_records import StoreOp

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.store import Store

T = TypeVar("T")

#: How many ops a failing store may hold back before the oldest are given up (and said so).
MAX_UNWRITTEN = 10_000


@dataclass
class _Query(Generic[T]):
    fn: Callable[[Store], T]
    done: trio.Event = field(default_factory=trio.Event)
    result: T | None = None
    error: BaseException | None = None


class StoreWriter:
    """Serialises every store access through one queue and one thread at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._send, self._receive = trio.open_memory_channel[StoreOp | _Query[object]](math.inf)
        self.batches = 0
        self.failed_batches = 0
        self._unwritten: list[StoreOp] = []

    def submit(self, op: StoreOp) -> None:
        """Queue an op; it is written with the next batch."""
        self._send.send_nowait(op)

    async def query(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` after every op queued before it has been written."""
        item: _Query[T] = _Query(fn)
        self._send.send_nowait(item)  # type: ignore[arg-type]
        await item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]

    async def run(self) -> None:
        """Write batches until ``close`` is called and the queue is drained."""
        async with self._receive:
            async for first in self._receive:
                await self._handle([first, *self._drain()])

    def _drain(self) -> list[StoreOp | _Query[object]]:
        items: list[StoreOp | _Query[object]] = []
        while True:
            try:
                items.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return items

    async def _handle(self, items: list[StoreOp | _Query[object]]) -> None:
        ops: list[StoreOp] = []
        for item in items:
            if isinstance(item, _Query):
                await self._write(ops)
                ops = []
                await self._answer(item)
            else:
                ops.append(item)
        await self._write(ops)

    async def _write(self, ops: list[StoreOp]) -> None:
        # A failed batch (disk full, say) is kept and retried with the next one, up to a bound,
        # so a passing failure loses nothing and a lasting one cannot grow without limit.
        ops = [*self._unwritten, *ops]
        if not ops:
            return
        try:
            await trio.to_thread.run_sync(self.store.apply, ops, abandon_on_cancel=False)
        except StoreError as exc:
            self.failed_batches += 1
            self._unwritten = ops[-MAX_UNWRITTEN:]
            lost = len(ops) - len(self._unwritten)
            log.error("state store write failed (%d ops kept, %d lost): %s", len(ops), lost, exc)
        else:
            self._unwritten = []
            self.batches += 1

    async def _answer(self, query: _Query[object]) -> None:
        try:
            query.result = await trio.to_thread.run_sync(query.fn, self.store)
        except Exception as exc:  # noqa: BLE001 - handed to the one caller that asked
            query.error = exc
        finally:
            query.done.set()

    def close(self) -> None:
        """No more ops: ``run`` returns once everything queued is written."""
        self._send.close()
