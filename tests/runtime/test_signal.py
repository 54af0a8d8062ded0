"""``svctl signal``: a signal to a program's process group or its main process, recorded in the
history; an unknown signal name or a program with no run is refused clearly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from supervisord_lite.protocol.errors import BadRequest
from supervisord_lite.runtime.signalling import signal_name
from svctl import Client
from tests.daemon_harness import running
from tests.daemon_harness import svctl_in_process as run
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from pathlib import Path

#: Says "ready", then one line per HUP it gets; its child says "child hup" for its own.
PROGRAMS = """\
[programs.web]
command = ["python3", "-c", '''
import os, signal, sys, time
def said(text):
    return lambda *_: print(text, flush=True)
if os.fork() == 0:
    signal.signal(signal.SIGHUP, said("child hup"))
    while True:
        time.sleep(3600)
signal.signal(signal.SIGHUP, said("main hup"))
print("ready", flush=True)
while True:
    time.sleep(3600)
''']
start_seconds = 0

[programs.idle]
command = ["sleep", "3600"]
autostart = false
"""


def test_signal_the_group_or_the_main_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(tmp_path, PROGRAMS) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("web", state="RUNNING", timeout=20)
        log = tmp_path / "logs" / "web.stdout.log"
        wait_until(lambda: "ready" in log.read_text(), "the program to start")
        socket = ("--socket", daemon.socket)

        code, out, _ = run(capsys, *socket, "signal", "web", "sighup")
        assert code == 0
        assert "SIGHUP sent to process group" in out
        wait_until(lambda: log.read_text().count("hup") == 2, "both processes to get SIGHUP")

        code, out, _ = run(capsys, *socket, "signal", "web", "HUP", "--main")
        assert code == 0
        wait_until(lambda: log.read_text().count("main hup") == 2, "the main process's SIGHUP")
        assert log.read_text().count("child hup") == 1

        kinds = [(e.kind, e.reason) for e in client.history("web", limit=5)]
        assert ("signalled", "SIGHUP sent to its process group by the operator") in kinds
        assert ("signalled", "SIGHUP sent to its main process by the operator") in kinds

        code, out, _ = run(capsys, *socket, "signal", "idle", "HUP")
        assert code == 1
        assert "not running" in out

        code, out, err = run(capsys, *socket, "signal", "web", "HUPP")
        assert code == 2
        assert "unknown signal 'HUPP'" in err
        (web,) = client.status("web")
        assert web.state == "RUNNING"


def test_the_daemon_refuses_an_unknown_signal_name_itself() -> None:
    assert signal_name("sigusr1") == "USR1"
    with pytest.raises(BadRequest, match="unknown signal 'NOPE'"):
        signal_name("NOPE")
