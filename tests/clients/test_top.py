"""``svctl top`` (docs/top.md): its model on its own, and the app driven by Textual's headless
pilot against a real daemon, as a person would use it: rows on an 80x24 screen, a change made
by another client shown without any status polling, a stop that asks first, the selected
program's output followed live.

Textual runs on asyncio: the app test runs its own loop (``asyncio.run``) inside a plain test.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from textual.widgets.data_table import CellDoesNotExist

from supervisord_lite.protocol.messages import ProgramState, ProgramStatus, Progress, RunUsage
from svctl import AsyncClient, StateChanged
from svctl.top.app import TopApp
from svctl.top.dialogs import ConfirmStop, PickSignal
from svctl.top.model import Board, Lines, bar, cells, memory
from tests.daemon_harness import running, svctl

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from textual.pilot import Pilot

    from tests.daemon_harness import Daemon


# -- the model --------------------------------------------------------------------------------


def _status(name: str = "web", **fields: object) -> ProgramStatus:
    base: dict[str, object] = {
        "name": name,
        "state": ProgramState.RUNNING,
        "want": "up",
        "pid": 10,
        "started_at": 1000.0,
        "uptime": 5.0,
        "exit_code": None,
        "exit_signal": None,
        "ready": True,
    }
    return ProgramStatus(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, "-"), (512, "512B"), (2048, "2.0K"), (150 * 1024**2, "150M"), (3 * 1024**3, "3.0G")],
)
def test_memory_in_binary_units(size: int | None, shown: str) -> None:
    assert memory(size) == shown


def test_progress_bar_and_count() -> None:
    assert bar(Progress(done=3, total=12, phase="scan")) == "██░░░░░░  25%"
    assert bar(Progress(done=7, unit="files", message="m")) == "7 files"
    assert bar(None) == ""


def test_board_moves_rows_by_events_and_counts_cpu_between_reads() -> None:
    board = Board()
    usage = RunUsage(cpu_seconds=1.0, memory_bytes=4096, processes=1)
    board.load([_status(usage=usage), _status("db")], now=100.0)
    assert cells(board.rows["web"], now=102.0)["uptime"] == "7s"
    assert cells(board.rows["web"], now=102.0)["cpu"] == "-"  # one read is no rate yet
    board.update([_status(usage=RunUsage(cpu_seconds=1.5, memory_bytes=8192, processes=2))], 102.0)
    assert cells(board.rows["web"], now=102.0)["cpu"] == "25.0"
    assert cells(board.rows["web"], now=102.0)["memory"] == "8.0K"
    stopped = StateChanged(
        program="web",
        old=ProgramState.RUNNING,
        new=ProgramState.STOPPED,
        pid=None,
        exit_code=None,
        exit_signal="TERM",
        at=0.0,
    )
    assert board.apply(stopped, now=103.0)
    shown = cells(board.rows["web"], now=104.0)
    assert (shown["state"], shown["pid"], shown["uptime"], shown["cpu"]) == (
        "STOPPED",
        "-",
        "-",
        "-",
    )
    assert board.stale == {"web"}  # a read of web brings what the event does not carry
    assert not board.apply(msgspec_replace(stopped, program="new"), now=103.0)


def test_the_change_that_ends_a_run_leaves_the_row_without_a_pid() -> None:
    """The daemon's STOPPING -> STOPPED carries the pid of the run it ends (docs/events.md):
    the row must not go on showing it as if it were alive."""
    board = Board()
    board.load([_status(state=ProgramState.STOPPING)], now=100.0)
    ended = StateChanged(
        program="web",
        old=ProgramState.STOPPING,
        new=ProgramState.STOPPED,
        pid=10,
        exit_code=None,
        exit_signal="TERM",
        at=0.0,
    )
    assert board.apply(ended, now=101.0)
    shown = cells(board.rows["web"], now=101.0)
    assert (shown["state"], shown["pid"], shown["uptime"]) == ("STOPPED", "-", "-")


def msgspec_replace(event: StateChanged, **changes: object) -> StateChanged:
    import msgspec

    return msgspec.structs.replace(event, **changes)


def test_lines_are_split_across_chunks() -> None:
    lines = Lines()
    assert lines.feed("stdout", b"one\ntw") == ["one"]
    assert lines.feed("stderr", b"err\n") == ["err"]
    assert lines.feed("stdout", b"o\r\n") == ["two"]


# -- the app against a daemon -----------------------------------------------------------------

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0.2
stop_timeout = 5

[programs.talker]
command = ["sh", "-c", "echo hello from talker; exec sleep 3600"]
start_seconds = 0.2
stop_timeout = 5

[programs.worker]
command = ["sleep", "3600"]
start_seconds = 0.2
stop_timeout = 5
"""


async def _until(pilot: Pilot[int], ok: Callable[[], bool], what: str) -> None:
    """Let the app run until ``ok()``; AssertionError naming ``what`` after 30 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not ok():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def _cell(app: TopApp, name: str, column: str) -> str:
    table = app.programs_table
    try:
        return str(table.get_cell(name, column))
    except CellDoesNotExist:
        return ""


def _log_lines(app: TopApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.output_pane.lines]


async def _drive(daemon: Daemon) -> None:
    # No usage reads: whatever the table learns after the first read comes from events.
    app = TopApp(daemon.socket, usage_interval=None, timeout=20)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(
            pilot,
            lambda: all(_cell(app, n, "state") == "RUNNING" for n in ("web", "talker", "worker")),
            "every program shown RUNNING",
        )
        table = app.programs_table
        assert [key.value for key in table.rows] == ["web", "talker", "worker"]
        assert table.virtual_size.width <= 80
        await _until(pilot, lambda: app.selected == "web", "the first row selected")

        # Another client stops worker: the row changes, pushed by the daemon.
        async with AsyncClient(daemon.socket, timeout=20) as other:
            await other.stop("worker")
            await _until(pilot, lambda: _cell(app, "worker", "state") == "STOPPED", "STOPPED")
            assert _cell(app, "worker", "pid") == "-"

            # x asks first; n keeps web running, x then y stops it.
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmStop)
            await pilot.press("n")
            assert not isinstance(app.screen, ConfirmStop)
            [web] = await other.status("web")
            assert web.state is ProgramState.RUNNING
            await pilot.press("x", "y")
            await _until(pilot, lambda: _cell(app, "web", "state") == "STOPPED", "web STOPPED")
            [web] = await other.status("web")
            assert web.state is ProgramState.STOPPED

        # The selected program's output, then what its next run prints, live.
        await pilot.press("down")
        await _until(pilot, lambda: app.selected == "talker", "talker selected")
        said = "hello from talker"
        await _until(pilot, lambda: said in _log_lines(app), "talker's output")
        await pilot.press("r")
        await _until(pilot, lambda: _log_lines(app).count(said) == 2, "the restarted run's output")
        await _until(pilot, lambda: _cell(app, "talker", "restarts") == "1", "a restart counted")

        # k offers the signals; the first (HUP) goes to the selected program, in its history.
        await pilot.press("k")
        assert isinstance(app.screen, PickSignal)
        await pilot.press("enter")
        async with AsyncClient(daemon.socket, timeout=20) as other:
            signalled: list[str] = []

            async def look() -> None:
                signalled[:] = [e.kind for e in await other.history("talker", 50)]

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while "signalled" not in signalled:
                assert loop.time() < deadline, f"no signal in talker's history: {signalled}"
                await look()
                await pilot.pause(0.05)
        await pilot.press("q")


@pytest.mark.timeout(120)  # each step waits on the daemon; a loaded host makes them slow
def test_top_shows_programs_and_acts_on_them(tmp_path: Path) -> None:
    with running(tmp_path, PROGRAMS) as daemon:
        # Without a terminal there is nothing to draw on.
        piped = svctl(daemon, "top")
        assert (piped.returncode, piped.stderr) == (
            2,
            "svctl: top needs a terminal (try svctl status, or svctl events)\n",
        )
        asyncio.run(asyncio.wait_for(_drive(daemon), 90))
