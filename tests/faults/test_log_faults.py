"""Log faults, each through a real daemon and bounded in time: a full filesystem, a log file
renamed or deleted under the daemon, a reopen asked for (the ``reopen_logs`` request, SIGUSR1),
and a log target that stalls at shutdown. Mounts are undone by path, processes ended through the
daemon harness (by session and token, never by name)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.logs import jsonlines
from svctl import Client
from tests.daemon_harness import running, start_daemon, stop_daemon, write_config
from tests.faults.tmpfs import fill, small_tmpfs
from tests.runtime.test_logs_daemon import (
    RawClient,
    counter,
    flood,
    flood_program,
    sha,
    stats_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MB = 1_000_000


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short private folder under /tmp (a Unix socket path must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="svl-logfault-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_for(check: Callable[[], object], what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def open_files(pid: int) -> list[str]:
    """What the process' descriptors point to (``/proc/PID/fd``)."""
    names = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            names.append(os.readlink(fd))
    return names


def numbers_in(data: bytes) -> list[int]:
    return [int(n) for n in data.split(b"\n")[:-1]]


def grows(path: Path, beyond: int = 0) -> Callable[[], bool]:
    return lambda: path.exists() and path.stat().st_size > beyond


# -- a full filesystem -----------------------------------------------------------------------------


def test_a_full_filesystem_is_survived_counted_and_recovered_from(folder: Path) -> None:
    with small_tmpfs(folder / "full", "4m") as full:
        total = 2 * MB
        programs = (
            flood_program(
                "held",
                total,
                "--write",
                100_000,
                log=f'stdout = "{full}/held.log", queue_bytes = 65536',  # < what it writes
            )
            + flood_program(
                "dropper",
                total,
                log=f'stdout = "{full}/dropper.log", overflow = "drop-newest", queue_bytes = 65536',
            )
            + f"""
[programs.bystander]
command = {counter(0.01)}
start_seconds = 0
"""
        )
        with running(folder, programs) as daemon, Client(daemon.socket) as client:
            client.wait("bystander", state="RUNNING", timeout=10)
            filler = fill(full)
            client.start("held", "dropper")

            # drop-newest: the program is never held; what could not be written is counted.
            client.wait("dropper", state="EXITED", timeout=30)
            dropper = stats_of(client, "dropper")
            assert "No space left" in dropper.error
            assert dropper.write_errors >= 1
            assert dropper.bytes_read == total
            kept = dropper.bytes_written + dropper.bytes_dropped + dropper.depth
            assert dropper.bytes_read == kept

            # block: the program is held (still running), the failure shows in status...
            wait_for(lambda: stats_of(client, "held").write_errors > 0, "a write error")
            (held,) = client.status("held", stats=True)
            assert held.state is m.ProgramState.RUNNING
            assert "No space left" in held.logs[0].error
            # ...and the other programs' logs go on.
            bystander_log = folder / "logs" / "bystander.stdout.log"
            size = bystander_log.stat().st_size
            wait_for(lambda: bystander_log.stat().st_size > size, "the bystander's log to grow")

            filler.unlink()  # space is back: writing resumes and the program goes on
            client.wait("held", state="EXITED", timeout=30)
            stats = stats_of(client, "held")
            assert stats.error == ""
            assert (stats.bytes_read, stats.bytes_written, stats.bytes_dropped) == (total, total, 0)
            assert sha((full / "held.log").read_bytes()) == flood.expected(total)
            log = daemon.log()
        assert re.search(r"held stdout: cannot write .*No space left on device", log)
        assert "held stdout: writing resumed" in log


def test_json_lines_rotated_on_a_full_filesystem_lose_nothing_once_space_is_back(
    folder: Path,
) -> None:
    with small_tmpfs(folder / "full", "4m") as full:
        total = MB
        path = full / "json.log"
        log = (
            f'stdout = "{path}", format = "json", queue_bytes = 65536, max_bytes = 300000, '
            "backups = 50"
        )
        programs = flood_program("json", total, "--write", 100_000, log=log)
        with running(folder, programs) as daemon, Client(daemon.socket) as client:
            filler = fill(full)
            client.start("json")
            wait_for(lambda: stats_of(client, "json").write_errors > 0, "a write error")
            filler.unlink()
            client.wait("json", state="EXITED", timeout=30)
            # The pipe held all it wrote: its exit did not wait for the full disk.
            wait_for(lambda: stats_of(client, "json").bytes_written == total, "all to be written")
            stats = stats_of(client, "json")
        files = [*sorted(full.glob("json.log.*"), key=lambda p: -int(p.suffix[1:])), path]
        contents = [f.read_bytes() for f in files]
    assert len(contents) > 2
    assert (stats.bytes_read, stats.bytes_written, stats.bytes_dropped) == (total, total, 0)
    assert (stats.depth, stats.error) == (0, "")
    program_bytes = []
    for content in contents:  # whole objects in every file, none split by the failures
        for line in content.splitlines():
            item = jsonlines.decode(line)
            assert item is not None, line
            program_bytes.append(item[1])
    assert sha(b"".join(program_bytes)) == flood.expected(total)


# -- renamed, deleted, reopened --------------------------------------------------------------------


def test_a_renamed_log_file_is_reopened_at_its_path_with_nothing_lost(folder: Path) -> None:
    program = f"\n[programs.counter]\ncommand = {counter(0.005)}\nstart_seconds = 0\n"
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        path = folder / "logs" / "counter.stdout.log"
        wait_for(grows(path, 100), "output")
        moved = path.with_name("counter.stdout.log.old")
        path.rename(moved)
        wait_for(grows(path, 100), "a new file at the log path")
        assert str(moved) not in open_files(daemon.process.pid)
        client.stop("counter")  # what it wrote is in the files once it is stopped
        stats = stats_of(client, "counter")
        data = moved.read_bytes() + path.read_bytes()
        log = daemon.log()
    numbers = numbers_in(data)
    assert numbers == list(range(len(numbers)))  # no line lost or repeated across the two
    assert (stats.reopened, stats.write_errors, stats.error) == (1, 0, "")
    assert stats.bytes_written == stats.bytes_read == len(data)
    assert f"reopening {path}: the file was renamed or deleted" in log


def test_a_deleted_log_file_is_created_again_and_not_written_forever(folder: Path) -> None:
    program = f"\n[programs.counter]\ncommand = {counter(0.005)}\nstart_seconds = 0\n"
    with running(folder, program) as daemon, Client(daemon.socket) as client:
        path = folder / "logs" / "counter.stdout.log"
        wait_for(grows(path, 100), "output")
        path.unlink()
        wait_for(grows(path, 100), "the log file to come back")
        assert f"{path} (deleted)" not in open_files(daemon.process.pid)
        stats = stats_of(client, "counter")
        client.stop("counter")
        numbers = numbers_in(path.read_bytes())
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert (stats.reopened, stats.write_errors, stats.error) == (1, 0, "")


IDLE = """
[programs.{name}]
command = ["sh", "-c", "echo {name}; exec sleep 3600"]
start_seconds = 0
"""


def test_a_reopen_request_reopens_the_files_of_an_idle_program_at_once(folder: Path) -> None:
    programs = IDLE.format(name="quiet") + IDLE.format(name="other")
    with running(folder, programs) as daemon, Client(daemon.socket) as client:
        logs = folder / "logs"
        path = logs / "quiet.stdout.log"
        wait_for(grows(path), "output")
        rotated = path.with_name("quiet.stdout.log.1")
        path.rename(rotated)
        other = logs / "other.stdout.log"
        wait_for(grows(other), "the other program's output")
        other.rename(other.with_name("other.stdout.log.1"))
        assert str(rotated) in open_files(daemon.process.pid)  # nothing written: not noticed

        raw = RawClient(daemon.socket)
        try:
            raw.send(m.ReopenLogs(id=1, names=("quiet",)))
            reply = raw.receive()
            raw.send(m.ReopenLogs(id=2, names=("nope",)))
            refused = raw.receive()
        finally:
            raw.close()
        assert isinstance(reply, m.Ok), reply
        assert reply.message == "reopening 2 log files"  # stdout and stderr
        assert isinstance(refused, m.Error)
        assert refused.code is m.ErrorCode.NO_SUCH_PROGRAM

        wait_for(lambda: stats_of(client, "quiet").reopened == 1, "the reopening")
        wait_for(lambda: str(path) in open_files(daemon.process.pid), "the file opened afresh")
        assert str(rotated) not in open_files(daemon.process.pid)
        assert stats_of(client, "other").reopened == 0  # not named: left alone
        assert str(other.with_name("other.stdout.log.1")) in open_files(daemon.process.pid)
    assert rotated.read_bytes() == b"quiet\n"


def test_sigusr1_reopens_every_log_file_for_logrotate(folder: Path) -> None:
    programs = IDLE.format(name="one") + IDLE.format(name="two")
    with running(folder, programs) as daemon, Client(daemon.socket) as client:
        logs = folder / "logs"
        for name in ("one", "two"):
            wait_for(grows(logs / f"{name}.stdout.log"), f"{name}'s output")
        for log_file in logs.glob("*.log"):
            log_file.rename(log_file.with_name(log_file.name + ".1"))  # what logrotate does
        os.kill(daemon.process.pid, signal.SIGUSR1)
        paths = {str(logs / f"{n}.{s}.log") for n in ("one", "two") for s in ("stdout", "stderr")}
        wait_for(lambda: paths <= set(open_files(daemon.process.pid)), "every file to be reopened")
        assert not any(f.endswith(".log.1") for f in open_files(daemon.process.pid))
        for name in ("one", "two"):
            (status,) = client.status(name, stats=True)
            assert [s.reopened for s in status.logs] == [1, 1]
        assert "SIGUSR1 received: reopening 4 log files" in daemon.log()
        # The program goes on: its next lines land in the new file.
        assert client.restart("one")[0].ok
        wait_for(grows(logs / "one.stdout.log"), "output in the new file")
    assert (logs / "one.stdout.log").read_bytes() == b"one\n"


# -- a log target that stalls at shutdown ----------------------------------------------------------


def test_a_log_target_that_stalls_at_shutdown_is_reported_as_such(folder: Path) -> None:
    fifo = folder / "stuck.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, and never read
    program = f"""
[programs.talker]
command = ["sh", "-c", "exec yes hello"]
start_seconds = 0
log = {{ stdout = "{fifo}", max_bytes = 0, queue_bytes = 65536 }}
"""
    config = write_config(folder, program)
    config.write_text(config.read_text().replace("shutdown_timeout = 10", "shutdown_timeout = 2"))
    daemon = start_daemon(config)
    try:
        with Client(daemon.socket) as client:
            wait_for(lambda: stats_of(client, "talker").held_back > 0, "the FIFO to stall")
            client.shutdown()
        status = daemon.process.wait(timeout=40)
        log = daemon.log()
    finally:
        stop_daemon(daemon, grace=0)
        os.close(reader)
    assert status == 5, log
    assert re.search(
        rf"shutdown timed out after 2s with output not yet in its log files: talker stdout: "
        rf"\d+ bytes not yet written to {re.escape(str(fifo))} \(a write to it has not returned\)",
        log,
    ), log
    assert re.search(
        rf"talker stdout: \d+ bytes could not be written to {re.escape(str(fifo))}", log
    )
    assert "SIGKILL" not in log
    assert "exited cleanly" not in log
