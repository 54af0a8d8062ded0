"""What ``svctl`` prints, run as a user runs it against a real daemon: the ``--json`` documents
(checked against docs/json.md), colours on a terminal, each attempt of a start, the exit
status of a shutdown that had to SIGKILL, and ``logs -n`` over both streams."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from supervisord_lite.protocol.messages import (
    ActionResult,
    HistoryEntry,
    LogStreamStats,
    OperatorIntent,
    PlannedChange,
    PlannedProgram,
    ProbeReport,
    ProgramStatus,
    Progress,
    RunUsage,
    StoreHealth,
)
from svctl import ReloadReply
from svctl._json_out import DOCUMENTS, ActionDocument, ShutdownDocument, StatusDocument
from tests.daemon_harness import (
    PROGRAMS,
    ROOT,
    running,
    start_daemon,
    stop_daemon,
    svctl,
    svctl_command,
    write_config,
)
from tests.faults.common import ignores_term, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import msgspec

    from tests.daemon_harness import Daemon

#: docs/json.md's headings, and the type each table documents.
DOCUMENTED: dict[str, type[msgspec.Struct]] = {
    "`svctl status --json`": StatusDocument,
    "`svctl start --json`, `stop`, `restart`, `wait`, `signal`, `scale`": ActionDocument,
    "`svctl shutdown --json`": ShutdownDocument,
    "`svctl reload --json`": ReloadReply,
    "`svctl history --json` (one per line)": HistoryEntry,
    "program": ProgramStatus,
    "log stream": LogStreamStats,
    "probe": ProbeReport,
    "intent": OperatorIntent,
    "usage": RunUsage,
    "progress": Progress,
    "store": StoreHealth,
    "outcome": ActionResult,
    "planned program": PlannedProgram,
    "planned change": PlannedChange,
}


def documented_fields() -> dict[str, list[str]]:
    """Each ``###`` heading of docs/json.md and the fields its table lists, in order."""
    tables: dict[str, list[str]] = {}
    heading = None
    for line in (ROOT / "docs" / "json.md").read_text().splitlines():
        if line.startswith("### "):
            heading = line.removeprefix("### ")
            tables[heading] = []
        elif heading is not None and (found := re.match(r"\| `(\w+)` \|", line)):
            tables[heading].append(found[1])
    return tables


def test_docs_json_lists_every_field_of_every_document_and_object() -> None:
    tables = documented_fields()
    assert set(tables) == set(DOCUMENTED)
    for heading, struct in DOCUMENTED.items():
        assert tables[heading] == list(struct.__struct_fields__), heading
    assert set(DOCUMENTS.values()) <= set(DOCUMENTED.values())


def _keys_match(value: Any, struct: type[msgspec.Struct], where: str) -> None:
    """``value`` (decoded JSON) has exactly the documented fields of ``struct``, recursively
    for the objects inside it."""
    assert isinstance(value, dict), where
    assert list(value) == documented_fields()[_heading(struct)], where
    inner = {
        ("programs", StatusDocument): ProgramStatus,
        ("store", StatusDocument): StoreHealth,
        ("logs", ProgramStatus): LogStreamStats,
        ("programs", ActionDocument): ActionResult,
    }
    for key, item in value.items():
        if (found := inner.get((key, struct))) is not None and item is not None:
            for element in item if isinstance(item, list) else [item]:
                _keys_match(element, found, f"{where}.{key}")


def _heading(struct: type[msgspec.Struct]) -> str:
    return next(h for h, s in DOCUMENTED.items() if s is struct)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running(tmp_path) as d:
        done = svctl(d, "wait", "web", "worker", "--timeout", "20")
        assert done.returncode == 0, done.stderr
        yield d


def test_every_json_document_is_one_document_with_the_documented_fields(daemon: Daemon) -> None:
    status = svctl(daemon, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("\n") == 1
    document = json.loads(status.stdout)
    _keys_match(document, StatusDocument, "status")
    assert [p["name"] for p in document["programs"]] == [
        "web",
        "worker",
        "crasher",
        "flaky",
        "stubborn",
    ]
    tool = subprocess.run(
        ["python3", "-m", "json.tool"], input=status.stdout, capture_output=True, text=True
    )
    assert tool.returncode == 0, tool.stderr
    for argv, code in [
        (["stop", "web"], 0),
        (["start", "web"], 0),
        (["restart", "worker"], 0),
        (["wait", "web", "--state", "running"], 0),
        (["signal", "web", "CONT"], 0),
        (["start", "flaky"], 1),
    ]:
        done = svctl(daemon, *argv, "--json")
        assert done.returncode == code, done.stderr
        outcome = json.loads(done.stdout)
        _keys_match(outcome, ActionDocument, argv[0])
        assert outcome["ok"] is (code == 0)
    assert outcome["programs"][0]["state"] == "FATAL"
    shutdown = svctl(daemon, "shutdown", "--json")
    assert shutdown.returncode == 0, shutdown.stderr
    report = json.loads(shutdown.stdout)
    _keys_match(report, ShutdownDocument, "shutdown")
    assert report == {"ok": True, "waited": True, "killed": [], "output_lost": 0, "exit_code": 0}


def test_a_start_shows_each_attempt_when_asked_and_a_mistyped_name_gets_a_suggestion(
    daemon: Daemon,
) -> None:
    mistyped = svctl(daemon, "restart", "wokrer")
    assert mistyped.returncode == 1
    assert mistyped.stderr.endswith("; did you mean 'worker'?\n")
    quiet = svctl(daemon, "start", "flaky")
    assert (quiet.returncode, quiet.stderr) == (1, "")
    shown = svctl(daemon, "start", "flaky", "--verbose")
    assert shown.returncode == 1
    assert shown.stdout.startswith("flaky: FATAL: ")
    lines = shown.stderr.splitlines()
    assert lines[0] == "flaky: attempt 1: starting"
    assert lines[1].startswith("flaky: attempt 1 failed (exit 1)")
    assert lines[2] == "flaky: attempt 2: starting"


def _on_a_terminal(daemon: Daemon, *args: str, env: dict[str, str] | None = None) -> str:
    """svctl's stdout and stderr when both are a terminal (a pty made here)."""
    argv, base = svctl_command(daemon, *args)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            argv, stdout=terminal, stderr=terminal, env={**base, **(env or {})}
        )
        os.close(terminal)
        terminal = -1
        out = b""
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            out += data
        process.wait(timeout=30)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    return out.decode()


def test_colours_on_a_terminal_but_not_when_piped_or_with_no_color(daemon: Daemon) -> None:
    running_in_green = "\x1b[0;1;32mRUNNING"
    assert running_in_green in _on_a_terminal(daemon, "status")
    assert "\x1b[" not in _on_a_terminal(daemon, "status", env={"NO_COLOR": "1"})
    assert "\x1b[" not in svctl(daemon, "status").stdout
    assert running_in_green in svctl(daemon, "status", "--color", "always").stdout
    # On a terminal, a start shows its attempts without being asked.
    said = _on_a_terminal(daemon, "start", "flaky")
    assert "flaky: attempt 2: starting" in said


def test_a_shutdown_that_had_to_sigkill_says_so_and_exits_4_as_the_daemon(
    tmp_path: Path,
) -> None:
    slow = PROGRAMS.replace(
        "stop_timeout = 2\nkill_timeout = 5", "stop_timeout = 30\nkill_timeout = 5"
    )
    config = write_config(tmp_path, slow)
    config.write_text(config.read_text().replace("shutdown_timeout = 10", "shutdown_timeout = 1"))
    daemon = start_daemon(config)
    try:
        assert svctl(daemon, "wait", "stubborn", "--timeout", "20").returncode == 0
        [stubborn] = json.loads(svctl(daemon, "status", "stubborn", "--json").stdout)["programs"]
        wait_until(lambda: ignores_term(stubborn["pid"]), "the shell to ignore TERM")
        done = svctl(daemon, "shutdown")
        assert done.returncode == 4, done.stderr
        assert done.stderr.startswith("svctl: the daemon had to SIGKILL stubborn (pgid ")
        assert daemon.process.wait(timeout=30) == 4
    finally:
        stop_daemon(daemon)


#: Writes out1, err1, out2, err2... each line only once the one before is in its log file, so
#: the order in which the daemon read them is the order in which they were written.
_ALTERNATE = r"""
say() {
  f=logs/p.stdout.log; [ "$1" = 2 ] && f=logs/p.stderr.log
  echo "$2" >&"$1"
  until grep -qx "$2" "$f" 2>/dev/null; do sleep 0.01; done
}
for i in 1 2 3 4 5; do say 1 "out$i"; say 2 "err$i"; done
say 1 done
exec sleep 3600
"""


def test_logs_n_counts_over_both_streams_interleaved_on_stdout(tmp_path: Path) -> None:
    program = (
        "[programs.p]\n"
        f"command = ['sh', '-c', {json.dumps(_ALTERNATE)}]\n"
        "start_seconds = 0\n"
        f"cwd = {json.dumps(str(tmp_path))}\n"
    )
    with running(tmp_path, program) as daemon:
        log = tmp_path / "logs" / "p.stdout.log"
        wait_until(lambda: log.exists() and b"done" in log.read_bytes(), "the last line")
        last = svctl(daemon, "logs", "p", "-n", "4")
        assert (last.returncode, last.stderr) == (0, "")
        assert last.stdout.splitlines() == ["err4", "out5", "err5", "done"]
        marked = svctl(daemon, "logs", "p", "-n", "3", "--mark-stream")
        assert marked.stdout.splitlines() == ["stdout | out5", "stderr | err5", "stdout | done"]
        argv, env = svctl_command(daemon, "logs", "p", "-n", "100")
        grep = subprocess.run(
            f"{shlex.join(argv)} | grep -c err",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert grep.stdout.strip() == "5"
