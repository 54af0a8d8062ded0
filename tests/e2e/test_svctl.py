"""The daemon driven by ``svctl`` processes, as an operator would, with the exit codes they see."""

from __future__ import annotations

import json
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from tests.daemon_harness import pids_with_token, running, svctl, svctl_command

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.daemon_harness import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running(tmp_path) as d:
        done = svctl(
            d, "wait", "web", "worker", "stubborn", "--state", "running", "--timeout", "20"
        )
        assert done.returncode == 0, done.stderr
        yield d


def test_status_table_and_json(daemon: Daemon) -> None:
    table = svctl(daemon, "status")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "STATE", "PID"]
    assert {row.split()[0] for row in rows} == {"web", "worker", "crasher", "flaky", "stubborn"}
    document = json.loads(svctl(daemon, "status", "--json").stdout)
    by_name = {obj["name"]: obj for obj in document["programs"]}
    assert by_name["web"]["state"] == "RUNNING"
    assert by_name["flaky"]["state"] == "STOPPED"


def test_exit_code_3_is_shown_by_status_and_history(daemon: Daemon) -> None:
    assert svctl(daemon, "wait", "crasher", "--state", "exited", "--timeout", "20").returncode == 0
    row = next(r for r in svctl(daemon, "status", "crasher").stdout.splitlines()[1:])
    assert "exit 3" in row
    history = svctl(daemon, "history", "crasher", "--json")
    assert history.returncode == 0, history.stderr
    ends = [e for e in map(json.loads, history.stdout.splitlines()) if e["outcome"]]
    assert ends[-1]["exit_code"] == 3
    assert ends[-1]["outcome"] == "failed"


def test_stop_escalates_to_sigkill_for_a_program_that_ignores_term(daemon: Daemon) -> None:
    started = time.monotonic()
    out = svctl(daemon, "stop", "stubborn")
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert "stopped" in out.stdout
    assert took >= 2.0  # it waited out stop_timeout before the SIGKILL
    history = svctl(daemon, "history", "stubborn").stdout
    assert "killed" in history


def test_start_stop_restart_wait(daemon: Daemon) -> None:
    before = json.loads(svctl(daemon, "status", "web", "--json").stdout)["programs"][0]["pid"]
    out = svctl(daemon, "restart", "web")
    assert out.returncode == 0, out.stderr
    after = json.loads(svctl(daemon, "status", "web", "--json").stdout)["programs"][0]["pid"]
    assert after != before
    assert svctl(daemon, "stop", "web", "worker").returncode == 0
    assert svctl(daemon, "start", "web").returncode == 0
    assert svctl(daemon, "wait", "web", "--state", "running", "--timeout", "10").returncode == 0
    timed_out = svctl(daemon, "wait", "worker", "--state", "running", "--timeout", "0.3")
    assert timed_out.returncode == 1
    assert "timed out" in timed_out.stderr


def test_a_start_that_fails_exits_1(daemon: Daemon) -> None:
    out = svctl(daemon, "start", "flaky")
    assert out.returncode == 1
    assert "FATAL" in out.stdout + out.stderr


def test_unknown_program_names_the_known_ones(daemon: Daemon) -> None:
    out = svctl(daemon, "stop", "wbe")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "svctl: no program named 'wbe' (known: crasher, flaky, stubborn, web, worker);"
        " did you mean 'web'?"
    )
    assert "Traceback" not in out.stderr


def test_usage_error_exits_2_and_unreachable_daemon_exits_3(tmp_path: Path) -> None:
    assert svctl(None, "stop").returncode == 2
    out = svctl(None, "--socket", str(tmp_path / "nobody.sock"), "status")
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert svctl(None, "--socket", str(tmp_path / "nobody.sock"), "ok").returncode == 3


def test_events_are_pushed_as_they_happen(daemon: Daemon) -> None:
    argv, env = svctl_command(daemon, "events", "--json")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as follower:
        try:
            time.sleep(0.5)  # let it subscribe
            assert svctl(daemon, "stop", "worker").returncode == 0
            assert follower.stdout is not None
            seen = [json.loads(follower.stdout.readline()) for _ in range(2)]
        finally:
            follower.terminate()
            follower.wait(timeout=10)
    assert [(e["program"], e["new"]) for e in seen] == [
        ("worker", "STOPPING"),
        ("worker", "STOPPED"),
    ]


def test_shutdown_with_programs_running_leaves_nothing(tmp_path: Path) -> None:
    with running(tmp_path) as daemon:
        assert svctl(daemon, "wait", "web", "worker", "--state", "running").returncode == 0
        out = svctl(daemon, "shutdown")
        assert out.returncode == 0, out.stderr
        assert daemon.process.wait(timeout=30) == 0
        assert pids_with_token(daemon.token) == []
        assert svctl(daemon, "ok").returncode == 3


def test_logs_of_every_program_are_interleaved_with_a_prefix(tmp_path: Path) -> None:
    programs = """\
[programs.alpha]
command = ["sh", "-c", "echo one; echo two; sleep 3600"]
start_seconds = 0

[programs.beta]
command = ["sh", "-c", "echo three >&2; sleep 3600"]
start_seconds = 0
"""
    with running(tmp_path, programs) as daemon:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out = svctl(daemon, "logs", "--all", "-n", "5")
            if "beta | three" in out.stdout and "alpha | two" in out.stdout:
                break
            time.sleep(0.05)
        assert (out.returncode, out.stderr) == (0, "")
        assert out.stdout.splitlines() == ["alpha | one", "alpha | two", "beta | three"]
        assert svctl(daemon, "logs", "alpha", "--all").returncode == 2


def test_logs_since_prints_only_the_lines_written_since(tmp_path: Path) -> None:
    import time

    from tests.daemon_harness import running, svctl

    flag = tmp_path / "flag"
    program = (
        "[programs.p]\n"
        f'command = ["sh", "-c", "echo before; while [ ! -e {flag} ]; do sleep 0.02; done;'
        ' echo after; exec sleep 3600"]\n'
        "start_seconds = 0\n"
        "log = { timestamps = true }\n"
    )
    with running(tmp_path, program) as daemon:
        from tests.faults.common import wait_until

        log = tmp_path / "logs" / "p.stdout.log"
        wait_until(lambda: log.exists() and b"before" in log.read_bytes(), "the first line")
        time.sleep(0.05)
        between = time.time()
        time.sleep(0.05)
        flag.touch()
        wait_until(lambda: b"after" in log.read_bytes(), "the second line")
        done = svctl(daemon, "logs", "p", "--since", f"{between:.3f}")
        assert done.returncode == 0, done.stderr
        assert "after" in done.stdout
        assert "before" not in done.stdout
        everything = svctl(daemon, "logs", "p", "--since", "1h")
        assert "before" in everything.stdout
        assert "after" in everything.stdout
        bad = svctl(daemon, "logs", "p", "--since", "yesterday")
        assert bad.returncode == 2
        assert "not a time" in bad.stderr
