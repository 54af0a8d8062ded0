"""Scheduled programs (runtime/scheduler.py): run when due, never two at once, paused by an
operator's stop, a missed run caught up after the daemon was down; status shows the next run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import trio
import trio.testing

from supervisord_lite.config import load_path
from supervisord_lite.protocol.messages import ProgramState
from supervisord_lite.store import Store
from supervisord_lite.store_records import ScheduleFired
from tests.daemon_harness import write_config
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite.runtime.supervisor import Supervisor

TICK = """\
[programs.tick]
command = ["sh", "-c", "echo run >> runs.txt"]
every = "1s"
start_seconds = 0
autorestart = "never"
"""

LONG = """\
[programs.long]
command = ["sleep", "3600"]
every = "1s"
start_seconds = 0
"""

HOURLY = """\
[programs.hourly]
command = ["sh", "-c", "echo run >> runs.txt"]
every = "1h"
catch_up = "one"
start_seconds = 0
autorestart = "never"
"""


async def history_kinds(supervisor: Supervisor, name: str) -> list[str]:
    rows = await supervisor.store.query(lambda store: Store.history(store, name, 50))
    return [row.kind for row in rows]


async def runs_ended(supervisor: Supervisor, name: str, count: int) -> None:
    """Wait for ``count`` runs of ``name`` to end (the program's events, pushed)."""
    with supervisor.events.subscribe() as sub, trio.fail_after(20):
        if count == 0:
            return
        async for event in sub.receive:
            if event.program == name and event.new is ProgramState.EXITED:
                count -= 1
                if not count:
                    return


async def test_a_scheduled_program_runs_each_time_it_is_due(tmp_path: Path) -> None:
    async with supervising(tmp_path, TICK) as supervisor:
        (tick,) = supervisor.status(["tick"])
        assert tick.state is ProgramState.STOPPED  # not started at boot: the schedule starts it
        assert tick.next_run is not None
        assert tick.next_run > time.time() - 1
        await runs_ended(supervisor, "tick", 2)
        assert len((tmp_path / "runs.txt").read_text().split()) >= 2


async def test_a_run_still_going_makes_the_next_one_skip(tmp_path: Path) -> None:
    async with supervising(tmp_path, LONG) as supervisor:
        with trio.fail_after(20):
            while "schedule_skipped" not in await history_kinds(supervisor, "long"):
                await supervisor.store.wait_attempt()  # the next write, whatever it holds
        assert (await history_kinds(supervisor, "long")).count("spawned") == 1
        assert list(supervisor.runners) == ["long"]  # no run beside it without overlap
        await supervisor.stop(["long"])
        (long,) = supervisor.status(["long"])
        assert long.next_run is None  # paused by the operator


async def test_a_missed_run_is_caught_up_once(tmp_path: Path) -> None:
    config = load_path(str(write_config(tmp_path, HOURLY)))
    with Store.open(config.daemon.state_db) as store:
        store.apply([ScheduleFired(program="hourly", at=time.time() - 3 * 3600 - 60)])
    async with supervising(tmp_path, HOURLY, boot=False) as supervisor:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runs_ended, supervisor, "hourly", 1)
            await trio.testing.wait_all_tasks_blocked()
            await supervisor.boot()
        runs = tmp_path / "runs.txt"
        (hourly,) = supervisor.status(["hourly"])
        assert hourly.next_run is not None
        assert time.time() < hourly.next_run < time.time() + 3600
    assert runs.read_text().split() == ["run"]
