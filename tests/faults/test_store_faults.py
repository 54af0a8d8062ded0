"""The state store under faults: a full disk (a real tmpfs of a few MiB), a lock held by
another process, a corrupt file, a kill -9 while records are held back. Nothing is lost
silently: held-back records land in order once the fault passes, reads answer at once with
the reason, status shows the store's health, and what never reached the disk is an error exit.

The writer's tests drive ``StoreWriter`` on a real store in trio; the daemon's tests run the
real daemon (tests/daemon_harness.py) and talk to it over its socket.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.errors import StoreUnavailable
from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import NEED_DATA, Connection, Role
from supervisord_lite.runtime.storewriter import StoreWriter, StoreWriterStatistics
from supervisord_lite.store import Store
from supervisord_lite.store_records import EventRecorded, Outcome, RunEnded
from svctl import Client, CommandFailed, Timeout
from tests.daemon_harness import (
    ROOT,
    TOKEN_VAR,
    Daemon,
    start_daemon,
    stop_daemon,
    svctl,
    write_config,
)
from tests.faults.tmpfs import fill, small_tmpfs
from tests.test_store import corrupt, filled_database, holding_lock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0
stop_timeout = 5
"""


# -- helpers -----------------------------------------------------------------------------------


def note(i: int, size: int = 512) -> EventRecorded:
    return EventRecorded(program="p", kind="note", at=float(i), reason=f"{i:06d}".ljust(size, "x"))


async def until(writer: StoreWriter, check: Callable[[StoreWriterStatistics], bool]) -> None:
    """Wait for a condition of the writer's counters (bounded by the caller's fail_after)."""
    while not check(writer.statistics()):
        await writer.wait_attempt()


def wait_for(check: Callable[[], bool], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def status_reply(socket_path: str) -> m.StatusReply:
    """The daemon's whole status reply, store health included, read off the socket."""
    connection = Connection(Role.CLIENT)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(socket_path)
        hello = connection.send(m.Hello(version=m.PROTOCOL_VERSION))
        sock.sendall(hello + connection.send(m.Status(id=1)))
        while True:
            event = connection.next_event()
            if event is NEED_DATA:
                data = sock.recv(65536)
                assert data, "the daemon closed the connection"
                connection.receive_data(data)
            elif isinstance(event, m.StatusReply):
                return event
            else:
                assert isinstance(event, m.Welcome), event


def store_health(daemon_socket: str) -> m.StoreHealth:
    health = status_reply(daemon_socket).store
    assert health is not None
    return health


# -- the writer on a real store ------------------------------------------------------------------


async def test_a_full_disk_holds_records_back_and_they_land_in_order_once_space_frees(
    tmp_path: Path,
) -> None:
    count = 4000
    with small_tmpfs(tmp_path / "full", "6m") as full, Store.open(full / "state.db") as store:
        writer = StoreWriter(store)
        with trio.fail_after(50):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                writer.submit(note(-1))
                await writer.wait_settled()
                filler = fill(full)
                for i in range(count):
                    writer.submit(note(i))
                await until(writer, lambda stats: stats.failing)
                held = writer.statistics()
                assert "database or disk is full" in held.error
                assert held.pending > 0

                # A read that needs the held-back records says so at once.
                with pytest.raises(StoreUnavailable, match="records are held back"):
                    await writer.query(lambda s: s.history("p", 10))

                # A little room: small batches fit where the whole backlog never would.
                written = writer.statistics().written
                os.truncate(filler, filler.stat().st_size - 512 * 1024)
                await until(writer, lambda stats: stats.written >= written + 100)

                filler.unlink()
                await writer.wait_settled()
                rows = await writer.query(lambda s: s.history("p", count + 1))
                writer.close()
        assert [row.reason for row in rows] == [note(i).reason for i in range(-1, count)]
        stats = writer.statistics()
        assert (stats.pending, stats.dropped, stats.refused, stats.unwritten) == (0, 0, 0, 0)
        assert stats.written == count + 1
        assert stats.write_errors > 0
        assert not stats.failing
        assert store.integrity_check() == "ok"


async def test_a_held_lock_holds_records_back_and_reads_answer_at_once(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with Store.open(db) as store:
        writer = StoreWriter(store)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                writer.submit(note(0))
                await writer.wait_settled()
                with holding_lock(db):
                    for i in range(1, 50):
                        writer.submit(note(i))
                    await until(writer, lambda stats: stats.failing)
                    assert "another process holds its lock" in writer.statistics().error
                    with pytest.raises(StoreUnavailable, match="49 records are held back"):
                        await writer.query(lambda s: s.history("p", 100))
                    assert writer.statistics().pending == 49
                await writer.wait_settled()
                rows = await writer.query(lambda s: s.history("p", 100))
                writer.close()
    assert [row.reason for row in rows] == [note(i).reason for i in range(50)]
    assert writer.statistics().unwritten == 0


async def test_beyond_the_bound_records_are_dropped_and_counted_and_close_counts_the_rest(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    with Store.open(db) as store:
        writer = StoreWriter(store, max_pending=10, drain_timeout=0.2)
        with trio.fail_after(30), holding_lock(db):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                for i in range(15):
                    writer.submit(note(i))
                await until(writer, lambda stats: stats.failing)
                writer.close()
            writer.submit(note(99))  # after close: counted, never silently gone
        stats = writer.statistics()
        assert (stats.pending, stats.dropped, stats.written) == (10, 6, 0)
        assert stats.unwritten == 16
        assert store.history("p") == []


async def test_a_refused_record_is_counted_and_the_others_land_in_order(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        writer = StoreWriter(store)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                for i in range(40):
                    writer.submit(note(i))
                    if i == 17:  # the end of a run the store never heard of
                        writer.submit(
                            RunEnded(run_id=9, program="p", outcome=Outcome.COMPLETED, at=1.0)
                        )
                await writer.wait_settled()
                rows = await writer.query(lambda s: s.history("p", 100))
                writer.close()
    assert [row.reason for row in rows] == [note(i).reason for i in range(40)]
    stats = writer.statistics()
    assert (stats.refused, stats.written, stats.pending) == (1, 40, 0)
    assert "no run 9" in stats.error


# -- the daemon ------------------------------------------------------------------------------------


@contextlib.contextmanager
def serving_web(config: Path) -> Iterator[tuple[Daemon, Client]]:
    """A daemon on ``config`` with ``web`` running and every record so far on disk, and a
    client; whatever is left of it is SIGKILLed after the block (a test that checks a graceful
    exit stops it itself)."""
    daemon = start_daemon(config)
    try:
        with Client(daemon.socket, timeout=20) as client:
            client.wait("web", state="RUNNING", timeout=10)
            client.history("web")  # answered once everything queued is on disk
            yield daemon, client
    finally:
        stop_daemon(daemon, grace=0)


def test_the_daemon_survives_a_full_disk_under_its_store(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "full", "4m") as full:
        config = write_config(tmp_path, PROGRAMS)
        text = config.read_text().replace(
            'state_db = "state/supervisor.db"', f'state_db = "{full}/supervisor.db"'
        )
        config.write_text(text)
        with serving_web(config) as (daemon, client):
            filler = fill(full)
            for _ in range(3):
                client.restart("web")
            wait_for(lambda: store_health(daemon.socket).failing, "a failed write")
            health = store_health(daemon.socket)
            assert health.pending > 0
            assert "database or disk is full" in health.error
            assert health.error_at is not None
            with pytest.raises(CommandFailed, match="held back") as info:
                client.history("web")
            assert not isinstance(info.value, Timeout)

            filler.unlink()
            wait_for(lambda: store_health(daemon.socket).pending == 0, "the backlog to land")
            kinds = [e.kind for e in client.history("web", limit=100)]
            assert kinds.count("spawned") == 4
            assert kinds[-1] == "spawned"
            health = store_health(daemon.socket)
            assert not health.failing
            assert health.dropped == health.refused == 0
            stop_daemon(daemon)
            assert daemon.process.returncode == 0


def test_a_held_lock_shows_in_status_and_history_answers_with_an_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, PROGRAMS)
    with serving_web(config) as (daemon, client):
        with holding_lock(tmp_path / "state" / "supervisor.db"):
            client.restart("web")
            wait_for(lambda: store_health(daemon.socket).failing, "a failed write")
            health = store_health(daemon.socket)
            assert health.pending > 0
            assert "another process holds its lock" in health.error
            assert client.store_health() is not None
            said = svctl(daemon, "status")
            assert said.returncode == 0, said.stderr
            assert "records held back, not yet written" in said.stderr
            assert "another process holds its lock" in said.stderr
            # Within the client's own timeout: an answer, not a wait on the lock.
            with (
                Client(daemon.socket, timeout=8) as hurried,
                pytest.raises(CommandFailed, match="held back") as info,
            ):
                hurried.history("web")
            assert not isinstance(info.value, Timeout)
            assert "lock" in str(info.value)
        wait_for(lambda: store_health(daemon.socket).pending == 0, "the backlog to land")
        kinds = [e.kind for e in client.history("web", limit=100)]
        assert kinds.count("spawned") == 2
        assert kinds[-1] == "spawned"
        stop_daemon(daemon)
        assert daemon.process.returncode == 0
        assert "exited cleanly" in daemon.log()


def test_records_unwritten_by_shutdown_make_the_exit_an_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, PROGRAMS)
    with (
        serving_web(config) as (daemon, client),
        holding_lock(tmp_path / "state" / "supervisor.db"),
    ):
        client.restart("web")
        stop_daemon(daemon)
    log = daemon.log()
    assert daemon.process.returncode == 6, log
    assert "state store records could not be written" in log
    assert "another process holds its lock" in log
    assert "exited cleanly" not in log
    assert "Traceback" not in log


def test_kill_9_while_records_are_held_back_leaves_a_sound_database(tmp_path: Path) -> None:
    config = write_config(tmp_path, PROGRAMS)
    db = tmp_path / "state" / "supervisor.db"
    with serving_web(config) as (daemon, client), holding_lock(db):
        client.restart("web")
        wait_for(lambda: store_health(daemon.socket).pending > 0, "a held-back record")
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(timeout=10)
    assert integrity_of(db) == "ok"
    with serving_web(config) as (_, client):
        assert "lost" in [e.kind for e in client.history("web", limit=100)]


def integrity_of(db: Path) -> str:
    raw = sqlite3.connect(db)
    try:
        return "\n".join(str(row[0]) for row in raw.execute("PRAGMA integrity_check"))
    finally:
        raw.close()


def test_a_corrupt_store_stops_the_daemon_until_reset_store_moves_it_aside(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, PROGRAMS)
    db = tmp_path / "state" / "supervisor.db"
    filled_database(db)
    corrupt(db, "cell pointers")
    damaged = db.read_bytes()
    env = {**os.environ, TOKEN_VAR: "corrupt-store"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "clients")])
    refused = subprocess.run(
        [sys.executable, "-m", "supervisord_lite", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert refused.returncode == 7, refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"supervisord-lite: {db}: the state store is corrupt (")
    assert "--reset-store" in last
    assert "Traceback" not in refused.stderr
    assert db.read_bytes() == damaged
    assert not (tmp_path / "run" / "ctl.sock").exists()

    daemon = start_daemon(config, args=["--reset-store"])
    try:
        (aside,) = db.parent.glob("supervisor.db.corrupt-*")
        assert aside.read_bytes() == damaged
        with Client(daemon.socket, timeout=20) as client:
            client.wait("web", state="RUNNING", timeout=10)
            assert [e.kind for e in client.history("web")] == ["spawned"]
        assert "moved to" in daemon.log()
    finally:
        stop_daemon(daemon)
    assert daemon.process.returncode == 0

    kept = start_daemon(config, args=["--reset-store"])  # a sound store stays where it is
    try:
        with Client(kept.socket, timeout=20) as client:
            client.wait("web", state="RUNNING", timeout=10)
            assert [e.kind for e in client.history("web")].count("spawned") == 2
    finally:
        stop_daemon(kept)
    assert len(list(db.parent.glob("supervisor.db.corrupt-*"))) == 1
