"""Logs through a real daemon: every byte of a flood in its file, rotation that keeps lines
whole, symlinked log paths, a crash's last line before its exit event, tail-then-follow without
a gap, a SIGSTOPped follower, and the counters ``svctl status --json`` shows. (The log faults, a
full filesystem among them, are in tests/faults/test_log_faults.py.)"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import NEED_DATA, Connection, Role
from svctl import Client, LogChunk, NoSuchProgram
from tests.daemon_harness import ROOT, running

if TYPE_CHECKING:
    from collections.abc import Iterator


PROGRAMS = ROOT / "tests" / "programs"
sys.path.insert(0, str(PROGRAMS))
import flood  # noqa: E402

PYTHON = sys.executable
MB = 1_000_000


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short private folder under /tmp (a Unix socket path must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="svl-logs-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def toml_argv(*argv: object) -> str:
    return json.dumps([str(a) for a in argv])


def flood_program(name: str, total: int, *extra: object, log: str = "") -> str:
    return f"""
[programs.{name}]
command = {toml_argv(PYTHON, PROGRAMS / "flood.py", total, *extra)}
autostart = false
autorestart = "never"
start_seconds = 0
log = {{ {log} }}
"""


def stats_of(client: Client, name: str, stream: str = "stdout") -> m.LogStreamStats:
    (status,) = client.status(name, stats=True)
    return next(s for s in status.logs if s.stream == stream)


def run_to_exit(client: Client, name: str, timeout: float = 60) -> None:
    (started,) = client.start(name)
    assert started.ok, started.message
    client.wait(name, state="EXITED", timeout=timeout)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def counter(pause: float) -> str:
    """A program printing 0, 1, 2... one line every ``pause`` seconds."""
    script = (
        "import os, time\n"
        "for i in range(10**9):\n"
        f"    os.write(1, b'%d\\n' % i); time.sleep({pause})\n"
    )
    return toml_argv(PYTHON, "-c", script)


# -- every byte ------------------------------------------------------------------------------------


def test_a_50_mb_flood_is_in_its_file_whole_and_in_order_before_its_exit(folder: Path) -> None:
    total = 50 * MB
    with running(folder, flood_program("flood", total)) as daemon, Client(daemon.socket) as c:
        run_to_exit(c, "flood")
        # EXITED is published only after the drain: nothing may still be on its way.
        stats = stats_of(c, "flood")
        data = (folder / "logs" / "flood.stdout.log").read_bytes()
    assert len(data) == total
    assert sha(data) == flood.expected(total)
    assert (stats.bytes_read, stats.bytes_written, stats.bytes_dropped) == (total, total, 0)
    assert stats.depth == 0
    assert stats.policy == "block"


def chain(path: Path) -> bytes:
    backups = sorted(
        (p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: -int(p.suffix[1:]),
    )
    return b"".join(p.read_bytes() for p in [*backups, path])


def test_rotation_keeps_every_byte_and_the_tail_reads_across_it(folder: Path) -> None:
    total = 12 * MB
    program = flood_program("rot", total, log="max_bytes = 1000000, backups = 50")
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        run_to_exit(client, "rot")
        path = folder / "logs" / "rot.stdout.log"
        assert sha(chain(path)) == flood.expected(total)
        assert len(list(path.parent.glob("rot.stdout.log.*"))) == 11  # + the full current one
        got = b"".join(
            item.data for item in client.logs("rot", lines=25_000) if isinstance(item, LogChunk)
        )
    expected = b"".join(flood.lines(total))
    assert got == expected[-25_000 * 100 :]  # from three files


def test_rotation_never_cuts_a_line_that_a_program_writes_whole(folder: Path) -> None:
    count = 1000
    script = (  # a line now and then: the daemon writes each one on its own
        "import os, time\n"
        f"for i in range({count}):\n"
        "    os.write(1, b'%d %s\\n' % (i, b'x' * (i * 7 % 53))); time.sleep(0.001)\n"
    )
    program = f"""
[programs.lines]
command = {toml_argv(PYTHON, "-c", script)}
autostart = false
autorestart = "never"
start_seconds = 0
log = {{ max_bytes = 500, backups = 200 }}
"""
    expected = [b"%d %s\n" % (i, b"x" * (i * 7 % 53)) for i in range(count)]
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        run_to_exit(client, "lines")
    path = folder / "logs" / "lines.stdout.log"
    backups = sorted(
        (p for p in path.parent.glob("lines.stdout.log.*")), key=lambda p: -int(p.suffix[1:])
    )
    files = [p.read_bytes() for p in [*backups, path]]
    assert len(files) > 50
    assert all(f.endswith(b"\n") and len(f) <= 500 for f in files)
    # Every line whole in exactly one file, none lost or repeated.
    assert [line for f in files for line in f.splitlines(keepends=True)] == expected


# -- log paths -------------------------------------------------------------------------------------


def test_a_symlink_at_the_log_path_is_refused_with_a_clear_error(folder: Path) -> None:
    target = folder / "precious"
    target.write_bytes(b"keep me\n")
    (folder / "logs").mkdir(mode=0o750)
    (folder / "logs" / "sneaky.stdout.log").symlink_to(target)
    program = """
[programs.sneaky]
command = ["echo", "overwrite"]
autostart = false
start_seconds = 0
start_retries = 0
"""
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        (result,) = client.start("sneaky")
        log = daemon.log()
    assert not result.ok
    assert "symlink" in result.message
    assert "sneaky.stdout.log" in result.message
    assert "is a symlink: refused" in log
    assert target.read_bytes() == b"keep me\n"


# -- exit and follow -------------------------------------------------------------------------------


class RawClient:
    """One protocol connection, read in order: to see how a log chunk and an event interleave."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.conn = Connection(Role.CLIENT)
        self.send(m.Hello(version=m.PROTOCOL_VERSION, client="test"))
        assert isinstance(self.receive(), m.Welcome)

    def send(self, msg: m.ClientMessage) -> None:
        self.sock.sendall(self.conn.send(msg))

    def receive(self) -> m.ServerMessage:
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                assert isinstance(event, m.Reply), event
                return event  # type: ignore[return-value]
            self.conn.receive_data(self.sock.recv(1 << 20))

    def close(self) -> None:
        self.sock.close()


def test_a_crash_s_last_line_is_followed_and_filed_before_its_exit_event(folder: Path) -> None:
    program = f"""
[programs.crash]
command = {toml_argv(PYTHON, PROGRAMS / "printer_then_crash.py", 3000, "famous last words")}
autostart = false
autorestart = "never"
start_seconds = 0
"""
    with running(folder, program) as daemon:
        raw = RawClient(daemon.socket)
        try:
            raw.send(m.Logs(id=1, name="crash", lines=0, follow=True))
            raw.send(m.Subscribe(id=2))
            assert isinstance(raw.receive(), m.Ok)
            with Client(daemon.socket) as client:
                client.start("crash", wait=False)
            followed = b""
            while True:
                msg = raw.receive()
                if isinstance(msg, m.LogChunk):
                    followed += msg.data
                elif isinstance(msg, m.StateChanged) and msg.new is m.ProgramState.EXITED:
                    filed = (folder / "logs" / "crash.stdout.log").read_bytes()
                    break
        finally:
            raw.close()
    assert msg.exit_signal == "KILL"
    assert followed.endswith(b"line 2999\nfamous last words\n")
    assert filed.endswith(b"famous last words\n")
    assert filed == followed


def test_follow_goes_on_from_the_tail_with_no_gap_and_no_repeat(folder: Path) -> None:
    program = f"""
[programs.counter]
command = {counter(0.002)}
start_seconds = 0
"""
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        client.wait("counter", state="RUNNING", timeout=10)
        time.sleep(0.3)
        data = b""
        stream = client.logs("counter", lines=50, follow=True)
        for item in stream:
            assert isinstance(item, LogChunk), item
            data += item.data
            if data.count(b"\n") >= 400:
                break
        stream.close()
    numbers = [int(n) for n in data.split(b"\n")[:-1]]
    assert len(numbers) >= 400
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_a_sigstopped_follower_slows_neither_the_file_nor_another_follower(folder: Path) -> None:
    total = 30 * MB
    program = flood_program("steady", total, "--write", 250_000, "--pause", 0.002)
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        followers = []
        try:
            env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'clients'}"}
            for n in (1, 2):
                out = folder / f"follower{n}.out"
                argv = [PYTHON, PROGRAMS / "log_follower.py", daemon.socket, "steady", total, out]
                process = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, env=env)
                followers.append(process)
            deadline = time.monotonic() + 20
            while stats_of(client, "steady").followers < 2:
                assert time.monotonic() < deadline, "the followers did not subscribe"
                time.sleep(0.02)
            stopped, live = followers
            stopped.send_signal(signal.SIGSTOP)
            run_to_exit(client, "steady")
            stats = stats_of(client, "steady")
            out, _ = live.communicate(timeout=30)
        finally:
            for process in followers:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=10)
                if process.stdout is not None:
                    process.stdout.close()
    assert sha((folder / "logs" / "steady.stdout.log").read_bytes()) == flood.expected(total)
    assert stats.bytes_written == total
    assert stats.lagged >= 1  # the stopped follower fell behind...
    summary = json.loads(out)
    assert summary["received"] + summary["lagged"] == total  # ...the live one missed nothing
    if summary["gaps"] == 0:  # (unless this machine was too busy to let it keep up)
        assert sha((folder / "follower2.out").read_bytes()) == flood.expected(total)


# -- the request's edges ---------------------------------------------------------------------------


def test_logs_of_an_unknown_program_names_the_known_ones(folder: Path) -> None:
    with (
        running(folder, flood_program("flood", 10)) as daemon,
        Client(daemon.socket) as client,
        pytest.raises(NoSuchProgram) as refused,
    ):
        list(client.logs("flod"))
    assert "flood" in refused.value.known


def test_following_every_program_interleaves_them(folder: Path) -> None:
    programs = "".join(
        f"\n[programs.{name}]\ncommand = {counter(0.01)}\nstart_seconds = 0\n"
        for name in ("left", "right")
    )
    seen: dict[str, bytes] = {"left": b"", "right": b""}
    with running(folder, programs) as daemon, Client(daemon.socket) as client:
        stream = client.logs(None, lines=0, follow=True)
        for item in stream:
            assert isinstance(item, LogChunk)
            seen[item.program] += item.data
            if all(data.count(b"\n") >= 5 for data in seen.values()):
                break
        stream.close()
    for data in seen.values():
        numbers = [int(n) for n in data.split(b"\n")[:-1]]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_at_shutdown_what_a_program_wrote_reaches_its_file(folder: Path) -> None:
    total = 20 * MB
    argv = toml_argv("sh", "-c", f'"$0" "{PROGRAMS / "flood.py"}" {total}; exec sleep 3600', PYTHON)
    program = f"\n[programs.busy]\ncommand = {argv}\nstart_seconds = 0\n"
    with running(folder, program) as daemon:
        with Client(daemon.socket) as client:
            client.wait("busy", state="RUNNING", timeout=10)
            client.shutdown(wait=True)
        daemon.process.wait(timeout=30)
        log = daemon.log()
    data = (folder / "logs" / "busy.stdout.log").read_bytes()
    assert data == b"".join(flood.lines(total))[: len(data)]  # a prefix: no hole, no garbage
    assert "could not be written" not in log
