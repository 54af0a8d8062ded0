"""The daemon's own end in process: a critical program ending, and every program exited under
``exit_when = "all-exited"``, with real processes (daemon_exit.py decides, the Supervisor hears
every program's steps)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.daemon_exit import EXIT_PROGRAMS_FAILED, Ending
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite.runtime.supervisor import Supervisor

QUIET = 'log = { stdout = "none", stderr = "none" }\n'
SERVER = '[programs.server]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n' + QUIET


async def ending_of(supervisor: Supervisor) -> Ending:
    """The daemon's end, once the exit rules decided it (bounded)."""
    if supervisor.ending is None:
        ended = trio.Event()
        supervisor.on_ending = ended.set
        with trio.fail_after(20):
            await ended.wait()
    assert supervisor.ending is not None
    return supervisor.ending


@pytest.mark.parametrize(
    ("command", "status", "reason"),
    [
        ('["sh", "-c", "exit 3"]', 3, "critical program main exited (exit 3)"),
        ('["sh", "-c", "kill -USR1 $$"]', 128 + 10, "critical program main exited (signal USR1)"),
    ],
)
async def test_a_critical_program_that_ends_ends_the_daemon_with_its_status(
    tmp_path: Path, command: str, status: int, reason: str
) -> None:
    programs = (
        SERVER
        + f'[programs.main]\ncommand = {command}\nautorestart = "never"\ncritical = true\n'
        + "start_seconds = 0\n"
        + QUIET
    )
    async with supervising(tmp_path, programs) as supervisor:
        assert await ending_of(supervisor) == Ending(status=status, reason=reason)


async def test_a_critical_program_gone_fatal_gives_its_last_failure(tmp_path: Path) -> None:
    programs = (
        '[programs.main]\ncommand = ["sh", "-c", "exit 9"]\ncritical = true\nstart_retries = 0\n'
        + QUIET
    )
    async with supervising(tmp_path, programs) as supervisor:
        ending = await ending_of(supervisor)
    assert ending.status == 9
    assert ending.reason == "critical program main is FATAL (exit 9)"


async def test_a_critical_program_restarted_by_autorestart_does_not_end_it(
    tmp_path: Path,
) -> None:
    programs = (
        '[programs.main]\ncommand = ["sh", "-c", "exit 3"]\ncritical = true\nstart_seconds = 0\n'
        "start_limit = { burst = 1 }\nbackoff = { floor = 0, initial = 0.01 }\n" + QUIET
    )
    async with supervising(tmp_path, programs) as supervisor:
        ending = await ending_of(supervisor)
        # Restarted once after the crash, then FATAL by the start limit: only then.
        assert supervisor.runners["main"].spawns == 2
    assert ending.status == 3


async def test_stopping_a_critical_program_does_not_end_the_daemon(tmp_path: Path) -> None:
    programs = SERVER.replace("[programs.server]", "[programs.main]") + "critical = true\n"
    async with supervising(tmp_path, programs) as supervisor:
        (stopped,) = await supervisor.stop(["main"])
        assert stopped.ok
        assert supervisor.ending is None


@pytest.mark.parametrize(("second", "status"), [("true", 0), ("false", EXIT_PROGRAMS_FAILED)])
async def test_all_exited_ends_the_daemon_once_every_program_has_exited(
    tmp_path: Path, second: str, status: int
) -> None:
    programs = (
        '[programs.first]\ncommand = ["true"]\nautorestart = "never"\nstart_seconds = 0\n'
        + QUIET
        + f'[programs.second]\ncommand = ["sh", "-c", "sleep 0.2; {second}"]\n'
        'autorestart = "never"\nstart_seconds = 0\n'
        + QUIET
        + '[programs.manual]\ncommand = ["false"]\nautostart = false\n'
        + QUIET
    )
    async with supervising(
        tmp_path, programs, daemon_extra='exit_when = "all-exited"\n'
    ) as supervisor:
        ending = await ending_of(supervisor)
        assert supervisor.runners["first"].snapshot.last_exit is not None
        assert supervisor.runners["second"].snapshot.last_exit is not None
    assert ending.status == status
    assert ending.reason.startswith("every program has exited")
    assert ("second" in ending.reason) is (status != 0)


async def test_all_exited_waits_for_a_program_held_by_its_dependency(tmp_path: Path) -> None:
    programs = (
        '[programs.migrate]\ncommand = ["sh", "-c", "sleep 0.2"]\nautorestart = "never"\n'
        "start_seconds = 0\n"
        + QUIET
        + '[programs.report]\ncommand = ["true"]\nautorestart = "never"\nstart_seconds = 0\n'
        'depends_on = { migrate = "completed_successfully" }\n' + QUIET
    )
    async with supervising(
        tmp_path, programs, daemon_extra='exit_when = "all-exited"\n'
    ) as supervisor:
        ending = await ending_of(supervisor)
        assert supervisor.runners["report"].spawns == 1
    assert ending.status == 0
