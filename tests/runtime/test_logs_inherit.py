"""``stdout``/``stderr = "inherit"``: a program writes straight to the daemon's own output (a
container's log, the journal), and nothing of it is captured; asking for the logs of a program
whose output is not captured says so."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from svctl import Client
from tests.daemon_harness import running, svctl

if TYPE_CHECKING:
    from pathlib import Path

PROGRAMS = """\
[programs.shared]
command = ["sh", "-c", "echo to-daemon-stdout; echo to-daemon-stderr >&2; exec sleep 3600"]
start_seconds = 0
log = { stdout = "inherit", stderr = "inherit" }

[programs.merged]
command = ["sh", "-c", "echo merged-out; echo merged-err >&2; exec sleep 3600"]
start_seconds = 0
log = { stdout = "inherit", merge = true }

[programs.quiet]
command = ["sleep", "3600"]
start_seconds = 0
log = { stdout = "none" }
"""


def test_inherited_streams_reach_the_daemons_output_and_are_not_captured(
    tmp_path: Path,
) -> None:
    with running(tmp_path, PROGRAMS) as daemon, Client(daemon.socket) as client:
        client.wait("shared", "merged", timeout=10)
        deadline = time.monotonic() + 10
        wanted = ("to-daemon-stdout", "to-daemon-stderr", "merged-out", "merged-err")
        while not all(line in daemon.log() for line in wanted):
            assert time.monotonic() < deadline, daemon.log()
            time.sleep(0.02)
        [shared] = client.status("shared", stats=True)
        assert shared.logs == ()
    assert not (tmp_path / "logs" / "shared.stdout.log").exists()


def test_logs_of_output_that_is_not_captured_say_why(tmp_path: Path) -> None:
    with running(tmp_path, PROGRAMS) as daemon, Client(daemon.socket) as client:
        with client.logs("shared", follow=True) as items:
            assert list(items) == []  # ends at once, even when following
        assert items.end is not None
        assert items.end.message == (
            "shared: output not captured: stdout goes to the daemon's own stdout (inherit);"
            " stderr goes to the daemon's own stderr (inherit)"
        )
        with client.logs("merged", stream="stderr") as items:
            assert list(items) == []
        assert items.end is not None
        assert "stderr goes into stdout (merge = true)" in items.end.message

        done = svctl(daemon, "logs", "quiet", "--stream", "stdout")
        assert done.returncode == 0
        assert done.stdout == ""
        assert done.stderr == 'svctl: quiet: output not captured: stdout is discarded ("none")\n'
        # Its stderr is captured: nothing to say about it.
        assert svctl(daemon, "logs", "quiet", "--stream", "stderr").stderr == ""
