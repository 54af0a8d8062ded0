"""``svctl scale`` and ``svctl restart --rolling`` against a real daemon, as a user runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.daemon_harness import running
from tests.daemon_harness import svctl_in_process as run
from tests.faults.common import wait_until

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

PROGRAMS = """\
[programs.web]
command = ["sleep", "36{replica}0"]
replicas = 2
start_seconds = 0.05
log = { stdout = "none", stderr = "none" }

[programs.echo]
command = ["sh", "-c", "echo hello {replica}; exec sleep 3600"]
replicas = 2
start_seconds = 0.05

[programs.one]
command = ["sleep", "3600"]
autostart = false
"""


def test_scale_then_rolling_restart(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with running(tmp_path, PROGRAMS) as daemon:
        sock = ("--socket", daemon.socket)
        assert run(capsys, *sock, "wait", "web", "--ready", "--timeout", "20")[0] == 0
        code, out, err = run(capsys, *sock, "scale", "web", "3")
        assert (code, err) == (0, "")
        assert "web:2" in out
        code, out, _ = run(capsys, *sock, "status", "web")
        assert code == 0
        assert [line.split()[0] for line in out.splitlines()[1:]] == ["web:0", "web:1", "web:2"]
        code, out, err = run(capsys, *sock, "restart", "--rolling", "web", "--max-unavailable", "2")
        assert (code, err) == (0, "")
        assert [line.split()[0].rstrip(":") for line in out.splitlines()] == [
            "web:0",
            "web:1",
            "web:2",
        ]
        code, out, err = run(capsys, *sock, "scale", "one", "2")
        assert code == 1
        assert "not replicated" in err
        code, _, err = run(capsys, *sock, "restart", "--rolling", "--no-wait", "web")
        assert code == 2
        assert "--rolling" in err
        assert run(capsys, *sock, "wait", "echo", "--ready", "--timeout", "20")[0] == 0
        expected = ["echo:0 | hello 0", "echo:1 | hello 1"]

        def both_lines() -> bool:
            return sorted(run(capsys, *sock, "logs", "echo")[1].splitlines()) == expected

        wait_until(both_lines, "each instance's line, led by its name")
        code, out, _ = run(capsys, *sock, "history", "web", "-n", "100")
        assert "scaled from 2 to 3 instances" in out
        assert "web:1" in out
