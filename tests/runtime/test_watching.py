"""``watch``: a burst of changes to watched files restarts the program once; ignored files do
not count; a failing ``reload_check`` keeps the running process and says why; ``watch_config``
reloads the config when its file changes (runtime/watching.py, runtime/filewatch.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.testing

from supervisord_lite.protocol.messages import ProgramState
from supervisord_lite.store import Store
from tests.daemon_harness import write_config
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite.protocol.messages import StateChanged
    from supervisord_lite.runtime.supervisor import Supervisor

APP = """\
[programs.app]
command = ["sleep", "3600"]
start_seconds = 0
watch = ["src/**/*.py"]
watch_ignore = ["src/gen/*"]
watch_debounce = 0.2
"""

CHECKED = APP + 'reload_check = ["sh", "-c", "echo syntax error in src/a.py; exit 3"]\n'


async def watch_events(
    supervisor: Supervisor, program: str, change: str, found: list[StateChanged], done: trio.Event
) -> None:
    with supervisor.events.subscribe() as sub:
        async for event in sub.receive:
            if event.program == program and event.change == change:
                found.append(event)
                done.set()
                return


async def test_a_burst_of_changes_restarts_once(tmp_path: Path) -> None:
    (tmp_path / "src" / "gen").mkdir(parents=True)
    async with supervising(tmp_path, APP) as supervisor:
        (before,) = supervisor.status(["app"])
        found: list[StateChanged] = []
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_events, supervisor, "app", "watch", found, done)
            await trio.testing.wait_all_tasks_blocked()
            (tmp_path / "src" / "gen" / "made.py").write_text("x = 1\n")  # ignored
            (tmp_path / "src" / "pkg").mkdir()
            (tmp_path / "src" / "pkg" / "a.py").write_text("a = 1\n")
            (tmp_path / "src" / "b.py").write_text("b = 1\n")
            (tmp_path / "src" / "b.py").write_text("b = 2\n")
            with trio.fail_after(20):
                await done.wait()
        assert "gen" not in found[0].message
        assert "src/b.py" in found[0].message
        assert "src/pkg/a.py" in found[0].message
        await supervisor.wait_state(["app"], ProgramState.RUNNING)
        (after,) = supervisor.status(["app"])
        assert after.pid != before.pid
        assert after.restarts == 1
        rows = await supervisor.store.query(lambda store: Store.history(store, "app", 20))
        assert [r.kind for r in rows].count("watch_restart") == 1


async def test_a_failing_reload_check_keeps_the_program_running(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    async with supervising(tmp_path, CHECKED) as supervisor:
        (before,) = supervisor.status(["app"])
        found: list[StateChanged] = []
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_events, supervisor, "app", "watch", found, done)
            await trio.testing.wait_all_tasks_blocked()
            (tmp_path / "src" / "a.py").write_text("def broken(:\n")
            with trio.fail_after(30):
                await done.wait()
        assert "reload_check failed (exit 3: syntax error in src/a.py)" in found[0].message
        (after,) = supervisor.status(["app"])
        assert after.pid == before.pid
        assert after.reload_check is not None
        assert not after.reload_check.ok
        assert after.reload_check.detail == "exit 3: syntax error in src/a.py"
        rows = await supervisor.store.query(lambda store: Store.history(store, "app", 20))
        assert "reload_check_failed" in [r.kind for r in rows]


async def test_watch_config_reloads_when_the_file_changes(tmp_path: Path) -> None:
    async with supervising(tmp_path, APP, daemon_extra="watch_config = true\n") as supervisor:
        found: list[StateChanged] = []
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_events, supervisor, "extra", "state", found, done)
            await trio.testing.wait_all_tasks_blocked()
            extra = '[programs.extra]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
            write_config(tmp_path, APP + extra, "watch_config = true\n")
            with trio.fail_after(30):
                await done.wait()
        assert "extra" in supervisor.runners
