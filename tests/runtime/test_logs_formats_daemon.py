"""Log formats through a real daemon: JSON-lines files that keep every byte and read back as the
program's output, time rotation of a file left from an earlier day, and ``since`` on the logs
request (the protocol directly: the client has no such argument yet), alone and followed live
with no gap and no repeat."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.protocol import messages as m
from svctl import Client, LogChunk
from tests.daemon_harness import running
from tests.runtime.test_logs_daemon import RawClient

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PYTHON = sys.executable
WAIT = 20.0


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short private folder under /tmp (a Unix socket path must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="svl-fmt-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def program(name: str, script: str, log: str, *, autostart: bool = False) -> str:
    argv = json.dumps([PYTHON, "-c", script])
    return f"""
[programs.{name}]
command = {argv}
autostart = {"true" if autostart else "false"}
autorestart = "never"
start_seconds = 0
log = {{ {log} }}
"""


#: Writes ``before 0..4``, waits for SIGUSR1, writes ``after 0..4``, then waits again.
BEFORE_AFTER = """\
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
for i in range(5):
    os.write(1, b"before %d\\n" % i)
signal.sigwait([signal.SIGUSR1])
for i in range(5):
    os.write(1, b"after %d\\n" % i)
signal.sigwait([signal.SIGUSR1])
"""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def file_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def logs_of(raw: RawClient, **fields: object) -> tuple[bytes, m.ServerMessage]:
    """Send a logs request; the bytes of its chunks and the message that ended it."""
    raw.send(m.Logs(id=1, **fields))  # type: ignore[arg-type]
    data = b""
    while isinstance(msg := raw.receive(), m.LogChunk):
        data += msg.data
    return data, msg


# -- JSON lines -----------------------------------------------------------------------------------


def test_json_log_files_keep_every_byte_and_read_back_as_the_output(folder: Path) -> None:
    script = (
        "import os\n"
        "os.write(1, b'one\\n'); os.write(1, b't'); os.write(1, b'wo\\n\\xff\\xfe bad\\n')\n"
        "os.write(2, b'err line\\n')\n"
        "os.write(1, b'no newline at the end')\n"
    )
    stdout = folder / "logs" / "j.stdout.log"
    config = program("j", script, 'format = "json"')
    with running(folder, config) as daemon, Client(daemon.socket) as client:
        client.start("j")
        client.wait("j", state="EXITED", timeout=WAIT)
        # The last line has no newline: it is written when the pipe ends.
        wait_for(lambda: file_lines(stdout) == 4, "the unfinished last line")
        got = b"".join(
            item.data for item in client.logs("j", "stdout", 10) if isinstance(item, LogChunk)
        )
    objects = [json.loads(line) for line in stdout.read_bytes().splitlines()]
    assert [(o["stream"], o["line"], o.get("partial", False)) for o in objects] == [
        ("stdout", "one", False),
        ("stdout", "two", False),
        ("stdout", "\ufffd\ufffd bad", False),
        ("stdout", "no newline at the end", True),
    ]
    assert objects[2]["bytes_b64"] == "//4gYmFk"
    assert all(o["time"].endswith("Z") and len(o["time"]) == 27 for o in objects)
    (err,) = [json.loads(x) for x in (folder / "logs" / "j.stderr.log").read_bytes().splitlines()]
    assert (err["stream"], err["line"]) == ("stderr", "err line")
    assert got == b"one\ntwo\n\xff\xfe bad\nno newline at the end"


def test_a_line_held_back_at_the_subscription_is_sent_once(folder: Path) -> None:
    script = (
        "import os, signal\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
        "os.write(1, b'first\\nabc')\n"
        "signal.sigwait([signal.SIGUSR1])\n"
        "os.write(1, b'def\\n')\n"
        "signal.sigwait([signal.SIGUSR1])\n"
    )
    config = program("held", script, 'format = "json"', autostart=True)
    with running(folder, config) as daemon, Client(daemon.socket) as client:
        client.wait("held", state="RUNNING", timeout=WAIT)
        path = folder / "logs" / "held.stdout.log"
        wait_for(lambda: file_lines(path) == 1, "the first line")
        (status,) = client.status("held")
        raw = RawClient(daemon.socket)
        try:
            raw.send(m.Logs(id=1, name="held", lines=5, follow=True))
            data = b""
            while not data.endswith(b"abc"):  # the held part of the line comes from the tail
                msg = raw.receive()
                assert isinstance(msg, m.LogChunk), msg
                data += msg.data
            assert status.pid is not None
            os.kill(status.pid, signal.SIGUSR1)
            while not data.endswith(b"\n"):
                msg = raw.receive()
                assert isinstance(msg, m.LogChunk), msg
                data += msg.data
        finally:
            raw.close()
    assert data == b"first\nabcdef\n"


def test_a_json_follow_goes_on_from_the_tail_with_no_gap_and_no_repeat(folder: Path) -> None:
    script = (  # each number in two writes: the file holds back half a line now and then
        "import os, time\n"
        "for i in range(10**9):\n"
        "    os.write(1, b'%d' % i); os.write(1, b'\\n'); time.sleep(0.002)\n"
    )
    log = 'format = "json"'
    with running(folder, program("counter", script, log, autostart=True)) as daemon:
        with Client(daemon.socket) as client:
            client.wait("counter", state="RUNNING", timeout=WAIT)
        path = folder / "logs" / "counter.stdout.log"
        wait_for(lambda: file_lines(path) >= 100, "some lines")
        raw = RawClient(daemon.socket)
        try:
            raw.send(m.Logs(id=1, name="counter", lines=50, follow=True, since=0.0))
            data = b""
            while data.count(b"\n") < 400:
                msg = raw.receive()
                assert isinstance(msg, m.LogChunk), msg
                data += msg.data
        finally:
            raw.close()
    numbers = [int(n) for n in data.split(b"\n")[:-1]]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


# -- since ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("log", ['format = "json"', "timestamps = true"])
def test_since_sends_only_the_lines_written_at_or_after_it(folder: Path, log: str) -> None:
    path = folder / "logs" / "ba.stdout.log"
    with running(folder, program("ba", BEFORE_AFTER, log, autostart=True)) as daemon:
        with Client(daemon.socket) as client:
            client.wait("ba", state="RUNNING", timeout=WAIT)
            wait_for(lambda: file_lines(path) == 5, "the lines before")
            since = time.time()  # after the lines before were written...
            time.sleep(0.01)  # ...and before the lines after (stamps are to the millisecond)
            (status,) = client.status("ba")
            assert status.pid is not None
            os.kill(status.pid, signal.SIGUSR1)
            wait_for(lambda: file_lines(path) == 10, "the lines after")
        raw = RawClient(daemon.socket)
        try:
            data, end = logs_of(raw, name="ba", lines=m.MAX_LOG_LINES, since=since)
            everything, _ = logs_of(raw, name="ba", lines=m.MAX_LOG_LINES, since=since - 3600)
        finally:
            raw.close()
    assert isinstance(end, m.End)
    if "timestamps" in log:  # the tail is the file's lines, stamps and all
        data = b"".join(line.split(b" ", 1)[1] + b"\n" for line in data.splitlines())
        everything = b"".join(line.split(b" ", 1)[1] + b"\n" for line in everything.splitlines())
    assert data == b"".join(b"after %d\n" % i for i in range(5))
    assert everything.startswith(b"before 0\n")
    assert everything.endswith(data)


def test_since_on_lines_without_their_time_is_a_bad_request(folder: Path) -> None:
    timed = program("timed", "print('y')", "timestamps = true")
    programs = program("plain", "print('x')", "") + timed
    with running(folder, programs) as daemon:
        raw = RawClient(daemon.socket)
        try:
            _, refused = logs_of(raw, name="plain", since=time.time())
            _, fine = logs_of(raw, name="timed", stream="stdout", since=time.time())
            _, every = logs_of(raw, since=time.time())
        finally:
            raw.close()
    assert isinstance(refused, m.Error)
    assert refused.code is m.ErrorCode.BAD_REQUEST
    assert "plain stdout" in refused.message
    assert "timestamps" in refused.message
    assert isinstance(fine, m.End)
    assert isinstance(every, m.Error)
    assert "plain" in every.message
    assert "timed" not in every.message


# -- time rotation --------------------------------------------------------------------------------


def test_a_log_file_from_an_earlier_day_is_rotated_at_the_first_line(folder: Path) -> None:
    logs = folder / "logs"
    logs.mkdir(mode=0o750)
    path = logs / "daily.stdout.log"
    path.write_bytes(b"the day before yesterday\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(path, (two_days_ago, two_days_ago))
    script = "import os; os.write(1, b'today\\n')"
    config = program("daily", script, 'rotate_every = "1d", backups = 3')
    with running(folder, config) as daemon, Client(daemon.socket) as client:
        client.start("daily")
        client.wait("daily", state="EXITED", timeout=WAIT)
    assert path.read_bytes() == b"today\n"
    assert (logs / "daily.stdout.log.1").read_bytes() == b"the day before yesterday\n"


# -- the tail after a restart ---------------------------------------------------------------------


def test_after_a_daemon_restart_the_tail_reads_the_file_it_found(folder: Path) -> None:
    script = "import os; os.write(1, b'l1\\nl2\\nl3\\n')"
    programs = program("p", script, "")
    with running(folder, programs) as daemon, Client(daemon.socket) as client:
        client.start("p")
        client.wait("p", state="EXITED", timeout=WAIT)
    with running(folder, programs) as daemon, Client(daemon.socket) as client:
        got = b"".join(
            item.data for item in client.logs("p", lines=2) if isinstance(item, LogChunk)
        )
    assert got == b"l2\nl3\n"
