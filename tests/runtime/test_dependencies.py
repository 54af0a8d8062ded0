"""depends_on through a real daemon: start order (a chain of three, a diamond), what a start
and a stop of one program do to the others, a dependency going down under each policy, the
shutdown order."""

from __future__ import annotations

import os
import re
import signal
from typing import TYPE_CHECKING

import pytest

from svctl import Client, StateChanged
from tests.daemon_harness import running
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from tests.daemon_harness import Daemon


def _program(name: str, needs: str = "", extra: str = "") -> str:
    depends = f"depends_on = {{ {needs} }}\n" if needs else ""
    return (
        f'[programs.{name}]\ncommand = ["sleep", "3600"]\nstart_seconds = 0.3\n{depends}{extra}\n'
    )


def _order(daemon: Daemon, arrow: str) -> list[str]:
    """The programs in the order the daemon logged ``arrow`` for them."""
    found = re.findall(rf"INFO (\S+): {re.escape(arrow)}", daemon.log())
    return list(dict.fromkeys(found))


def _running(daemon: Daemon, *names: str) -> None:
    with Client(daemon.socket, timeout=40) as client:
        results = client.wait(*names, ready=True, timeout=30)
    assert all(r.ok for r in results), results


def test_a_chain_of_three_starts_in_order(tmp_path: Path) -> None:
    programs = _program("c", 'b = "ready"') + _program("b", 'a = "ready"') + _program("a")
    with running(tmp_path, programs) as daemon:
        _running(daemon, "a", "b", "c")
        assert _order(daemon, "STOPPED -> STARTING") == ["a", "b", "c"]
        starts = _order(daemon, "STARTING -> RUNNING")
        assert starts == ["a", "b", "c"]


def test_a_diamond_starts_the_base_then_both_sides_then_the_top(tmp_path: Path) -> None:
    programs = (
        _program("top", 'left = "ready", right = "ready"')
        + _program("left", 'base = "ready"')
        + _program("right", 'base = "started"')
        + _program("base")
    )
    with running(tmp_path, programs) as daemon:
        _running(daemon, "top")
        log = daemon.log()

        def at(name: str, arrow: str) -> int:
            return log.index(f"INFO {name}: {arrow}")

        assert at("base", "STOPPED -> STARTING") < at("right", "STOPPED -> STARTING")
        assert at("base", "STARTING -> RUNNING") < at("left", "STOPPED -> STARTING")
        assert max(at("left", "STARTING -> RUNNING"), at("right", "STARTING -> RUNNING")) < at(
            "top", "STOPPED -> STARTING"
        )


def test_a_waiting_program_says_what_it_waits_for(tmp_path: Path) -> None:
    programs = _program("db", extra="autostart = false") + _program("web", 'db = "ready"')
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=10) as client:
        wait_until(
            lambda: client.status("web")[0].waiting_for == "waiting for db: not ready",
            "web waiting for db",
        )
        assert client.status("web")[0].state.value == "STOPPED"


def test_starting_a_program_starts_what_it_needs_first(tmp_path: Path) -> None:
    programs = _program("db", extra="autostart = false") + _program(
        "web", 'db = "ready"', "autostart = false"
    )
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        [result] = client.start("web")
        assert result.ok, result
        assert "started first: db" in result.message
        assert client.status("db")[0].state.value == "RUNNING"


def test_a_needed_program_is_not_stopped_without_its_dependents(tmp_path: Path) -> None:
    programs = _program("db") + _program("web", 'db = "ready"')
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        _running(daemon, "web")
        [refused] = client.stop("db")
        assert not refused.ok
        assert (
            refused.message == "web depend on it: stop them first, or stop with --with-dependents"
        )
        assert client.status("db")[0].state.value == "RUNNING"
        results = client.stop("db", with_dependents=True)
        assert [r.ok for r in results] == [True, True]
        log = daemon.log()
        assert log.index("INFO web: RUNNING -> STOPPING") < log.index(
            "INFO db: RUNNING -> STOPPING"
        )


def test_a_dependency_that_can_never_be_met_fails_the_wait(tmp_path: Path) -> None:
    migrate = (
        '[programs.migrate]\ncommand = ["sh", "-c", "exit 3"]\nautorestart = "never"\n'
        "start_seconds = 0\n"
    )
    programs = migrate + _program("web", 'migrate = "completed_successfully"')
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        [result] = client.wait("web", ready=True, timeout=20)
        assert not result.ok
        assert result.message == "waiting for migrate: failed: completed with exit 3"


@pytest.mark.parametrize(
    ("policy", "web_after"), [("stop", "STOPPED"), ("restart", "RUNNING"), ("ignore", "RUNNING")]
)
def test_a_dependency_going_down_under_each_policy(
    tmp_path: Path, policy: str, web_after: str
) -> None:
    programs = _program("db", extra="backoff = { floor = 0.1 }") + _program(
        "web", 'db = "ready"', f'on_dependency_failure = "{policy}"'
    )
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        _running(daemon, "web")
        web_pid = client.status("web")[0].pid
        os.kill(client.status("db")[0].pid or 0, signal.SIGKILL)
        wait_until(lambda: client.status("db")[0].restarts >= 1, "db started again")
        _running(daemon, "db")
        if policy == "restart":
            wait_until(lambda: client.status("web")[0].pid not in (None, web_pid), "a new web")
            _running(daemon, "web")
        elif policy == "stop":
            wait_until(lambda: client.status("web")[0].state.value == "STOPPED", "web stopped")
            assert "stopped: dependency db" in client.status("web")[0].waiting_for
        else:
            assert client.status("web")[0].pid == web_pid
        assert client.status("web")[0].state.value == web_after


def test_shutdown_stops_dependents_first(tmp_path: Path) -> None:
    programs = (
        _program("worker", 'web = "ready"')
        + _program("web", 'db = "ready"')
        + _program("db", extra="priority = 1")
    )
    with running(tmp_path, programs) as daemon:
        _running(daemon, "worker")
        with Client(daemon.socket, timeout=30) as client:
            client.shutdown(wait=True)
        daemon.process.wait(timeout=30)
        assert _order(daemon, "RUNNING -> STOPPING") == ["worker", "web", "db"]


def test_dependency_and_health_changes_are_events(tmp_path: Path) -> None:
    alive = tmp_path / "alive"
    alive.touch()
    programs = _program("db", extra="backoff = { floor = 0.1 }") + _program(
        "web",
        'db = "ready"',
        f'liveness = {{ exec = ["test", "-e", "{alive}"], interval = 0.05, '
        "failure_threshold = 1000 }",
    )
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        _running(daemon, "web")
        db_pid = client.status("db")[0].pid or 0
        with client.events() as events:
            alive.unlink()
            seen: dict[str, str] = {}
            for event in events:
                if not isinstance(event, StateChanged):
                    continue  # the daemon's own events
                if event.change != "state":
                    seen.setdefault(event.change, event.message)
                if event.change == "health":
                    os.kill(db_pid, signal.SIGKILL)  # now the dependency goes down
                if len(seen) == 2:
                    break
    assert seen["health"].startswith("liveness probe failed: exit 1")
    assert seen["dependency"] == "stopped: dependency db: not ready"
