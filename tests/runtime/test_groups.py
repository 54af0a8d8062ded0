"""``GROUP:`` in start, stop, restart, signal and status acts on every member of the group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.handlers import Handlers
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0
autostart = false
groups = ["front"]

[programs.api]
command = ["sleep", "3600"]
start_seconds = 0
autostart = false
groups = ["front"]

[programs.worker]
command = ["sleep", "3600"]
start_seconds = 0
autostart = false
"""


async def test_a_group_is_started_and_stopped_together(tmp_path: Path) -> None:
    async with supervising(tmp_path, PROGRAMS) as supervisor:
        handlers = Handlers(supervisor, lambda: None)
        replies: list[m.ServerMessage] = []

        async def send(reply: m.ServerMessage) -> None:
            replies.append(reply)

        await handlers.handle(m.Start(id=1, names=("front:",)), send)
        await handlers.handle(m.Status(id=2, names=("front:",)), send)
        await handlers.handle(m.Signal(id=3, names=("front:",), signal="CONT"), send)
        await handlers.handle(m.Stop(id=4, names=("front:",)), send)
        await handlers.handle(m.Start(id=5, names=("back:",)), send)
        started, status, signalled, stopped, unknown = replies
        assert isinstance(started, m.ActionReply)
        assert [(r.name, r.ok, r.state) for r in started.results] == [
            ("web", True, m.ProgramState.RUNNING),
            ("api", True, m.ProgramState.RUNNING),
        ]
        assert isinstance(status, m.StatusReply)
        assert [p.name for p in status.programs] == ["web", "api"]
        assert isinstance(signalled, m.ActionReply)
        assert all(r.ok for r in signalled.results)
        assert isinstance(stopped, m.ActionReply)
        assert [r.state for r in stopped.results] == [m.ProgramState.STOPPED] * 2
        assert isinstance(unknown, m.Error)
        assert unknown.code is m.ErrorCode.NO_SUCH_PROGRAM
        assert unknown.message == "no group named 'back' (groups: front)"
        assert supervisor.runners["worker"].snapshot.state is m.ProgramState.STOPPED
