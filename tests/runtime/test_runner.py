"""ProgramRunner in process: lifecycle events sent straight to a runner built on the daemon's
real services (store writer, timerfd deadlines, fd watcher), with real processes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import trio
import trio.testing

from supervisord_lite import lifecycle as lc
from supervisord_lite.runtime import process_groups as groups
from supervisord_lite.store import Store
from tests.supervisor_harness import supervising, wait_output

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.supervisor import Supervisor
    from supervisord_lite.store_records import HistoryEntry

QUIET = 'log = { stdout = "none", stderr = "none" }\n'


def program(name: str, command: str, extra: str = "") -> str:
    return f"[programs.{name}]\ncommand = {command}\nautostart = false\n{QUIET}{extra}"


async def reach(runner: ProgramRunner, *states: lc.State) -> lc.Snapshot:
    """Wait (bounded) until the runner enters one of ``states``; its snapshot then."""
    reached: list[lc.Snapshot] = []
    event = trio.Event()

    def watcher(entered: tuple[lc.State, ...], snap: lc.Snapshot) -> bool:
        if any(s in states for s in entered):
            reached.append(snap)
            event.set()
        return event.is_set()

    if runner.snapshot.state in states:
        return runner.snapshot
    runner.watch(watcher)
    try:
        with trio.fail_after(20):
            await event.wait()
    finally:
        runner.unwatch(watcher)
    return reached[0]


async def history(supervisor: Supervisor, name: str) -> list[HistoryEntry]:
    return await supervisor.store.query(lambda store: Store.history(store, name, 100))


async def test_start_runs_the_program_and_stop_ends_it(tmp_path: Path) -> None:
    config = program("web", '["sleep", "3600"]', "start_seconds = 0.05\n")
    async with supervising(tmp_path, config) as supervisor:
        runner = supervisor.runners["web"]
        runner.send(lc.WantUp())
        assert runner.snapshot.state is lc.State.STARTING  # stepped at once, spawn under way
        snap = await reach(runner, lc.State.RUNNING)
        assert snap.pid is not None
        assert groups.group_alive(snap.pid)
        status = runner.status()
        assert (status.state, status.pid, status.restarts) == (lc.State.RUNNING, snap.pid, 0)
        runner.send(lc.WantDown())
        stopped = await reach(runner, lc.State.STOPPED)
        assert stopped.last_exit == lc.ExitStatus(signal="TERM")
        assert not groups.group_alive(snap.pid)
        kinds = [(e.kind, e.outcome) for e in await history(supervisor, "web")]
        assert kinds == [("spawned", None), ("stopped", "stopped")]


async def test_one_status_reply_reads_the_clocks_once(tmp_path: Path) -> None:
    """Every row of one reply is of the same instant: its start time plus its uptime is the
    same wall-clock time for every running program."""
    config = "".join(program(n, '["sleep", "3600"]', "start_seconds = 0\n") for n in "abc")
    async with supervising(tmp_path, config) as supervisor:
        for runner in supervisor.runners.values():
            runner.send(lc.WantUp())
        for runner in supervisor.runners.values():
            await reach(runner, lc.State.RUNNING)
        rows = supervisor.status()
        instants = {row.started_at + row.uptime for row in rows if row.uptime is not None}
        assert len(rows) == 3
        assert len(instants) == 1, rows


async def test_exit_codes_and_signals_are_reported(tmp_path: Path) -> None:
    never = 'autorestart = "never"\nstart_seconds = 0\n'
    config = program("three", '["sh", "-c", "exit 3"]', never) + program(
        "segv", '["sh", "-c", "kill -SEGV $$"]', never
    )
    async with supervising(tmp_path, config) as supervisor:
        three, segv = supervisor.runners["three"], supervisor.runners["segv"]
        three.send(lc.WantUp())
        segv.send(lc.WantUp())
        assert (await reach(three, lc.State.EXITED)).last_exit == lc.ExitStatus(code=3)
        assert (await reach(segv, lc.State.EXITED)).last_exit == lc.ExitStatus(signal="SEGV")
        ended = [e for e in await history(supervisor, "three") if e.outcome is not None]
        assert [(e.exit_code, e.outcome) for e in ended] == [(3, "failed")]


async def test_stop_escalates_from_term_to_kill(tmp_path: Path) -> None:
    config = program(
        "stubborn",
        '["sh", "-c", "trap \'\' TERM; echo trapped; sleep 3600 & wait"]',
        "start_seconds = 0\nstop_timeout = 0.3\nkill_timeout = 5\n",
    ).replace(QUIET, 'log = { stderr = "none" }\n')
    async with supervising(tmp_path, config) as supervisor:
        runner = supervisor.runners["stubborn"]
        with supervisor.log_fanout.follow(["stubborn"]) as follower:
            runner.send(lc.WantUp())
            await wait_output(follower, b"trapped")
        running = runner.snapshot
        assert running.state is lc.State.RUNNING
        assert running.pgid is not None
        runner.send(lc.WantDown())
        assert runner.snapshot.stop_phase is lc.StopPhase.SIGNALLED
        stopped = await reach(runner, lc.State.STOPPED)
        assert stopped.last_exit == lc.ExitStatus(signal="KILL")
        assert not groups.group_alive(running.pgid)
        ended = [e for e in await history(supervisor, "stubborn") if e.outcome is not None]
        assert [(e.kind, e.outcome, e.exit_signal) for e in ended] == [("killed", "killed", "KILL")]


async def test_restart_replaces_the_process(tmp_path: Path) -> None:
    config = program("web", '["sleep", "3600"]', "start_seconds = 0\n")
    async with supervising(tmp_path, config) as supervisor:
        runner = supervisor.runners["web"]
        runner.send(lc.WantUp())
        first = (await reach(runner, lc.State.RUNNING)).pid
        runner.send(lc.Restart())
        assert runner.snapshot.state is lc.State.STOPPING
        second = (await reach(runner, lc.State.RUNNING)).pid
        assert first is not None
        assert second not in (None, first)
        assert runner.status().restarts == 1
        kinds = [e.kind for e in await history(supervisor, "web")]
        assert kinds == ["spawned", "stopped", "restarted", "spawned"]


async def test_failed_starts_back_off_then_fatal(tmp_path: Path) -> None:
    config = program(
        "flaky",
        '["sh", "-c", "exit 1"]',
        "start_seconds = 1\nstart_retries = 2\nbackoff = { initial = 0.05, floor = 0 }\n",
    )
    async with supervising(tmp_path, config) as supervisor:
        runner = supervisor.runners["flaky"]
        runner.send(lc.WantUp())
        fatal = await reach(runner, lc.State.FATAL)
        assert fatal.message == "exited too quickly (2 retries)"
        assert runner.spawns == 3
        assert (await history(supervisor, "flaky"))[-1].kind == "fatal"


async def test_a_spawn_failure_is_a_failed_start(tmp_path: Path) -> None:
    config = program("missing", '["/nonexistent/program"]', "start_retries = 0\n")
    async with supervising(tmp_path, config) as supervisor:
        runner = supervisor.runners["missing"]
        runner.send(lc.WantUp())
        fatal = await reach(runner, lc.State.FATAL)
        assert fatal.message.startswith("could not spawn")
        assert runner.spawns == 0


async def test_an_idle_program_costs_no_task(tmp_path: Path) -> None:
    """Twenty running programs, nothing happening: the shared nursery holds only the one
    task that watches every pipe and pidfd."""
    config = "".join(
        program(f"p{i}", '["sleep", "3600"]', "start_seconds = 0\nautostart = true\n")
        .replace("autostart = false\n", "")
        .replace(QUIET, 'log = { stdout = "none" }\n')
        for i in range(20)
    )
    async with supervising(tmp_path, config) as supervisor:
        for runner in supervisor.runners.values():
            await reach(runner, lc.State.RUNNING)
        await trio.testing.wait_all_tasks_blocked()
        tasks = supervisor.services.nursery.child_tasks
        assert [t.name for t in tasks] == ["readiness"]
        assert all(runner.snapshot.pid for runner in supervisor.runners.values())


async def test_a_deadline_event_before_its_time_is_stale(tmp_path: Path) -> None:
    config = program("web", '["sleep", "3600"]', "start_seconds = 30\n")
    async with supervising(tmp_path, config) as supervisor:
        runner = supervisor.runners["web"]
        runner.send(lc.WantUp())
        await runner.wait_spawned()
        starting = runner.snapshot
        assert starting.state is lc.State.STARTING
        runner.send(lc.DeadlineReached())
        assert runner.snapshot is starting
        assert starting.pid is not None
        os.kill(starting.pid, 0)
