"""The Supervisor in process: requests and their verdicts, boot order, waits and reloads, with
real processes and the daemon's real services, and no daemon subprocess or socket."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from supervisord_lite.errors import NoSuchProgram
from supervisord_lite.protocol.messages import ActionResult, ProgramState
from tests.daemon_harness import write_config
from tests.supervisor_harness import supervising, wait_output

if TYPE_CHECKING:
    from pathlib import Path

STOPPED, RUNNING, FATAL = ProgramState.STOPPED, ProgramState.RUNNING, ProgramState.FATAL
EXITED, STARTING = ProgramState.EXITED, ProgramState.STARTING

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0.05
log = { stdout = "none", stderr = "none" }

[programs.stubborn]
command = ["sh", "-c", "trap '' TERM; echo trapped; sleep 3600 & wait"]
autostart = false
start_seconds = 0
stop_timeout = 0.2
log = { stderr = "none" }

[programs.flaky]
command = ["sh", "-c", "exit 1"]
autostart = false
start_retries = 1
backoff = { initial = 0.05, floor = 0 }
log = { stdout = "none", stderr = "none" }

[programs.once]
command = ["true"]
autostart = false
autorestart = "never"
start_seconds = 0
log = { stdout = "none", stderr = "none" }

[programs.three]
command = ["sh", "-c", "exit 3"]
autostart = false
autorestart = "never"
start_seconds = 0
log = { stdout = "none", stderr = "none" }
"""


def result(name: str, ok: bool, state: ProgramState, message: str) -> ActionResult:
    return ActionResult(name=name, ok=ok, state=state, message=message)


async def test_boot_starts_the_autostart_programs_only(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, PROGRAMS) as supervisor:
            states = {s.name: s.state for s in supervisor.status()}
            assert states["web"] in (STARTING, RUNNING)  # spawned before boot returned
            assert supervisor.runners["web"].snapshot.pid is not None
            assert {states[n] for n in ("stubborn", "flaky", "once", "three")} == {STOPPED}


async def test_request_verdicts(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, PROGRAMS) as supervisor:
            assert await supervisor.start(["web"]) == (result("web", True, RUNNING, "running"),)
            assert await supervisor.start(["web"]) == (
                result("web", True, RUNNING, "already running"),
            )
            pid = supervisor.runners["web"].snapshot.pid
            assert await supervisor.restart(["web"]) == (result("web", True, RUNNING, "running"),)
            assert supervisor.runners["web"].snapshot.pid not in (None, pid)
            assert await supervisor.stop(["web"]) == (result("web", True, STOPPED, "stopped"),)
            assert await supervisor.stop(["web"]) == (
                result("web", True, STOPPED, "already stopped"),
            )
            assert await supervisor.start(["flaky"]) == (
                result("flaky", False, FATAL, "exited too quickly (1 retries)"),
            )
            assert await supervisor.start(["once"]) == (result("once", True, RUNNING, "running"),)
            await supervisor.wait_state(["once"], EXITED)
            assert await supervisor.start(["three"]) == (result("three", True, RUNNING, "running"),)
            await supervisor.wait_state(["three"], EXITED)
            assert supervisor.runners["three"].status().exit_code == 3


async def test_stop_needing_sigkill_still_succeeds(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, PROGRAMS) as supervisor:
            with supervisor.log_fanout.follow(["stubborn"]) as follower:
                await supervisor.start(["stubborn"])
                await wait_output(follower, b"trapped")
            (stopped,) = await supervisor.stop(["stubborn"])
            assert stopped == result("stubborn", True, STOPPED, "stopped")
            status = supervisor.runners["stubborn"].status()
            assert (status.exit_signal, status.message) == (
                "KILL",
                "needed SIGKILL: group alive 0.2 s after SIGTERM",
            )


async def test_requests_without_waiting_answer_at_once(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, PROGRAMS, boot=False) as supervisor:
            assert await supervisor.start(["web"], wait=False) == (
                result("web", True, STARTING, "starting"),
            )
            await supervisor.wait_state(["web"], RUNNING)
            assert await supervisor.stop(["web"], wait=False) == (
                result("web", True, ProgramState.STOPPING, "stopping"),
            )
            await supervisor.wait_state(["web"], STOPPED)


async def test_a_start_overtaken_by_a_stop_says_so(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, PROGRAMS, boot=False) as supervisor:
            results: dict[str, tuple[ActionResult, ...]] = {}

            async def start() -> None:
                results["start"] = await supervisor.start(["web"])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(start)
                await trio.testing.wait_all_tasks_blocked()  # the spawn is under way
                results["stop"] = await supervisor.stop(["web"])
            assert results == {
                "start": (result("web", False, STOPPED, "stopped before it was running"),),
                "stop": (result("web", True, STOPPED, "stopped"),),
            }


async def test_unknown_names_are_refused(tmp_path: Path) -> None:
    async with supervising(tmp_path, PROGRAMS, boot=False) as supervisor:
        with pytest.raises(NoSuchProgram):
            await supervisor.start(["wbe"])


async def test_reload_applies_the_difference(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, PROGRAMS) as supervisor:
            old_pid = supervisor.runners["web"].snapshot.pid
            changed = PROGRAMS.replace('["sleep", "3600"]', '["sleep", "3601"]', 1)
            changed = changed.split("[programs.flaky]")[0] + (
                '[programs.extra]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
            )
            write_config(tmp_path, changed)
            change = await supervisor.reload()
            assert (change.names("added"), change.names("changed")) == (("extra",), ("web",))
            assert set(change.names("removed")) == {"flaky", "once", "three"}
            assert set(supervisor.runners) == {"web", "stubborn", "extra"}
            await supervisor.wait_state(["web", "extra"], RUNNING)
            assert supervisor.runners["web"].snapshot.pid != old_pid
