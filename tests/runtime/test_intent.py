"""The operator's intent (runtime/intent.py): a stop or start by the operator outlives a reload
that restarts the program and a daemon restart, a crash (kill -9) included; ``autostart``
decides only for a program the operator never touched."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from supervisord_lite.protocol.messages import ProgramState, Want
from svctl import Client
from tests.daemon_harness import start_daemon, stop_daemon, svctl, write_config
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0

[programs.batch]
command = ["sleep", "3600"]
start_seconds = 0
autostart = false

[programs.idle]
command = ["sleep", "3600"]
start_seconds = 0
"""


async def test_a_reload_that_restarts_a_stopped_program_keeps_it_stopped(tmp_path: Path) -> None:
    async with supervising(tmp_path, PROGRAMS) as supervisor:
        (result,) = await supervisor.stop(["web"])
        assert result.ok, result.message
        await supervisor.restart(["idle"])
        restarts = supervisor.runners["idle"].status().restarts
        edited = PROGRAMS.replace('["sleep", "3600"]', '["sleep", "3601"]')
        write_config(tmp_path, edited)

        plan = await supervisor.reload()

        assert {p.name: p.restart for p in plan.programs} == {
            "web": True,
            "batch": True,
            "idle": True,
        }
        web, batch, _idle = supervisor.status(["web", "batch", "idle"])
        assert web.state is ProgramState.STOPPED
        assert web.intent is not None
        assert web.intent.want is Want.DOWN
        assert batch.state is ProgramState.STOPPED
        assert batch.intent is None
        await supervisor.wait_state(["idle"], ProgramState.RUNNING)
        # The restart by the reload counts on from the runs before it.
        assert supervisor.runners["idle"].status().restarts == restarts + 1


async def test_intent_outlives_the_daemon(tmp_path: Path) -> None:
    async with supervising(tmp_path, PROGRAMS) as supervisor:
        await supervisor.stop(["web"])
        await supervisor.start(["batch"])
    async with supervising(tmp_path, PROGRAMS) as supervisor:
        # Started on boot: by the operator's word (batch, autostart = false) and by autostart.
        await supervisor.wait_state(["batch", "idle"], ProgramState.RUNNING)
        web, batch, idle = supervisor.status(["web", "batch", "idle"])
        assert web.state is ProgramState.STOPPED
        assert web.intent is not None
        assert web.intent.want is Want.DOWN
        assert batch.intent is not None
        assert batch.intent.want is Want.UP
        assert idle.intent is None


async def test_a_removed_program_forgets_its_intent(tmp_path: Path) -> None:
    async with supervising(tmp_path, PROGRAMS) as supervisor:
        await supervisor.stop(["web"])
        write_config(tmp_path, PROGRAMS.replace("[programs.web]", "[programs.www]"))
        await supervisor.reload()  # web removed, www added: a rename is both
        write_config(tmp_path, PROGRAMS)
        await supervisor.reload()
        (web,) = supervisor.status(["web"])
        assert web.intent is None
        assert web.want is Want.UP  # added again: autostart decides


def test_an_operator_stop_survives_kill_9_of_the_daemon(tmp_path: Path) -> None:
    config = write_config(tmp_path, PROGRAMS)
    first = start_daemon(config)
    try:
        with Client(first.socket, timeout=30) as client:
            client.wait("web", state="RUNNING", timeout=20)
            client.stop("web")
            client.history(limit=1)  # every record before it is on disk
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        stop_daemon(first, grace=0)
    second = start_daemon(config)
    try:
        with Client(second.socket, timeout=30) as client:
            client.wait("idle", state="RUNNING", timeout=20)
            (web,) = client.status("web")
        assert web.state is ProgramState.STOPPED, second.log()
        shown = svctl(second, "status", "web")
        assert "stopped by operator at" in shown.stdout, shown
        as_json = svctl(second, "status", "web", "--json")
        assert '"intent":{"want":"down"' in as_json.stdout, as_json
    finally:
        stop_daemon(second)
