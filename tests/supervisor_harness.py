"""A real ``Supervisor`` inside the test's own trio run: real processes, a real SQLite store, the
daemon's own services (store writer, timerfd deadlines, fd watcher, reaper), and no daemon
subprocess or socket in between.

Teardown stops every program the way a shutdown does (bounded), then SIGKILLs every process that
still carries one of this store's run markers in its environment (``SUPERVISORD_LITE_RUN``), so
a test leaves nothing running whatever happened, and nothing is ever killed by name.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import trio

from supervisord_lite.config import load_path
from supervisord_lite.runtime.containment import RUN_MARKER, Containment, store_id
from supervisord_lite.runtime.deadlines import Deadlines
from supervisord_lite.runtime.eventlog import EventLog
from supervisord_lite.runtime.logs.fanout import LogPiece
from supervisord_lite.runtime.reaper import Reaper
from supervisord_lite.runtime.storewriter import StoreWriter
from supervisord_lite.runtime.supervisor import Supervisor
from supervisord_lite.store import Store
from tests.daemon_harness import kill_all, pids_with_env, write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from supervisord_lite.runtime.logs.fanout import LogFollower

#: How long teardown lets the programs stop before it SIGKILLs what is left.
STOP_GRACE = 15.0


def marked_pids(marker_prefix: str) -> list[int]:
    """Every live process whose run marker starts with ``marker_prefix``."""
    return pids_with_env(f"{RUN_MARKER}={marker_prefix}")


def kill_marked(marker_prefix: str, *, within: float = 10.0) -> None:
    """SIGKILL every process carrying the marker until none is left."""
    kill_all(lambda: marked_pids(marker_prefix), within=within)


async def wait_output(follower: LogFollower, text: bytes) -> None:
    """Wait (bounded) until the followed output has contained ``text`` (a program that says it
    trapped its signals, say)."""
    seen = b""
    with trio.fail_after(20):
        while text not in seen:
            seen += b"".join(p.data for p in await follower.receive() if isinstance(p, LogPiece))


async def _until_cancelled(scope: trio.CancelScope, run: Callable[[], Awaitable[None]]) -> None:
    with scope:
        await run()


@contextlib.asynccontextmanager
async def supervising(
    folder: Path, programs: str, *, boot: bool = True, daemon_extra: str = ""
) -> AsyncIterator[Supervisor]:
    """A Supervisor over ``programs`` (TOML ``[programs.*]`` tables) in ``folder``; ``boot``
    starts the autostart programs first."""
    config = load_path(str(write_config(folder, programs, daemon_extra)))
    store = Store.open(
        config.daemon.state_db,
        keep_runs=config.daemon.history_runs,
        keep_events=config.daemon.event_log_max,
        keep_event_seconds=config.daemon.event_log_max_age,
    )
    sid = store_id(config.daemon.state_db)
    containment = Containment(Reaper(), None, sid)
    writer = StoreWriter(store)
    deadlines = Deadlines()
    events = EventLog(writer, newest=store.event_bounds()[1])
    reaping, timing = trio.CancelScope(), trio.CancelScope()
    try:
        async with trio.open_nursery() as services:
            # The writer is closed, not cancelled: it writes what it holds, then returns.
            services.start_soon(writer.run)
            services.start_soon(_until_cancelled, reaping, containment.reaper.run)
            services.start_soon(_until_cancelled, timing, deadlines.run)
            async with trio.open_nursery() as nursery:
                supervisor = Supervisor(
                    config,
                    store=writer,
                    events=events,
                    containment=containment,
                    nursery=nursery,
                    deadlines=deadlines,
                )
                try:
                    if boot:
                        await supervisor.boot()
                    yield supervisor
                finally:
                    with trio.CancelScope(shield=True):
                        with trio.move_on_after(STOP_GRACE) as stopping:
                            await supervisor.stop_all()
                        if stopping.cancelled_caught:
                            await supervisor.kill_survivors()
                        with trio.move_on_after(STOP_GRACE):
                            await supervisor.wait_retired()
                    supervisor.log_fanout.close()
                    events.close()
                    nursery.cancel_scope.cancel()
            writer.close()
            reaping.cancel()
            timing.cancel()
    finally:
        kill_marked(f"{sid}:")
        store.close()
