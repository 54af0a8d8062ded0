"""The log path in-process, with real child programs and real pipes: pump -> queue -> file and
followers, the overflow policies against a stalled file, the exit drain, pipes held open by a
descendant, and what the close says it could not write."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.config import LogConfig, ProgramConfig
from supervisord_lite.runtime.logs import pump as logpump
from supervisord_lite.runtime.logs.fanout import LogFanOut, LogGap, LogPiece
from supervisord_lite.runtime.logs.streams import ProgramLogs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supervisord_lite.protocol.messages import LogStreamStats

PROGRAMS = Path(__file__).resolve().parent.parent / "programs"
sys.path.insert(0, str(PROGRAMS))
import flood  # noqa: E402

FLOOD = [sys.executable, str(PROGRAMS / "flood.py")]
MiB = 1024 * 1024


def program(stdout: Path | None, stderr: Path | None = None, **log: object) -> ProgramConfig:
    config = LogConfig(
        stdout=None if stdout is None else str(stdout),
        stderr=None if stderr is None else str(stderr),
        **log,  # type: ignore[arg-type]
    )
    return ProgramConfig(name="p", command=("x",), log=config)


async def run_once(
    logs: ProgramLogs, nursery: trio.Nursery, argv: Sequence[str], *, grace: float = 5.0
) -> int:
    """Spawn ``argv`` with the program's pipes, wait for it, drain, and let the pumps finish."""
    run = logs.open_run()
    try:
        process = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=run.stdout,
            stderr=run.stderr,
            process_group=0,
        )
        logs.start_run(run, nursery)
    finally:
        run.close_child_ends()
    try:
        with trio.fail_after(60):
            returncode = await process.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    await run.drain(grace)
    run.linger(0.5)
    return returncode


def adds_up(stats: LogStreamStats) -> None:
    assert stats.depth == 0
    assert stats.bytes_read == stats.bytes_written + stats.bytes_dropped, stats


def ordered_lines(data: bytes) -> list[int]:
    """Numbers of the complete flood lines in ``data`` (a cut line at a gap is skipped)."""
    return [int(m[1]) for m in re.finditer(rb"(?m)^(\d{10}) [^\n]{88}\n", data)]


class Fifo:
    """A FIFO used as a log path: nobody reads it until ``drain_in_thread``, so the file writer
    stalls on it, as on a disk that stopped answering."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = bytearray()
        self._thread: threading.Thread | None = None

    def drain_in_thread(self) -> None:
        os.set_blocking(self.fd, True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := os.read(self.fd, MiB):
            self.data += chunk

    def close(self, timeout: float = 30) -> bytes:
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "the writer never closed the FIFO"
        os.close(self.fd)
        return bytes(self.data)


# -- block: nothing lost -------------------------------------------------------------------------


async def test_block_keeps_every_byte_in_order_through_a_small_queue(tmp_path: Path) -> None:
    total = 8 * MiB + 123
    logs = ProgramLogs(program(tmp_path / "out.log", queue_bytes=64 * 1024), LogFanOut())
    async with trio.open_nursery() as nursery:
        assert await run_once(logs, nursery, [*FLOOD, str(total), "--write", "65536"]) == 0
        (stats,) = logs.statistics()
        assert stats.bytes_written == total  # drained before the exit would be reported
        await logs.aclose()
    digest = hashlib.sha256((tmp_path / "out.log").read_bytes()).hexdigest()
    assert digest == flood.expected(total)
    (stats,) = logs.statistics()
    assert stats.bytes_read == stats.bytes_written == total
    assert stats.bytes_dropped == 0
    assert stats.peak_depth <= 64 * 1024 + MiB  # the capacity, plus one read at most


async def test_stderr_apart_merged_or_discarded(tmp_path: Path) -> None:
    script = "import os; os.write(1, b'out\\n'); os.write(2, b'err\\n')"
    argv = [sys.executable, "-c", script]
    apart = ProgramLogs(program(tmp_path / "a.out", tmp_path / "a.err"), LogFanOut())
    merged = ProgramLogs(program(tmp_path / "m.out", merge=True), LogFanOut())
    quiet = ProgramLogs(program(None, tmp_path / "q.err"), LogFanOut())
    async with trio.open_nursery() as nursery:
        for logs in (apart, merged, quiet):
            await run_once(logs, nursery, argv)
            await logs.aclose()
    assert (tmp_path / "a.out").read_bytes() == b"out\n"
    assert (tmp_path / "a.err").read_bytes() == b"err\n"
    assert sorted((tmp_path / "m.out").read_bytes().splitlines()) == [b"err", b"out"]
    assert not (tmp_path / "q.out").exists()
    assert (tmp_path / "q.err").read_bytes() == b"err\n"
    assert [s.stream for s in merged.statistics()] == ["stdout"]
    assert [s.stream for s in quiet.statistics()] == ["stderr"]


# -- the drop policies against a stalled file ----------------------------------------------------


@pytest.mark.parametrize("policy", ["drop-oldest", "drop-newest"])
async def test_drop_policies_count_exactly_against_a_stalled_writer(
    tmp_path: Path, policy: str
) -> None:
    total = 4 * MiB
    fifo = Fifo(tmp_path / "stalled")
    logs = ProgramLogs(
        program(fifo.path, overflow=policy, queue_bytes=64 * 1024, max_bytes=0), LogFanOut()
    )
    try:
        async with trio.open_nursery() as nursery:
            # The program is never held: it finishes although nobody reads the file.
            assert await run_once(logs, nursery, [*FLOOD, str(total)], grace=0.2) == 0
            (stats,) = logs.statistics()
            assert stats.bytes_read == total
            assert stats.bytes_dropped > 0
            fifo.drain_in_thread()
            await logs.aclose()
    finally:
        kept = fifo.close()
    (stats,) = logs.statistics()
    adds_up(stats)
    assert stats.bytes_written == len(kept)
    assert stats.bytes_dropped == total - len(kept)
    numbers = ordered_lines(kept)
    assert numbers == sorted(set(numbers))  # what was kept is in order, nothing twice
    expected = b"".join(flood.lines(total))
    if policy == "drop-newest":
        assert kept[:65536] == expected[:65536]  # the oldest bytes were kept
    else:
        assert kept[-65536:] == expected[-65536:]  # the newest bytes were kept


# -- followers -----------------------------------------------------------------------------------


async def test_a_stalled_follower_slows_neither_the_file_nor_another_follower(
    tmp_path: Path,
) -> None:
    total = 24 * MiB
    fanout = LogFanOut()  # a budget of 4 MiB each
    logs = ProgramLogs(program(tmp_path / "out.log"), fanout)
    seen = bytearray()
    with fanout.follow(["p"]) as stalled, fanout.follow(["p"]) as live:

        async def read_live() -> None:
            while len(seen) < total:
                for item in await live.receive():
                    assert isinstance(item, LogPiece), "the live follower fell behind"
                    seen.extend(item.data)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_live)
            await run_once(logs, nursery, [*FLOOD, str(total), "--write", "262144"])
            await logs.aclose()
        batch = await stalled.receive()
    assert hashlib.sha256(seen).hexdigest() == flood.expected(total)
    assert hashlib.sha256((tmp_path / "out.log").read_bytes()).hexdigest() == flood.expected(total)
    pieces = [i for i in batch if isinstance(i, LogPiece)]
    gaps = [i for i in batch if isinstance(i, LogGap)]
    delivered = sum(len(p.data) for p in pieces)
    assert delivered <= fanout.capacity + logpump.READ_SIZE
    assert len(gaps) == 1
    assert gaps[0].dropped == total - delivered  # one gap at the end, exact
    (stats,) = logs.statistics()
    assert stats.lagged == 1
    assert stats.lagged_bytes == total - delivered


async def test_the_last_line_of_a_crash_is_in_the_file_and_followed_before_the_exit(
    tmp_path: Path,
) -> None:
    fanout = LogFanOut()
    logs = ProgramLogs(program(tmp_path / "out.log"), fanout)
    argv = [sys.executable, str(PROGRAMS / "printer_then_crash.py"), "2000", "famous last words"]
    with fanout.follow(["p"]) as follower:
        async with trio.open_nursery() as nursery:
            returncode = await run_once(logs, nursery, argv)
            # What run_once returns after is what the runner does before it reports the exit.
            assert (tmp_path / "out.log").read_bytes().endswith(b"famous last words\n")
            followed = b"".join(i.data for i in await follower.receive() if isinstance(i, LogPiece))
            assert followed.endswith(b"famous last words\n")
            await logs.aclose()
    assert returncode == -signal.SIGKILL


# -- pipes that outlive the program ---------------------------------------------------------------

GRANDCHILD = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    os.write(1, b"grandchild here\\n")
    time.sleep(30)
    os._exit(0)
os.write(1, b"bye\\n")
"""


async def test_a_descendant_holding_the_pipe_delays_neither_the_exit_nor_forever(
    tmp_path: Path,
) -> None:
    logs = ProgramLogs(program(tmp_path / "out.log"), LogFanOut())
    run = logs.open_run()
    async with trio.open_nursery() as nursery:
        try:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-c", GRANDCHILD], stdout=run.stdout, stdin=subprocess.DEVNULL
            )
            logs.start_run(run, nursery)
        finally:
            run.close_child_ends()
        try:
            with trio.fail_after(10):
                await process.wait()
                assert await run.drain()  # caught up without waiting for the end of the pipe
            assert b"bye\n" in (tmp_path / "out.log").read_bytes()
            (pump,) = run.pumps
            assert not pump.done  # the grandchild still holds the pipe open
            run.linger(0.2)
            with trio.fail_after(5):
                await pump.wait_done()  # closed at the bound, not at the grandchild's exit
        finally:
            for pid in grandchildren_of_session(tmp_path / "out.log"):
                os.kill(pid, signal.SIGKILL)
        await logs.aclose()
    assert (tmp_path / "out.log").read_bytes().count(b"grandchild here\n") == 1


def grandchildren_of_session(log_path: Path) -> list[int]:
    """The grandchild: the process running our script in its own session."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes()
                if b"grandchild here" in cmdline and os.getsid(int(entry.name)) == int(entry.name):
                    found.append(int(entry.name))
    return found


# -- closing ---------------------------------------------------------------------------------------


async def test_what_cannot_be_written_at_close_is_counted_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    total = 2 * MiB
    fifo = Fifo(tmp_path / "stalled")
    logs = ProgramLogs(program(fifo.path, queue_bytes=MiB, max_bytes=0), LogFanOut())
    daemon_log = logging.getLogger("supervisord-lite")
    daemon_log.addHandler(caplog.handler)
    try:
        async with trio.open_nursery() as nursery:
            await run_once(logs, nursery, [*FLOOD, str(total)], grace=0.2)
            await logs.aclose(grace=0.2)
    finally:
        daemon_log.removeHandler(caplog.handler)
        fifo.close()
    (stats,) = logs.statistics()
    adds_up(stats)
    assert stats.bytes_dropped > 0
    assert f"{stats.bytes_dropped} bytes could not be written" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
async def test_a_failing_file_does_not_hold_up_the_exit_and_is_counted(tmp_path: Path) -> None:
    full = tmp_path / "full"
    os.mknod(full, 0o640 | stat.S_IFCHR, os.makedev(1, 7))  # like /dev/full: ENOSPC always
    logs = ProgramLogs(program(full, queue_bytes=64 * 1024), LogFanOut())
    run = logs.open_run()
    async with trio.open_nursery() as nursery:
        try:
            process = await trio.lowlevel.open_process(
                [*FLOOD, str(8 * MiB)], stdout=run.stdout, stdin=subprocess.DEVNULL
            )
            logs.start_run(run, nursery)
        finally:
            run.close_child_ends()
        (stream,) = logs.streams
        with trio.fail_after(10):
            await stream.writer.wait_failing()
            assert process.returncode is None  # block: the program is held, not lost
            process.kill()
            await process.wait()
            started = trio.current_time()
            assert not await run.drain()  # over at once: the disk will not come back for us
        assert trio.current_time() - started < 1.0
        (stats,) = logs.statistics()
        assert "No space left" in stats.error
        assert stats.write_errors >= 1
        assert stats.bytes_written == 0
        assert stats.depth > 0
        await logs.aclose(grace=0.2)
    (stats,) = logs.statistics()
    adds_up(stats)
    assert stats.bytes_dropped == stats.bytes_read > 0


# -- reopening -----------------------------------------------------------------------------------


async def test_a_reopen_of_an_idle_stream_happens_at_once_and_a_busy_one_s_after_its_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.log"
    logs = ProgramLogs(program(path), LogFanOut())
    (stream,) = logs.streams
    assert logs.reopen() == 1  # not started: the file is only closed, opened again at a spawn
    assert stream.counters.reopened == 0
    async with trio.open_nursery() as nursery:
        script = "import os; os.write(1, b'one\\n')"
        assert await run_once(logs, nursery, [sys.executable, "-c", script]) == 0
        path.rename(tmp_path / "out.log.1")
        logs.reopen()
        assert stream.writer.busy  # the empty write that reopens, in its thread
        with trio.fail_after(10):
            await stream.writer.wait_idle()
        assert path.read_bytes() == b""  # opened afresh before anything else is written
        assert stream.counters.reopened == 1
        script = "import os; os.write(1, b'two\\n')"
        assert await run_once(logs, nursery, [sys.executable, "-c", script]) == 0
        await logs.aclose()
    assert (tmp_path / "out.log.1").read_bytes() == b"one\n"
    assert path.read_bytes() == b"two\n"
    (stats,) = logs.statistics()
    assert (stats.reopened, stats.bytes_written, stats.error) == (1, 8, "")
