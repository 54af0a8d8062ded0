"""Overlapping scheduled runs (runtime/overlapping.py): a due run beside one still going runs as
an extra run ``NAME:i`` with its own pid and history, forgotten when it ends; ``overlap_max``
bounds them (a due run beyond it is skipped and recorded); a stop, a reload that removes the
program and the daemon's shutdown stop every run."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import trio
import trio.testing

from supervisord_lite.protocol.messages import ProgramState, StateChanged
from supervisord_lite.store import Store
from tests.daemon_harness import write_config
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from trio.abc import ReceiveChannel

    from supervisord_lite.runtime.eventlog import Event
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor
    from supervisord_lite.vocabulary import HistoryEntry

OVERLAPPING = """\
[programs.long]
command = ["sleep", "3600"]
every = "1s"
start_seconds = 0
autorestart = "never"
overlap = true
overlap_max = 2
"""

OTHER = """\
[programs.other]
command = ["sleep", "3600"]
autostart = false
"""


async def running(receive: ReceiveChannel[Event], names: set[str]) -> None:
    """Wait until each of ``names`` became RUNNING (events pushed, from the subscription on)."""
    async for event in receive:
        if isinstance(event, StateChanged) and event.new is ProgramState.RUNNING:
            names.discard(event.program)
            if not names:
                return


async def history(supervisor: Supervisor, name: str) -> list[HistoryEntry]:
    return await supervisor.store.query(
        lambda store: Store.history(store, name, 50, instances=True)
    )


async def forgotten(supervisor: Supervisor, extra: ProgramRunner) -> None:
    """Wait until the ended extra run ``extra`` is forgotten (its logs drained, then gone)."""
    await extra.finished.wait()
    await trio.testing.wait_all_tasks_blocked()
    assert supervisor.runners.get(extra.name) is not extra


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_due_run_goes_beside_the_one_still_going_up_to_the_bound(tmp_path: Path) -> None:
    async with supervising(tmp_path, OVERLAPPING, boot=False) as supervisor:
        with supervisor.events.subscribe() as sub, trio.fail_after(40):
            await supervisor.boot()
            await running(sub.receive, {"long", "long:1"})
            main, extra = supervisor.status(["long"])
            assert (main.name, extra.name) == ("long", "long:1")
            assert main.pid is not None
            assert extra.pid is not None
            assert main.pid != extra.pid
            assert not gone(main.pid)
            assert not gone(extra.pid)

            # Two runs go: the next due run is skipped, and the history says why.
            while not any(e.kind == "schedule_skipped" for e in await history(supervisor, "long")):
                await supervisor.store.wait_attempt()
            rows = await history(supervisor, "long")
            skipped = next(e for e in rows if e.kind == "schedule_skipped")
            assert (skipped.program, skipped.pid) == ("long", main.pid)
            assert "2 runs still go (overlap_max = 2)" in skipped.reason
            assert sorted(e.program for e in rows if e.kind == "spawned") == ["long", "long:1"]

            # The extra run ends on its own: it is forgotten; its history stays.
            runner = supervisor.runners["long:1"]
            os.kill(extra.pid, signal.SIGTERM)
            await forgotten(supervisor, runner)
            assert supervisor.runners["long"].snapshot.pid == main.pid  # still going
            ended = [e for e in await history(supervisor, "long") if e.program == "long:1"]
            assert sorted((e.kind, e.pid) for e in ended) == [
                ("failed", extra.pid),
                ("spawned", extra.pid),
            ]

            # The next due run goes beside the first again; a stop stops both.
            await running(sub.receive, {"long:1"})
            again = supervisor.runners["long:1"]
            pids = [r.pid for r in supervisor.status(["long"])]
            results = await supervisor.stop(["long"])
        assert sorted((r.name, r.ok) for r in results) == [("long", True), ("long:1", True)]
        assert all(pid is not None and gone(pid) for pid in pids)
        await forgotten(supervisor, again)
        (stopped,) = supervisor.status(["long"])
        assert stopped.state is ProgramState.STOPPED
        assert stopped.next_run is None  # paused by the operator


async def test_a_reload_that_restarts_or_removes_the_program_stops_every_run(
    tmp_path: Path,
) -> None:
    async with supervising(tmp_path, OVERLAPPING, boot=False) as supervisor:
        with supervisor.events.subscribe() as sub, trio.fail_after(40):
            await supervisor.boot()
            await running(sub.receive, {"long", "long:1"})
            pids = [r.pid for r in supervisor.status(["long"])]
            extra = supervisor.runners["long:1"]
            write_config(tmp_path, OVERLAPPING.replace('"3600"', '"3601"'))
            (changed,) = (await supervisor.reload()).programs
            assert changed.restart
            assert all(pid is not None and gone(pid) for pid in pids)
            await forgotten(supervisor, extra)

            await running(sub.receive, {"long", "long:1"})  # the schedule goes on
            pids = [r.pid for r in supervisor.status(["long"])]
            write_config(tmp_path, OTHER)
            await supervisor.reload()
        assert all(pid is not None and gone(pid) for pid in pids)
        assert sorted(supervisor.runners) == ["other"]


async def test_the_shutdown_stops_the_extra_runs(tmp_path: Path) -> None:
    async with supervising(tmp_path, OVERLAPPING, boot=False) as supervisor:
        with supervisor.events.subscribe() as sub, trio.fail_after(40):
            await supervisor.boot()
            await running(sub.receive, {"long", "long:1"})
            pids = [r.pid for r in supervisor.status(["long"])]
            await supervisor.stop_all()
        assert all(pid is not None and gone(pid) for pid in pids)
        assert all(r.snapshot.state is ProgramState.STOPPED for r in supervisor.runners.values())
