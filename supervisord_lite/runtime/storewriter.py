"""The one task that talks to the state store, off the event loop.

Programs hand it records without waiting (``submit``); it writes what has queued up since its
last write in one short transaction of at most ``BATCH_MAX`` records, in a worker thread, so a
burst of 100 exits costs one commit, not 100. Reads (``query``) wait for every record submitted
before them, so a history asked for right after a stop already contains that stop.

No record is lost silently:

- A write the store may take later (``StoreUnavailable``: another process holds the lock, the
  disk is full; or ``StoreCorrupt``) holds the records back, in order, and is retried after a
  backoff that starts at ``RETRY_MIN`` and doubles up to ``RETRY_MAX``. Each failure halves the
  next batch (down to one record), each success doubles it (up to ``BATCH_MAX``): a disk with a
  little room takes what fits, and no transaction grows with the backlog.
- A record the store refuses (a plain ``StoreError``: a run ended twice, say) is narrowed down
  by the same halving without waiting, refused alone, counted and logged; the others land.
- At most ``MAX_PENDING`` records are held back; beyond that new ones are dropped and counted.
- While records are held back, a read that needs them is answered at once with
  ``StoreUnavailable`` (saying how many wait and why) instead of waiting on the lock; a read
  that needs none of them goes ahead (WAL readers do not wait for another process's writer).
- ``close`` retries what is held back for up to ``drain_timeout``; what is still unwritten then
  is counted in ``statistics().unwritten``, which the runtime turns into an error exit.

Rows of the event log a write gave their ``seq`` go to ``on_written`` right after the commit,
in seq order: what followers of the events hear live is exactly what is on disk.

The backoff deadline is the only timer, and it runs only while writes fail: nothing tells a
process that another one released a lock or that disk space was freed.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import trio

from supervisord_lite.errors import StoreCorrupt, StoreError, StoreUnavailable
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.store import Store
    from supervisord_lite.store_records import LoggedEvent, StoreOp

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")

#: How many records a failing store may hold back before new ones are dropped (and counted).
MAX_PENDING = 10_000
#: The most records one transaction writes.
BATCH_MAX = 256
#: Retry a failed write after this long, doubling up to RETRY_MAX while it keeps failing.
RETRY_MIN = 0.05
RETRY_MAX = 2.0
#: How long ``close`` keeps retrying held-back records before it counts them as unwritten.
DRAIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class StoreWriterStatistics:
    """The writer's counters (``StoreWriter.statistics``); ``error`` is the last write error,
    kept after the store recovers so that an operator can still see what happened."""

    path: str
    pending: int
    written: int
    batches: int
    write_errors: int
    dropped: int
    refused: int
    failing: bool
    error: str
    error_at: float | None

    @property
    def unwritten(self) -> int:
        """Records that are not on disk: dropped, refused, or still held back."""
        return self.dropped + self.refused + self.pending


@dataclass
class _Query(Generic[T]):
    fn: Callable[[Store], T]
    mark: int
    done: trio.Event = field(default_factory=trio.Event)
    result: T | None = None
    error: BaseException | None = None


class StoreWriter:
    """Serialises every store access through one task and one thread at a time; see the module
    docstring."""

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = MAX_PENDING,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self.store = store
        self._max_pending = max_pending
        self._drain_timeout = drain_timeout
        self._pending: deque[StoreOp] = deque()
        self._queries: deque[_Query[object]] = deque()
        self._accepted = 0  # records ever taken into _pending
        self._wake = trio.Event()
        self._attempted = trio.Event()
        self._closed = False
        self._batch = BATCH_MAX
        self._retry = RETRY_MIN
        self._failing = False  # the last write attempt failed in a way that may pass
        self._retry_due = False  # ... and its backoff has run out
        self._finished = False
        self._written = 0
        self._batches = 0
        self._write_errors = 0
        self._dropped = 0
        self._refused = 0
        self._error = ""
        self._error_at: float | None = None
        #: Sees every record as it is submitted (the metrics' run counters), when set.
        self.tap: Callable[[StoreOp], None] | None = None
        #: Told how long each write attempt took, in seconds, written or failed (the
        #: metrics' latency histogram), when set.
        self.on_write: Callable[[float], None] | None = None
        #: Hears the event log's rows of each committed batch (the event log's fan-out), when set.
        self.on_written: Callable[[list[LoggedEvent]], None] | None = None

    def submit(self, op: StoreOp) -> None:
        """Queue a record; it is written with the next batch (or held back, or counted as
        dropped when ``MAX_PENDING`` are held back already or the writer is closed)."""
        if self.tap is not None:
            self.tap(op)
        if self._closed or len(self._pending) >= self._max_pending:
            if not self._dropped:
                why = "the writer is closed" if self._closed else f"{len(self._pending)} held back"
                log.error("state store: dropping records (%s): %r", why, op)
            self._dropped += 1
            return
        self._pending.append(op)
        self._accepted += 1
        if not self._failing:
            self._wake.set()

    async def query(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` in the writer's thread once every record submitted before it is
        written.

        Raises:
            StoreUnavailable: records it needs are held back by a failing store, or the
                writer is closed; or whatever ``fn`` raised.
        """
        if self._closed:
            raise StoreUnavailable(f"{self.store.path}: the state store is closing")
        item: _Query[T] = _Query(fn, self._accepted)
        self._queries.append(item)  # type: ignore[arg-type]
        self._wake.set()
        await item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]

    async def wait_settled(self) -> None:
        """Return once every record submitted before the call is written or given up."""
        mark = self._accepted
        while self._accepted - len(self._pending) < mark and not self._finished:
            await self._attempted.wait()

    async def wait_attempt(self) -> None:
        """Return after the next write attempt (written, refused or failed), or at once when
        the writer has finished."""
        if not self._finished:
            await self._attempted.wait()

    def statistics(self) -> StoreWriterStatistics:
        return StoreWriterStatistics(
            path=str(self.store.path),
            pending=len(self._pending),
            written=self._written,
            batches=self._batches,
            write_errors=self._write_errors,
            dropped=self._dropped,
            refused=self._refused,
            failing=self._failing,
            error=self._error,
            error_at=self._error_at,
        )

    def close(self) -> None:
        """No more records: ``run`` writes what is held back (for up to ``drain_timeout``) and
        returns."""
        self._closed = True
        self._wake.set()

    async def run(self) -> None:
        """Write records and answer queries until ``close``; then drain and return."""
        try:
            while not self._closed:
                if self._may_write():
                    await self._write_pending()
                await self._answer_queries()
                if self._closed or self._queries or self._may_write():
                    continue  # more came while a thread worked
                self._wake = trio.Event()
                with trio.move_on_after(self._retry if self._failing else math.inf) as backoff:
                    await self._wake.wait()
                if backoff.cancelled_caught:
                    self._retry_due = True
            await self._drain()
        finally:
            self._finished = True
            self._notify_attempt()

    def _may_write(self) -> bool:
        return bool(self._pending) and (not self._failing or self._retry_due)

    async def _drain(self) -> None:
        with trio.move_on_after(self._drain_timeout):
            while self._pending:
                self._retry_due = True
                await self._write_pending()
                if self._pending:
                    await trio.sleep(self._retry)
        # Queries still waiting: answered if their records landed, told why if not.
        self._failing = self._failing or bool(self._pending)
        await self._answer_queries()
        if self._pending or self._dropped or self._refused:
            stats = self.statistics()
            log.error(
                "state store: %d records not written (%d held back, %d dropped, %d refused): %s",
                stats.unwritten,
                stats.pending,
                stats.dropped,
                stats.refused,
                self._error or "no error recorded",
            )

    async def _write_pending(self) -> None:
        """Write held-back records in order, batch by batch, until none is left or the store
        fails in a way that may pass (then ``_failing`` is set and the backoff runs)."""
        while self._may_write():
            batch = list(itertools.islice(self._pending, self._batch))
            try:
                logged = await self._apply(batch)
            except (StoreUnavailable, StoreCorrupt) as exc:
                self._failed(exc)
                self._batch = max(1, self._batch // 2)
                self._retry = min(RETRY_MAX, self._retry * 2) if self._failing else RETRY_MIN
                self._failing = True
                self._retry_due = False
                self._notify_attempt()
            except StoreError as exc:
                if len(batch) > 1:
                    self._batch = max(1, len(batch) // 2)  # narrow down the record refused
                    continue
                self._pending.popleft()
                self._refused += 1
                self._write_errors += 1
                self._error, self._error_at = str(exc), time.time()
                log.error("state store refused a record: %r: %s", batch[0], exc)
                self._notify_attempt()
            else:
                for _ in batch:
                    self._pending.popleft()
                if self._failing:
                    held = len(self._pending)
                    log.info("state store: writing again (%d records still held back)", held)
                self._written += len(batch)
                self._batches += 1
                self._batch = min(BATCH_MAX, self._batch * 2)
                self._failing = self._retry_due = False
                self._retry = RETRY_MIN
                if logged and self.on_written is not None:
                    self.on_written(logged)
                self._notify_attempt()

    async def _apply(self, batch: list[StoreOp]) -> list[LoggedEvent]:
        """One transaction in the worker thread, timed for ``on_write``; the event log's rows
        it wrote."""
        started = trio.current_time()
        try:
            return await _in_thread(self.store.apply, batch)
        finally:
            if self.on_write is not None:
                self.on_write(trio.current_time() - started)

    def _failed(self, exc: StoreError) -> None:
        """Count a write that may succeed later; log it once per run of identical failures."""
        self._write_errors += 1
        message = str(exc)
        if message != self._error or not self._failing:
            held = len(self._pending)
            log.error("state store write failed (%d records held back): %s", held, exc)
        self._error = message
        self._error_at = time.time()

    def _notify_attempt(self) -> None:
        self._attempted.set()
        self._attempted = trio.Event()

    async def _answer_queries(self) -> None:
        while self._queries:
            query = self._queries[0]
            waiting = query.mark - (self._accepted - len(self._pending))
            if waiting > 0:
                if not self._failing:
                    return  # the records it needs get written first
                query.error = StoreUnavailable(
                    f"{self.store.path}: {len(self._pending)} records are held back, not yet"
                    f" written: {self._error}"
                )
            else:
                try:
                    query.result = await _in_thread(query.fn, self.store)
                except Exception as exc:  # noqa: BLE001 - handed to the one caller that asked
                    query.error = exc
            self._queries.popleft()
            query.done.set()


async def _in_thread(fn: Callable[[A], R], arg: A) -> R:
    """``fn(arg)`` in a worker thread. A thread that cannot be started (a pids limit counts
    threads; memory) is a store that is unavailable for now, not the daemon's end.

    Raises:
        StoreUnavailable: no worker thread could be started.
    """
    try:
        return await trio.to_thread.run_sync(fn, arg, abandon_on_cancel=False)
    except RuntimeError as exc:
        if "thread" not in str(exc):
            raise
        raise StoreUnavailable(f"cannot start a worker thread: {exc}") from exc
