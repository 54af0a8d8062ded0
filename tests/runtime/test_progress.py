"""Progress from programs through a real daemon: ``svctl.report``, ``systemd-notify`` and raw
datagrams on the notify socket, the stdout fallbacks (JSON and regex), a flood of reports, and
a program without a notify socket."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.runtime.progress import PUSH_INTERVAL
from svctl import Client, StateChanged
from svctl.cli import main
from tests.daemon_harness import ROOT, running
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from supervisord_lite.protocol.messages import ProgramStatus
    from tests.daemon_harness import Daemon

PY = sys.executable


def _program(tmp_path: Path, name: str, source: str, extra: str = "") -> str:
    script = tmp_path / f"{name}.py"
    script.write_text(source)
    return f'[programs.{name}]\ncommand = ["{PY}", "{script}"]\n{extra}\n'


def _status(daemon: Daemon, name: str) -> ProgramStatus:
    with Client(daemon.socket, timeout=10) as client:
        return client.status(name)[0]


def _wait_progress(daemon: Daemon, name: str, done: float) -> ProgramStatus:
    """The program's status once its progress says ``done``; its daemon's log if it never does."""
    try:
        wait_until(
            lambda: (p := _status(daemon, name).progress) is not None and p.done == done,
            f"{name} reporting done={done}",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_status(daemon, name)}\n{daemon.log()}") from exc
    return _status(daemon, name)


REPORTER = """
import time, svctl
svctl.report(phase="scan")
svctl.report(done=3, total=10, phase="index", unit="files", message="reading a.txt", rows=5)
time.sleep(3600)
"""


def test_svctl_report_shows_in_status_json_and_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(tmp_path, _program(tmp_path, "job", REPORTER)) as daemon:
        status = _wait_progress(daemon, "job", 3)
        progress = status.progress
        assert progress is not None
        assert (progress.done, progress.total, progress.phase) == (3, 10, "index")
        assert (progress.unit, progress.message) == ("files", "reading a.txt")
        assert progress.fields == {"X_ROWS": "5"}
        assert progress.reports == 2
        assert progress.at > 0
        socket_args = ["--socket", daemon.socket]
        assert main([*socket_args, "status", "job"]) == 0
        table = capsys.readouterr().out
        assert "index 30% (3/10 files)" in table
        assert "ago: reading a.txt" in table
        assert main([*socket_args, "status", "job", "--json"]) == 0
        [listed] = json.loads(capsys.readouterr().out)["programs"]
        shown = listed["progress"]
        assert shown["done"] == 3
        assert shown["total"] == 10
        assert shown["phase"] == "index"
        assert shown["unit"] == "files"
        assert shown["message"] == "reading a.txt"
        assert shown["fields"] == {"X_ROWS": "5"}
        assert main([*socket_args, "progress", "job"]) == 0
        line = capsys.readouterr().out
        assert line.startswith("job: index [")
        assert "30% (3/10 files)" in line


RAW = """
import os, socket, subprocess, sys, time
subprocess.run(["systemd-notify", "--status=warming up"], check=True)
to = os.environ["NOTIFY_SOCKET"]
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.sendto(b"X_PROGRESS_DONE=5\\nX_PROGRESS_TOTAL=8\\nX_PROGRESS_PHASE=load", to)
time.sleep(3600)
"""


@pytest.mark.skipif(shutil.which("systemd-notify") is None, reason="no systemd-notify here")
def test_systemd_notify_status_and_a_raw_datagram(tmp_path: Path) -> None:
    with running(tmp_path, _program(tmp_path, "raw", RAW)) as daemon:
        progress = _wait_progress(daemon, "raw", 5).progress
        assert progress is not None
        assert (progress.done, progress.total, progress.phase) == (5, 8, "load")
        assert progress.message == "warming up"  # a part left out keeps its last value
        assert _status(daemon, "raw").notify_status == "warming up"


PRINTER = """
import json, sys, time
print("starting up", flush=True)
print(json.dumps({"progress": {"done": 2, "total": 4, "phase": "copy", "message": "half"}}))
print('{"progress": "not an object"}')
print("step 7/9 compile", flush=True)
time.sleep(3600)
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('{ from = "stdout", format = "json" }', (2, 4, "copy", "half")),
        (
            r"""{format = "regex", pattern = 'step (?P<done>\d+)/(?P<total>\d+) (?P<phase>\w+)'}""",
            (7, 9, "compile", None),
        ),
    ],
    ids=["json", "regex"],
)
def test_progress_read_from_stdout_lines_which_still_reach_the_log(
    tmp_path: Path, setting: str, expected: tuple[object, ...]
) -> None:
    program = _program(tmp_path, "printer", PRINTER, f"progress = {setting}")
    with running(tmp_path, program) as daemon:
        progress = _wait_progress(daemon, "printer", expected[0]).progress  # type: ignore[arg-type]
        assert progress is not None
        assert (progress.done, progress.total, progress.phase, progress.message) == expected
        log = tmp_path / "logs" / "printer.stdout.log"
        wait_until(lambda: "step 7/9 compile" in log.read_text(), "the lines in the log file")
        text = log.read_text()
        assert "starting up" in text
        assert '"progress": {"done": 2' in text


FLOOD = """
import os, socket, time
to = os.environ["NOTIFY_SOCKET"]
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    for i in range(1, 20001):
        s.sendto(f"X_PROGRESS_DONE={i}\\nX_PROGRESS_TOTAL=20000".encode(), to)
    many = "\\n".join(f"X_F{i}={i}" for i in range(40))
    s.sendto(f"X_PROGRESS_DONE=20001\\n{many}".encode(), to)
time.sleep(3600)
"""


def test_a_flood_of_reports_keeps_only_the_latest(tmp_path: Path) -> None:
    """Blocking sends: every datagram reaches the daemon, each overwrites the last."""
    with running(tmp_path, _program(tmp_path, "flood", FLOOD)) as daemon:
        progress = _wait_progress(daemon, "flood", 20001).progress
        assert progress is not None
        assert progress.reports == 20001
        assert progress.total == 20000
        assert len(progress.fields) == 32  # the parser's bound on free fields
        assert daemon.process.poll() is None


ENV = """
import os, sys, time
with open(sys.argv[1] + ".part", "w") as f:
    f.write(os.environ.get("NOTIFY_SOCKET", "<none>"))
os.rename(sys.argv[1] + ".part", sys.argv[1])  # whole when it appears
time.sleep(3600)
"""


def test_notify_socket_false_gets_none_and_the_daemons_own_is_never_passed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "env.py"
    script.write_text(ENV)
    programs = "".join(
        f'[programs.{name}]\ncommand = ["{PY}", "{script}", "{tmp_path / name}"]\n{extra}\n'
        for name, extra in (("quiet", "notify_socket = false"), ("told", ""))
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "systemd.sock"))  # the daemon's own NOTIFY_SOCKET
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "systemd.sock"))
        with running(tmp_path, programs) as daemon:
            for name in ("quiet", "told"):
                wait_until(lambda n=name: (tmp_path / n).exists(), f"{name}'s environment")
            wait_until(lambda: (tmp_path / "told").read_text(), "told's NOTIFY_SOCKET")
            assert (tmp_path / "quiet").read_text() == "<none>"
            told = (tmp_path / "told").read_text()
            assert told.endswith("told.sock")
            assert told != str(tmp_path / "systemd.sock")
            assert os.path.exists(told)
            assert _status(daemon, "quiet").progress is None


@pytest.fixture
def own_report_socket() -> Iterator[None]:
    """``svctl.report`` keeps one socket per process: this one closes it after the test."""
    from svctl import _report

    yield
    if _report._sock is not None:
        _report._sock.close()
        _report._sock = None


@pytest.mark.usefixtures("own_report_socket")
def test_report_does_nothing_without_a_socket_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import svctl

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert svctl.report(done=1) is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "missing.sock"))
    assert svctl.report(done=1, total=2) is False
    monkeypatch.setenv("NOTIFY_SOCKET", "@supervisord-lite-test-nobody-listens")
    assert svctl.report(phase="x") is False


@pytest.mark.usefixtures("own_report_socket")
def test_report_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    import svctl

    name = f"supervisord-lite-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert svctl.report(done=2.5, total=10, phase="a\nb", message="hi", x_extra=1) is True
        lines = sock.recv(4096).decode().split("\n")
    assert lines == [
        "X_PROGRESS_DONE=2.5",
        "X_PROGRESS_TOTAL=10",
        "X_PROGRESS_PHASE=a b",
        "STATUS=hi",
        "X_EXTRA=1",
    ]


STEPS = """
import os, sys, time, svctl
svctl.report(done=1, total=2, phase="first")
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
while not svctl.report(done=2, total=2, phase="second"):
    time.sleep(0.01)
"""


def _svctl(daemon: Daemon, *argv: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "clients")])
    return subprocess.Popen(
        [PY, "-m", "svctl.cli", "--socket", daemon.socket, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_progress_follow_prints_each_pushed_report_until_the_run_ends(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    script = tmp_path / "steps.py"
    script.write_text(STEPS)
    program = f"""[programs.job]
command = ["{PY}", "{script}", "{flag}"]
autorestart = "never"
start_seconds = 0
"""
    with running(tmp_path, program) as daemon:
        _wait_progress(daemon, "job", 1)
        follower = _svctl(daemon, "progress", "job", "-f", "--timeout", "50")
        try:
            assert follower.stdout is not None
            first = follower.stdout.readline()  # printed once it follows
            assert first.startswith("job: first [")
            assert "50% (1/2)" in first
            flag.touch()
            rest, err = follower.communicate(timeout=50)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
        assert follower.returncode == 0, err
        lines = rest.splitlines()
        assert lines[-1] == "job: exited"
        assert any("second" in line and "100% (2/2)" in line for line in lines), lines


FLOOD_SLOWLY = """
import os, socket, sys, time
to = os.environ["NOTIFY_SOCKET"]
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    for i in range(1, 50001):
        s.sendto(f"X_PROGRESS_DONE={i}".encode(), to)
time.sleep(3600)
"""


def test_followers_hear_the_latest_progress_at_most_once_a_second(tmp_path: Path) -> None:
    with running(tmp_path, _program(tmp_path, "flood", FLOOD_SLOWLY)) as daemon:
        with Client(daemon.socket, timeout=30) as client, client.events() as events:
            started = time.monotonic()
            heard = []
            for event in events:
                if not isinstance(event, StateChanged):
                    continue  # the daemon's own events
                if event.program == "flood" and event.change == "progress":
                    assert event.progress is not None
                    heard.append(event.progress.done)
                    if event.progress.done == 50000:
                        break
            elapsed = time.monotonic() - started
        assert heard == sorted(heard)
        # One push at once, then at most one per second (the rule, not a speed).
        assert len(heard) <= elapsed / PUSH_INTERVAL + 2, (len(heard), elapsed)
        assert len(heard) < 50000
