"""``svctl`` as a user runs it: ``main(argv)`` in-process for output and exit codes, and a few
real subprocesses (``--help``, ``events`` ended by Ctrl-C)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from svctl import DEFAULT_SOCKET, Client, HistoryEntry
from svctl._json_out import StatusDocument
from svctl.cli import COMMANDS, build_parser, main, socket_path, typed_command
from svctl.errors import UsageError
from tests.daemon_harness import ROOT, start_daemon, stop_daemon, write_config
from tests.daemon_harness import svctl_in_process as run

if TYPE_CHECKING:
    from tests.daemon_harness import Daemon

SUBCOMMANDS = [
    "status",
    "start",
    "stop",
    "restart",
    "scale",
    "logs",
    "history",
    "wait",
    "progress",
    "events",
    "webhooks",
    "reload",
    "shutdown",
    "ok",
    "signal",
    "completion",
]
KNOWN = "known: crasher, flaky, stubborn, talker, web, worker"


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "clients")])
    env.pop("SVCTL_SOCKET", None)
    return env


# -- without a daemon --------------------------------------------------------------------------


def test_help_in_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "svctl.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env=subprocess_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "exit codes:" in done.stdout
    assert "examples:" in done.stdout
    for name in SUBCOMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help_with_examples(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, _ = run(capsys, name, "--help")
    assert code == 0
    assert f"usage: svctl {name}" in out
    assert f"svctl {name}" in out.split("examples:")[1]


def test_parser_knows_every_request() -> None:
    parser = build_parser()
    assert parser.prog == "svctl"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["start"],
        ["stop", "web", "--all"],
        ["wait"],
        ["wait", "web", "--state", "sleepy"],
        ["history", "-n", "-1"],
        ["--timeout", "0", "ok"],
        ["--timeout", "soon", "ok"],
        ["logs"],
        ["logs", "web", "--stream", "stdin"],
        ["signal"],
        ["signal", "web", "HUP", "--all"],
        ["scale", "web"],
        ["scale", "web", "-1"],
        ["restart", "web", "--max-unavailable", "many"],
    ],
    ids=" ".join,
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "usage: svctl" in err
    assert "Traceback" not in err


def test_unreachable_daemon_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nope.sock"
    code, out, err = run(capsys, "--socket", str(path), "status")
    assert (code, out) == (3, "")
    assert err == f"svctl: no daemon listening on {path} (No such file or directory)\n"


def test_global_options_work_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "ok", "--socket", str(tmp_path / "nope.sock"))
    assert code == 3
    assert "nope.sock" in err


def test_unreadable_config_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    code, out, err = run(capsys, "-c", str(path), "status")
    assert (code, out) == (2, "")
    assert err == f"svctl: {path}: cannot read the file: No such file or directory\n"


def test_a_socket_that_is_not_a_path_is_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[daemon]\nsocket = 3\n")
    assert socket_path(None, str(path), {}) == DEFAULT_SOCKET
    assert capsys.readouterr().err == (
        f"svctl: warning: {path}: [daemon].socket is not a path; using the default socket"
        f" {DEFAULT_SOCKET}\n"
    )


def test_a_config_being_edited_still_finds_the_socket(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "editing.toml"
    path.write_text('[daemon]\nsocket = "run/ctl.sock"\n\n[programs.web]\ncommand = [\n')
    assert socket_path(None, str(path), {}) == str(tmp_path / "run" / "ctl.sock")
    err = capsys.readouterr().err
    assert err.startswith(f"svctl: warning: {path}: not valid TOML (")
    assert err.endswith("read [daemon].socket from its [daemon] table alone\n")
    assert err.count("\n") == 1


def test_only_the_socket_is_read_of_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A config the daemon would refuse (an unknown field) still names its socket, silently."""
    path = tmp_path / "typo.toml"
    path.write_text('[daemon]\nsocket = "ctl.sock"\n[programs.web]\nstop_timout = 1\n')
    assert socket_path(None, str(path), {}) == str(tmp_path / "ctl.sock")
    assert capsys.readouterr().err == ""


def test_socket_lookup_order(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    from_config = str(tmp_path / "run" / "ctl.sock")
    env = {"SVCTL_SOCKET": "/env.sock"}
    assert socket_path("/flag.sock", config, env) == "/flag.sock"
    assert socket_path(None, config, env) == "/env.sock"
    assert socket_path(None, config, {}) == from_config
    assert socket_path(None, None, {}) == DEFAULT_SOCKET
    with pytest.raises(UsageError):
        socket_path(None, str(tmp_path / "missing.toml"), {})


# -- against a daemon --------------------------------------------------------------------------


def test_ok(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    assert run(capsys, "--socket", running_daemon.socket, "ok") == (0, "", "")


def test_socket_from_config_and_environment(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "-c", str(running_daemon.config), "ok")[0] == 0
    monkeypatch.setenv("SVCTL_SOCKET", running_daemon.socket)
    assert run(capsys, "ok")[0] == 0


def test_a_half_edited_config_does_not_lock_the_operator_out(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    with running_daemon.config.open("a") as config:
        config.write('\n[programs.new]\ncommand = ["sleep", \n')
    code, out, err = run(capsys, "-c", str(running_daemon.config), "status", "web")
    assert code == 0, err
    assert out.startswith("NAME")
    assert err.startswith(f"svctl: warning: {running_daemon.config}: not valid TOML")


def test_the_global_timeout_bounds_wait(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    """``--timeout`` before ``wait`` used to be ignored: this waited for ever."""
    code, out, err = run(
        capsys,
        "--socket",
        running_daemon.socket,
        "--timeout",
        "1",
        "wait",
        "web",
        "--state",
        "stopped",
    )
    assert (code, out) == (1, "")
    assert err.startswith("svctl: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("argv", [["events"], ["logs", "web", "-f"], ["logs", "--all", "-f"]])
def test_the_global_timeout_bounds_how_long_a_stream_listens(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon, argv: list[str]
) -> None:
    """The stream is closed from a timer thread while this thread is blocked reading it."""
    code, _, err = run(capsys, "--socket", running_daemon.socket, "--timeout", "0.5", *argv)
    assert code == 0
    assert "svctl:" not in err  # the programs' own stderr lines may be there


def test_the_global_timeout_bounds_a_blocking_stop(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    """stubborn ignores SIGTERM (its SIGKILL comes after 2 s): 0.3 s is not enough."""
    assert run(capsys, "--socket", running_daemon.socket, "start", "stubborn")[0] == 0
    code, _, err = run(
        capsys, "--socket", running_daemon.socket, "--timeout", "0.3", "stop", "stubborn"
    )
    assert code == 1
    assert "in time" in err


def test_status_table(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    code, out, err = run(capsys, "--socket", running_daemon.socket, "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "STATE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "LAST-EXIT",
        "MESSAGE",
    ]
    assert [line.split()[0] for line in lines[1:]] == [
        "web",
        "worker",
        "crasher",
        "flaky",
        "talker",
        "stubborn",
    ]


def test_status_json(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    code, out, _ = run(capsys, "--socket", running_daemon.socket, "status", "--json", "web")
    assert code == 0
    [line] = out.splitlines()
    [status] = msgspec.json.decode(line, type=StatusDocument).programs
    assert status.name == "web"


def test_unknown_program_exits_1_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    code, out, err = run(capsys, "--socket", running_daemon.socket, "status", "wbe")
    assert (code, out) == (1, "")
    assert err == f"svctl: no program named 'wbe' ({KNOWN}); did you mean 'web'?\n"


def test_stop_and_start_print_outcomes(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    sock = running_daemon.socket
    assert run(capsys, "--socket", sock, "wait", "web", "--state", "running", "--timeout", "10")[
        :2
    ] == (0, "web: running\n")
    assert run(capsys, "--socket", sock, "stop", "web") == (0, "web: stopped\n", "")
    assert run(capsys, "--socket", sock, "start", "web") == (0, "web: running\n", "")


def test_failed_start_exits_1(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    code, out, err = run(capsys, "--socket", running_daemon.socket, "start", "flaky")
    assert (code, err) == (1, "")
    assert out.startswith("flaky: FATAL: ")


def test_wait_timeout_exits_1(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    argv = ["--socket", running_daemon.socket, "wait", "web", "--state", "stopped"]
    code, out, err = run(capsys, *argv, "--timeout", "0.2")
    assert (code, out) == (1, "")
    assert err.startswith("svctl: ")
    assert err.count("\n") == 1


def test_history(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    sock = running_daemon.socket
    run(capsys, "--socket", sock, "wait", "web", "--timeout", "10")
    code, out, _ = run(capsys, "--socket", sock, "history", "web")
    assert code == 0
    assert "  web  spawned  pid " in out
    code, out, _ = run(capsys, "--socket", sock, "history", "web", "-n", "1", "--json")
    [line] = out.splitlines()
    assert msgspec.json.decode(line, type=HistoryEntry).program == "web"


def test_reload(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    assert run(capsys, "--socket", running_daemon.socket, "reload") == (0, "no changes\n", "")
    running_daemon.config.write_text("[daemon]\nsocket = 3\n")
    code, _, err = run(capsys, "--socket", running_daemon.socket, "reload")
    assert code == 2
    assert err.startswith("svctl: ")


def test_logs_print_both_streams_on_stdout(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    sock = running_daemon.socket
    run(capsys, "--socket", sock, "wait", "talker", "--timeout", "10")
    code, out, err = run(capsys, "--socket", sock, "logs", "talker", "-n", "5")
    assert (code, sorted(out.splitlines()), err) == (0, ["hello", "oops"], "")
    assert run(capsys, "--socket", sock, "logs", "talker", "--stream", "stderr") == (
        0,
        "oops\n",
        "",
    )
    code, _, err = run(capsys, "--socket", sock, "logs", "wbe")
    assert (code, err) == (1, f"svctl: no program named 'wbe' ({KNOWN}); did you mean 'web'?\n")


def test_shutdown_then_unreachable(
    capsys: pytest.CaptureFixture[str], running_daemon: Daemon
) -> None:
    assert run(capsys, "--socket", running_daemon.socket, "shutdown") == (0, "", "")
    assert running_daemon.process.wait(timeout=20) == 0
    assert run(capsys, "--socket", running_daemon.socket, "ok")[0] == 3


def test_events_until_ctrl_c(running_daemon: Daemon) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "svctl.cli", "--socket", running_daemon.socket, "events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        assert proc.stdout is not None
        with Client(running_daemon.socket) as client:
            client.wait("web", timeout=10)
            # The subscription is live once the first change shows up; keep stopping and
            # starting until one does.
            seen = b""
            deadline = time.monotonic() + 20
            while b"web  RUNNING -> STOPPING" not in seen:
                assert time.monotonic() < deadline, seen
                client.stop("web")
                client.start("web")
                while select.select([proc.stdout], [], [], 0.5)[0]:
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    seen += chunk
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 130
        assert err == b""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaped, and its pipes closed


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")
def test_refused_uid_exits_1(tmp_path: Path) -> None:
    """A uid the daemon does not allow gets its refusal in words (the socket is 0666)."""
    shared = Path(tempfile.mkdtemp(prefix="svl-"))
    try:
        shared.chmod(0o711)
        config = tmp_path / "open.toml"
        config.write_text(
            "[daemon]\n"
            f'socket = "{shared}/ctl.sock"\n'
            "socket_mode = 0o666\n"
            'state_db = "state/db"\n'
            'log_dir = "logs"\n'
        )
        daemon = start_daemon(config, socket=str(shared / "ctl.sock"))
        try:
            code, err = _as_nobody(["--socket", daemon.socket, "ok"])
        finally:
            stop_daemon(daemon)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert code == 1, err
    assert err == "svctl: uid 65534 may not use this daemon\n"


def _as_nobody(argv: list[str]) -> tuple[int, str]:
    """Run ``main(argv)`` in a forked child that dropped to uid/gid 65534."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            sys.stderr = open(write_end, "w", closefd=False)  # noqa: SIM115
            code = main(argv)
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(write_end)
    with open(read_end) as reader:
        err = reader.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


def test_logs_reopen(capsys: pytest.CaptureFixture[str], running_daemon: Daemon) -> None:
    sock = running_daemon.socket
    code, out, err = run(capsys, "--socket", sock, "logs", "--reopen")
    assert (code, err) == (0, "")
    assert out.startswith("reopening ")
    code, out, _ = run(capsys, "--socket", sock, "logs", "web", "--reopen")
    assert code == 0
    assert out.startswith("reopening ")
    code, _, err = run(capsys, "--socket", sock, "logs", "nope", "--reopen")
    assert code == 1
    assert "no program named 'nope'" in err


def test_the_command_list_is_the_parsers() -> None:
    subparsers = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    assert tuple(a.dest for a in subparsers._choices_actions) == COMMANDS


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["status"], "status"),
        (["--socket", "status", "logs", "web"], "logs"),  # an option's value named like one
        (["-c", "x.toml", "--read-only", "--timeout", "3", "stop", "web"], "stop"),
        (["--socket=/run/s.sock", "ok"], "ok"),
        (["--color", "never", "status"], "status"),
        (["stauts"], None),  # mistyped: the full parser says what there is
        (["--help"], None),
        (["--", "status"], None),
        ([], None),
    ],
)
def test_the_typed_command_is_found_before_parsing(argv: list[str], command: str | None) -> None:
    assert typed_command(argv) == command


def test_a_mistyped_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stauts"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'stauts'" in err
    for command in ("status", "logs", "completion"):
        assert command in err
