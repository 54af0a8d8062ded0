"""Hooks with real processes, in process (tests/supervisor_harness.py): their order and
environment, a failing pre_start as a failed start, stop_command in place of the stop signal,
and hooks killed with their group (at their timeout, when their run stops)."""

from __future__ import annotations

import json
import signal
import sys
from typing import TYPE_CHECKING

import trio

from supervisord_lite.lifecycle import ExitStatus
from supervisord_lite.protocol.messages import ProgramState
from svctl import Client
from tests.daemon_harness import start_daemon, stop_daemon, write_config
from tests.faults.common import read_pid_file, wait_until
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite.runtime.supervisor import Supervisor
    from supervisord_lite.store_records import HistoryEntry

RUNNING, STOPPED, FATAL = ProgramState.RUNNING, ProgramState.STOPPED, ProgramState.FATAL

#: A hook that appends its name, MAINPID, EXIT_CODE/EXIT_STATUS and a program variable to
#: hooks.txt in the program's folder.
NOTE = json.dumps(
    ["sh", "-c", 'echo "$SUPERVISORD_LITE_HOOK $MAINPID $EXIT_CODE $EXIT_STATUS $V" >> hooks.txt']
)

#: TERM ignored, USR1 ends it with exit 0: only a stop command that sends USR1 stops it in time.
STUBBORN = (
    "import signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " signal.signal(signal.SIGUSR1, lambda *a: sys.exit(0)); signal.pause()"
)


def handles_usr1(pid: int | None) -> bool:
    """Whether the STUBBORN program has its USR1 handler (its TERM ignored before it)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))


async def hook_history(supervisor: Supervisor, name: str) -> list[HistoryEntry]:
    entries = await supervisor.store.query(lambda store: store.history(name, 100))
    return [e for e in entries if e.kind == "hook"]


def gone(pid: int) -> bool:
    """Whether ``pid`` is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_hooks_run_in_order_as_the_program_and_are_recorded(tmp_path: Path) -> None:
    programs = f"""
[programs.web]
command = ["sleep", "3600"]
cwd = "{tmp_path}"
autostart = false
start_seconds = 0
env = {{ V = "from-env" }}
pre_start = {NOTE}
post_start = {NOTE}
pre_stop = {{ command = {NOTE}, timeout = 5.0 }}
post_stop = {NOTE}
log = {{ stdout = "none", stderr = "none" }}
"""
    async with supervising(tmp_path, programs) as supervisor:
        runner = supervisor.runners["web"]
        with supervisor.events.subscribe() as events:
            assert (await supervisor.start(["web"]))[0].state is RUNNING
            pid = runner.snapshot.pid
            with trio.fail_after(20):
                async for event in events.receive:
                    if event.change == "hook" and event.message.startswith("post_start"):
                        break
            assert (await supervisor.stop(["web"]))[0].state is STOPPED
            with trio.fail_after(20):
                async for event in events.receive:
                    if event.change == "hook" and event.message.startswith("post_stop"):
                        assert event.message == "post_stop: exit 0"
                        break
        assert (tmp_path / "hooks.txt").read_text().splitlines() == [
            "pre_start    from-env",
            f"post_start {pid}   from-env",
            f"pre_stop {pid}   from-env",
            "post_stop  killed TERM from-env",
        ]
        hooks = await hook_history(supervisor, "web")
        assert [(h.reason, h.exit_code) for h in hooks] == [
            (f"{name}: exit 0", 0) for name in ("pre_start", "post_start", "pre_stop", "post_stop")
        ]


async def test_a_failing_pre_start_is_a_failed_start(tmp_path: Path) -> None:
    programs = """
[programs.web]
command = ["sleep", "3600"]
autostart = false
start_retries = 1
backoff = { initial = 0.05, floor = 0 }
pre_start = ["sh", "-c", "echo no database; exit 3"]
log = { stdout = "none", stderr = "none" }
"""
    async with supervising(tmp_path, programs) as supervisor:
        (result,) = await supervisor.start(["web"])
        assert result.state is FATAL
        entries = await supervisor.store.query(lambda store: store.history("web", 100))
        assert "spawned" not in [e.kind for e in entries]
        failed = [e.reason for e in entries if e.kind == "spawn_failed"]
        assert failed == ["pre_start exit 3: no database"] * 2
        hooks = await hook_history(supervisor, "web")
        assert [(h.exit_code, h.reason) for h in hooks] == [
            (3, "pre_start: exit 3: no database")
        ] * 2


async def test_stop_command_is_run_instead_of_the_stop_signal(tmp_path: Path) -> None:
    programs = f"""
[programs.web]
command = ["{sys.executable}", "-c", "{STUBBORN}"]
autostart = false
start_seconds = 0
stop_timeout = 30
stop_command = ["sh", "-c", "kill -USR1 $MAINPID"]
log = {{ stdout = "none", stderr = "none" }}

[programs.broken]
command = ["sleep", "3600"]
autostart = false
start_seconds = 0
stop_command = ["false"]
log = {{ stdout = "none", stderr = "none" }}
"""
    async with supervising(tmp_path, programs) as supervisor:
        assert (await supervisor.start(["web", "broken"]))[0].state is RUNNING
        pid = supervisor.runners["web"].snapshot.pid
        await trio.to_thread.run_sync(wait_until, lambda: handles_usr1(pid), "its USR1 handler")
        for name in ("web", "broken"):
            (result,) = await supervisor.stop([name])
            assert (result.state, result.message) == (STOPPED, "stopped")
        web = await supervisor.store.query(lambda store: store.history("web", 100))
        assert [e.outcome for e in web if e.outcome is not None] == ["stopped"]
        assert [e.exit_code for e in web if e.outcome is not None] == [0]  # USR1, not TERM
        broken = await supervisor.store.query(lambda store: store.history("broken", 100))
        assert [e.exit_signal for e in broken if e.outcome is not None] == ["TERM"]
        assert [h.reason for h in await hook_history(supervisor, "broken")] == [
            "stop_command: exit 1"
        ]


async def test_hooks_are_killed_with_their_group(tmp_path: Path) -> None:
    """At its timeout (a pre_start: a failed start), and when its run is stopped (a
    post_start still running)."""
    background = 'sleep 3600 & echo $! > "$SUPERVISORD_LITE_HOOK.pid"; wait'
    programs = f"""
[programs.web]
command = ["sleep", "3600"]
cwd = "{tmp_path}"
autostart = false
start_retries = 0
start_seconds = 0
pre_start = {{ command = ["sh", "-c", '{background}'], timeout = 0.5 }}
log = {{ stdout = "none", stderr = "none" }}

[programs.api]
command = ["sleep", "3600"]
cwd = "{tmp_path}"
autostart = false
start_seconds = 0
post_start = ["sh", "-c", '{background}']
log = {{ stdout = "none", stderr = "none" }}
"""
    async with supervising(tmp_path, programs) as supervisor:
        (result,) = await supervisor.start(["web"])
        assert result.state is FATAL
        assert "pre_start timed out after 0.5 s" in supervisor.runners["web"].snapshot.message
        pid = read_pid_file(tmp_path / "pre_start.pid")
        wait_until(lambda: gone(pid), "the timed-out pre_start's group killed")
        await supervisor.start(["api"])
        pid = await trio.to_thread.run_sync(read_pid_file, tmp_path / "post_start.pid")
        await supervisor.stop(["api"])
        await supervisor.runners["api"].wait_hooks()
        wait_until(lambda: gone(pid), "the post_start's group killed as its run stopped")
        (killed,) = await hook_history(supervisor, "api")
        assert killed.exit_signal == "KILL"
        assert killed.reason.startswith("post_start: killed")


def test_a_hook_still_running_at_the_shutdown_deadline_is_killed(tmp_path: Path) -> None:
    """A post_stop that would run for an hour holds the shutdown only until shutdown_timeout;
    then its group is killed and the daemon exits."""
    programs = """
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0

[programs.web.post_stop]
command = ["sh", "-c", "sleep 3600 & echo $! > post_stop.pid; wait"]
timeout = 3600.0
"""
    config = write_config(tmp_path, programs)
    config.write_text(config.read_text().replace("shutdown_timeout = 10", "shutdown_timeout = 1"))
    daemon = start_daemon(config)
    try:
        with Client(daemon.socket, timeout=30) as client:
            client.wait("web", state="RUNNING", timeout=20)
        daemon.process.send_signal(signal.SIGTERM)
        pid = read_pid_file(tmp_path / "post_stop.pid")
        daemon.process.wait(timeout=40)
        wait_until(lambda: gone(pid), "the post_stop's group killed at the shutdown deadline")
        assert "post_stop: killed" in daemon.log()
    finally:
        stop_daemon(daemon, grace=0)


async def test_a_reload_that_changes_hooks_keeps_the_run(tmp_path: Path) -> None:
    program = f"""
[programs.web]
command = ["{sys.executable}", "-c", "{STUBBORN}"]
start_seconds = 0
stop_timeout = 30
log = {{ stdout = "none", stderr = "none" }}
"""
    async with supervising(tmp_path, program) as supervisor:
        pid = supervisor.runners["web"].snapshot.pid
        await trio.to_thread.run_sync(wait_until, lambda: handles_usr1(pid), "its USR1 handler")
        write_config(tmp_path, program + 'stop_command = ["sh", "-c", "kill -USR1 $MAINPID"]\n')
        (changed,) = (await supervisor.reload()).programs
        assert (changed.fate, changed.restart) == ("changed", False)
        runner = supervisor.runners["web"]
        assert runner.snapshot.pid == pid
        (result,) = await supervisor.stop(["web"])  # TERM is ignored: USR1 stops it in time
        assert (result.state, runner.snapshot.last_exit) == (STOPPED, ExitStatus(code=0))
