"""A crash loop ends (docs/config.md, ``start_limit`` and ``backoff.reset_after``).

A program that reaches RUNNING and then dies, again and again, is restarted with a growing
backoff and, at the start limit, left FATAL with a message that says so, instead of being
restarted every second forever. Real processes, an in-process supervisor and a real daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from supervisord_lite.protocol.messages import ProgramState
from supervisord_lite.store import Store
from svctl import Client
from tests.daemon_harness import running
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

# Up for start_seconds (RUNNING), then dead: a crash after a successful start, every time.
CRASHER = """\
[programs.crasher]
command = ["sh", "-c", "sleep 0.2; exit 1"]
start_seconds = 0.05
backoff = { initial = 0.05, factor = 1.0, max = 0.05, floor = 0 }
start_limit = { burst = 3, interval = 60 }
log = { stdout = "none", stderr = "none" }
"""

LIMIT = "start limit reached: 4 failures within 60 s (start_limit.burst = 3)"


async def test_a_crash_loop_ends_fatal_at_the_start_limit(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with supervising(tmp_path, CRASHER, boot=False) as supervisor:
            (started,) = await supervisor.start(["crasher"])
            assert (started.ok, started.state) == (True, ProgramState.RUNNING)
            await supervisor.wait_state(["crasher"], ProgramState.FATAL)
            runner = supervisor.runners["crasher"]
            status = runner.status()
            assert (status.state, status.message, status.exit_code) == (
                ProgramState.FATAL,
                LIMIT,
                1,
            )
            assert runner.spawns == 4  # the first run and the three restarts the limit allows
            entries = await supervisor.store.query(lambda s: Store.history(s, "crasher", 100))
            assert [e.kind for e in entries].count("spawned") == 4
            assert (entries[-1].kind, entries[-1].reason) == ("fatal", LIMIT)

            # The operator's start is a fresh series: it runs again, and the loop ends again.
            (again,) = await supervisor.start(["crasher"])
            assert (again.ok, again.state) == (True, ProgramState.RUNNING)
            await supervisor.wait_state(["crasher"], ProgramState.FATAL)
            assert runner.spawns == 8


def test_the_daemon_reports_the_end_of_a_crash_loop(tmp_path: Path) -> None:
    with running(tmp_path, CRASHER) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("crasher", state="FATAL", timeout=20)
        (status,) = client.status("crasher")
        assert (status.state, status.message) == (ProgramState.FATAL, LIMIT)
        assert [e.kind for e in client.history("crasher", 100)][-1] == "fatal"
