"""One suite over both clients (the ``client`` fixture runs each test with Client and
AsyncClient) against a real daemon in a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
from typing import TYPE_CHECKING, Any

import pytest
import trio

from supervisord_lite.protocol.framing import FrameEncoder
from supervisord_lite.protocol.messages import Error
from svctl import (
    AsyncClient,
    Client,
    ConfigInvalid,
    DaemonEvent,
    DaemonUnavailable,
    ErrorCode,
    Lagged,
    LogChunk,
    NoSuchProgram,
    PermissionDenied,
    ProgramState,
    ShutdownReport,
    StateChanged,
    Timeout,
    UsageError,
    _async_client,
    _sync_client,
)
from tests.clients.conftest import CLIENT_PROGRAMS, close_client, open_client
from tests.daemon_harness import start_daemon, stop_daemon, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from tests.daemon_harness import Daemon

NAMES = ["web", "worker", "crasher", "flaky", "talker", "stubborn"]


async def test_ping_and_welcome(client: Any, running_daemon: Daemon) -> None:
    assert await client.ping() >= 0
    assert client.welcome.pid == running_daemon.process.pid


async def test_status_in_config_order(client: Any) -> None:
    programs = await client.status()
    assert [p.name for p in programs] == NAMES
    assert [p.name for p in await client.status("worker", "web")] == ["web", "worker"]


async def test_log_counters_come_only_when_asked_for(client: Any) -> None:
    [plain] = await client.status("web")
    assert plain.logs == ()
    [detailed] = await client.status("web", stats=True)
    assert {s.stream for s in detailed.logs} == {"stdout", "stderr"}
    for stream in detailed.logs:
        assert stream.bytes_read == stream.bytes_written + stream.bytes_dropped + stream.depth


async def test_unknown_program_names_the_known_ones(client: Any) -> None:
    with pytest.raises(NoSuchProgram) as info:
        await client.status("wbe")
    assert info.value.code is ErrorCode.NO_SUCH_PROGRAM
    assert info.value.known == tuple(sorted(NAMES))
    assert "wbe" in str(info.value)
    assert info.value.exit_code == 1
    assert await client.ping() >= 0


async def test_stop_then_start(client: Any) -> None:
    await client.wait("web", state="RUNNING", timeout=10)
    [stopped] = await client.stop("web")
    assert (stopped.name, stopped.ok, stopped.state) == ("web", True, ProgramState.STOPPED)
    [status] = await client.status("web")
    assert (status.state, status.pid) == (ProgramState.STOPPED, None)
    [started] = await client.start("web")
    assert (started.ok, started.state) == (True, ProgramState.RUNNING)
    [status] = await client.status("web")
    assert status.state is ProgramState.RUNNING
    assert status.pid is not None


async def test_restart_runs_a_new_process(client: Any) -> None:
    await client.wait("web", state="RUNNING", timeout=10)
    [before] = await client.status("web")
    [result] = await client.restart("web")
    assert (result.ok, result.state) == (True, ProgramState.RUNNING), result
    [after] = await client.status("web")
    assert after.pid not in (None, before.pid)


async def test_a_failed_start_is_a_result_not_an_exception(client: Any) -> None:
    [result] = await client.start("flaky")
    assert (result.name, result.ok, result.state) == ("flaky", False, ProgramState.FATAL)
    assert result.message


async def test_stop_all(client: Any) -> None:
    results = await client.stop(all=True)
    assert sorted(r.name for r in results) == sorted(NAMES)
    assert all(r.ok and r.state is ProgramState.STOPPED for r in results), results


@pytest.mark.parametrize(("names", "every"), [((), False), (("web",), True)])
async def test_action_needs_names_or_all(client: Any, names: tuple[str, ...], every: bool) -> None:
    with pytest.raises(UsageError):
        await client.start(*names, all=every)


async def test_wait_until_running(client: Any) -> None:
    results = await client.wait("web", "worker", state="running", timeout=10)
    assert [(r.name, r.ok) for r in results] == [("web", True), ("worker", True)]


async def test_wait_timeout_is_the_daemons(client: Any) -> None:
    with pytest.raises(Timeout) as info:
        await client.wait("web", state=ProgramState.STOPPED, timeout=0.2)
    assert info.value.code is ErrorCode.TIMEOUT
    assert await client.ping() >= 0


async def test_history_records_runs(client: Any) -> None:
    await client.wait("web", state="RUNNING", timeout=10)
    await client.stop("web")
    entries = await client.history("web", limit=50)
    assert {e.program for e in entries} == {"web"}
    assert {"spawned", "stopped"} <= {e.kind for e in entries}
    assert entries == sorted(entries, key=lambda e: e.at)
    assert len(await client.history("web", limit=1)) == 1
    with pytest.raises(NoSuchProgram):
        await client.history("wbe")


async def test_events_are_pushed_between_other_replies(client: Any) -> None:
    await client.wait("web", state="RUNNING", timeout=10)
    seen: list[StateChanged] = []
    with trio.fail_after(20):
        async with client.events() as events:
            [result] = await client.stop("web")
            assert result.ok
            async for event in events:
                if not isinstance(event, StateChanged):
                    continue  # the daemon's own events
                seen.append(event)
                if event.program == "web" and event.new is ProgramState.STOPPED:
                    break
    web = [(e.old, e.new) for e in seen if e.program == "web"]
    assert web[-2:] == [
        (ProgramState.RUNNING, ProgramState.STOPPING),
        (ProgramState.STOPPING, ProgramState.STOPPED),
    ]
    # The Cancel went through and the connection is still in step.
    assert [p.name for p in await client.status("web")] == ["web"]


async def test_events_end_when_the_daemon_shuts_down(client: Any, running_daemon: Daemon) -> None:
    with trio.fail_after(30):
        async with client.events() as events:

            def shutdown() -> None:
                with Client(running_daemon.socket, timeout=20) as other:
                    other.shutdown(wait=False)

            await trio.to_thread.run_sync(shutdown)
            changes = [event async for event in events]
        assert events.end is not None
    [stopping] = [i for i, c in enumerate(changes) if isinstance(c, DaemonEvent)]
    assert changes[stopping].change == "stopping"
    after = changes[stopping + 1 :]
    assert all(isinstance(c, StateChanged) for c in after)
    assert {c.new for c in after if c.program == "web"} >= {ProgramState.STOPPED}
    assert [c.seq for c in changes] == list(range(changes[0].seq, changes[0].seq + len(changes)))


async def test_logs_tail_then_end(client: Any) -> None:
    await client.wait("talker", timeout=10)
    async with client.logs("talker", lines=10) as items:
        got = [item async for item in items]
    assert items.end is not None
    assert sorted((c.program, c.stream, c.data) for c in got) == [
        ("talker", "stderr", b"oops\n"),
        ("talker", "stdout", b"hello\n"),
    ]
    async with client.logs("talker", stream="stderr") as items:
        assert [(c.stream, c.data) async for c in items] == [("stderr", b"oops\n")]


async def test_logs_follow_until_closed(client: Any) -> None:
    await client.wait("talker", timeout=10)
    data = b""
    with trio.fail_after(20):
        async with client.logs("talker", lines=0, follow=True, stream="stdout") as items:
            await client.restart("talker")
            async for item in items:
                assert isinstance(item, LogChunk | Lagged)
                if isinstance(item, LogChunk):
                    data += item.data
                if b"hello" in data:
                    break
    assert data == b"hello\n"
    # Closing sent a Cancel; the connection is in step for the next request.
    assert [p.name for p in await client.status("talker")] == ["talker"]


async def test_logs_of_an_unknown_program(client: Any) -> None:
    async with client.logs("wbe") as items:
        with pytest.raises(NoSuchProgram):
            await items.__anext__()
    assert await client.ping() >= 0


async def test_reload(client: Any, running_daemon: Daemon) -> None:
    reply = await client.reload()
    assert sorted(reply.unchanged) == sorted(NAMES)
    assert reply.added == reply.removed == reply.changed == ()

    text = running_daemon.config.read_text()
    running_daemon.config.write_text(text + '\n[programs.extra]\ncommand = ["sleep", "3600"]\n')
    assert (await client.reload()).added == ("extra",)

    running_daemon.config.write_text(text + "\n[programs.bad]\ncommand = []\nstop_timout = 1\n")
    with pytest.raises(ConfigInvalid) as info:
        await client.reload()
    assert info.value.exit_code == 2
    assert "stop_timout" in str(info.value)
    assert "extra" in [p.name for p in await client.status()]


async def test_shutdown_ends_the_daemon(client: Any, running_daemon: Daemon) -> None:
    report = await client.shutdown()
    assert report == ShutdownReport(killed=(), output_lost=0)
    assert report.clean
    code = await trio.to_thread.run_sync(lambda: running_daemon.process.wait(timeout=20))
    assert code == 0
    with pytest.raises(DaemonUnavailable):
        await open_client("trio", running_daemon.socket).ping()


async def test_abandoned_call_leaves_the_connection_usable(client: Any, client_kind: str) -> None:
    [started] = await client.start("stubborn")
    assert started.ok
    if client_kind != "trio":
        with pytest.raises(Timeout):
            await client.stop("stubborn", timeout=0.3)  # stubborn takes its SIGKILL after 2 s
    else:  # a cancel scope instead of timeout=
        with trio.move_on_after(0.3) as scope:
            await client.stop("stubborn")
        assert scope.cancelled_caught
    assert await client.ping() >= 0
    # The late answer to the stop comes in while we wait here, and is dropped.
    [result] = await client.wait("stubborn", state="STOPPED", timeout=15)
    assert result.ok
    assert [p.state for p in await client.status("stubborn")] == [ProgramState.STOPPED]


async def test_async_client_serves_concurrent_tasks(running_daemon: Daemon) -> None:
    async with AsyncClient(running_daemon.socket) as client:
        [started] = await client.start("stubborn")
        assert started.ok
        results: dict[str, Any] = {}

        async def stop_stubborn() -> None:
            results["stop"] = await client.stop("stubborn")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_stubborn)
            await trio.sleep(0.1)
            results["status"] = await client.status("web")
            assert "stop" not in results  # the status came back while the stop was pending
        assert results["stop"][0].ok


async def test_unreachable_socket(client_kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / "nope.sock")
    with pytest.raises(DaemonUnavailable, match=r"nope\.sock") as info:
        await open_client(client_kind, path).ping()
    assert info.value.exit_code == 3
    assert isinstance(info.value.__cause__, OSError)


async def test_a_socket_that_never_answers(client_kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / "mute.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:
        mute.bind(path)
        mute.listen(1)
        with trio.fail_after(10), pytest.raises(DaemonUnavailable, match="handshake"):
            await open_client(client_kind, path, timeout=0.3).ping()


async def test_a_cancel_scope_bounds_an_async_call(tmp_path: Path) -> None:
    path = str(tmp_path / "mute.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mute:
        mute.bind(path)
        mute.listen(1)
        with trio.move_on_after(0.3) as scope:
            await AsyncClient(path).ping()
        assert scope.cancelled_caught


async def test_a_refusal_that_beats_the_hello_is_reported(
    client_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon refuses a uid as soon as it accepts: it sends its Error and closes. When that
    happens before the client's hello is out, the hello fails with EPIPE; the client still
    reports the refusal, not a lost connection."""
    path = str(tmp_path / "refusing.sock")
    refusal = FrameEncoder().encode(
        Error(code=ErrorCode.PERMISSION_DENIED, message="uid 65534 may not use this daemon")
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)

        def refuse() -> None:  # the client is connected and has not sent its hello yet
            conn, _ = server.accept()
            with conn:
                conn.sendall(refusal)

        if client_kind == "sync":
            open_sync = _sync_client.open_transport

            def connected_then_refused(path: str, deadline: float | None) -> Any:
                transport = open_sync(path, deadline)
                refuse()
                return transport

            monkeypatch.setattr(_sync_client, "open_transport", connected_then_refused)
        else:
            open_async = _async_client.open_transport

            async def connected_then_refused_async(path: str, deadline: float | None) -> Any:
                transport = await open_async(path, deadline)
                refuse()
                return transport

            monkeypatch.setattr(_async_client, "open_transport", connected_then_refused_async)
        with trio.fail_after(10), pytest.raises(PermissionDenied, match="may not use") as info:
            await open_client(client_kind, path, timeout=5).ping()
    assert info.value.exit_code == 1


def test_programs_table_is_the_one_described() -> None:
    assert all(f"[programs.{name}]" in CLIENT_PROGRAMS for name in NAMES)


async def test_a_lost_connection_is_replaced_on_the_next_call(
    client_kind: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, programs="")
    first = await trio.to_thread.run_sync(start_daemon, config)
    client = open_client(client_kind, first.socket)
    try:
        assert client.welcome is None
        await client.ping()
        await trio.to_thread.run_sync(stop_daemon, first)
        with pytest.raises(DaemonUnavailable):
            await client.ping()
        second = await trio.to_thread.run_sync(start_daemon, config)
        try:
            await client.ping()
            assert client.welcome.pid == second.process.pid
        finally:
            await trio.to_thread.run_sync(stop_daemon, second)
    finally:
        await close_client(client)


def _full_backlog(path: str) -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket that never accepts, with its backlog filled up."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(0)
    queued = []
    while True:
        probe = socket.socket(socket.AF_UNIX)
        probe.setblocking(False)
        try:
            probe.connect(path)
        except BlockingIOError:
            probe.close()
            return server, queued
        queued.append(probe)


def test_a_full_backlog_is_a_busy_daemon_not_a_missing_one(tmp_path: Path) -> None:
    server, queued = _full_backlog(str(tmp_path / "busy.sock"))
    try:
        with pytest.raises(DaemonUnavailable, match="too busy"):
            Client(str(tmp_path / "busy.sock"), timeout=0.2).ping()
    finally:
        for sock in [*queued, server]:
            sock.close()


# -- time limits (docs/python-client.md, "Time limits") ----------------------------------------


async def test_blocking_calls_wait_as_long_as_the_daemon_may_take(
    client_kind: str, running_daemon: Daemon
) -> None:
    """The client's own timeout (0.5 s here, 10 s by default) bounds quick requests; a
    blocking stop waits out the program's stop_timeout (2 s for stubborn, then SIGKILL)."""
    client = open_client(client_kind, running_daemon.socket, timeout=0.5)
    try:
        with trio.fail_after(30):
            [started] = await client.start("stubborn")
            assert started.ok
            [stopped] = await client.stop("stubborn")
            assert (stopped.ok, stopped.state) == (True, ProgramState.STOPPED)
            [started] = await client.start("stubborn")
            assert started.ok
            await client.shutdown()  # stubborn's stop again takes its 2 s
        code = await trio.to_thread.run_sync(lambda: running_daemon.process.wait(timeout=20))
        assert code == 0
    finally:
        await close_client(client)


async def test_a_short_timeout_on_a_blocking_call_is_honoured(client: Any) -> None:
    [started] = await client.start("stubborn")
    assert started.ok
    with trio.fail_after(10), pytest.raises(Timeout):
        await client.stop("stubborn", timeout=0.3)


# -- finding the socket from a config ----------------------------------------------------------


async def test_from_config_finds_the_socket(running_daemon: Daemon) -> None:
    with Client.from_config(running_daemon.config) as client:
        assert client.socket_path == running_daemon.socket
        assert client.ping() >= 0
    async with AsyncClient.from_config(str(running_daemon.config)) as async_client:
        assert async_client.welcome is not None
        assert async_client.welcome.pid == running_daemon.process.pid


def test_from_config_warns_about_what_it_cannot_read(tmp_path: Path) -> None:
    config = tmp_path / "editing.toml"
    config.write_text('[programs.web]\ncommand = ["a"\n[daemon]\nsocket = "ctl.sock"\n')
    with pytest.warns(UserWarning, match="not valid TOML"):
        client = Client.from_config(config)
    assert client.socket_path == str(tmp_path / "ctl.sock")
    with pytest.raises(UsageError, match="cannot read"):
        Client.from_config(tmp_path / "missing.toml")


# -- whom the client talks to ------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to listen as another uid")
async def test_a_daemon_of_another_uid_is_refused_before_anything_is_sent(
    client_kind: str,
) -> None:
    """Whoever bound the socket is checked with SO_PEERCRED: neither root nor us, no hello."""
    folder = tempfile.mkdtemp(prefix="svl-peer-")
    os.chmod(folder, 0o777)
    path = os.path.join(folder, "ctl.sock")
    pid, report = _listen_as_nobody(path)
    try:
        with os.fdopen(report, "rb") as lines:
            assert lines.readline() == b"listening\n"
            with trio.fail_after(10), pytest.raises(DaemonUnavailable) as info:
                await open_client(client_kind, path, timeout=5).ping()
            assert "uid 65534" in str(info.value)
            assert info.value.exit_code == 3
            assert await trio.to_thread.run_sync(lines.readline) == b"received 0\n"
    finally:
        os.kill(pid, signal.SIGKILL)
        await trio.to_thread.run_sync(os.waitpid, pid, 0)
        shutil.rmtree(folder, ignore_errors=True)


def _listen_as_nobody(path: str) -> tuple[int, int]:
    """A forked child, uid 65534, listening on ``path``: it says ``listening``, then how many
    bytes its one connection sent before closing. Its pid and the read end of its reports."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            server = socket.socket(socket.AF_UNIX)
            server.bind(path)
            server.listen(1)
            os.write(write_end, b"listening\n")
            server.settimeout(20)
            conn, _ = server.accept()
            conn.settimeout(20)
            received = 0
            while chunk := conn.recv(65536):
                received += len(chunk)
            os.write(write_end, f"received {received}\n".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


# -- ending a stream from elsewhere --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["events", "logs"])
def test_a_listener_thread_ends_when_its_stream_is_closed(
    running_daemon: Daemon, kind: str
) -> None:
    """A stream closed from another thread wakes the thread blocked in its iterator."""
    client = Client(running_daemon.socket)
    client.wait("talker", timeout=10)
    stream: Any = (
        client.events() if kind == "events" else client.logs("talker", lines=0, follow=True)
    )
    ended = threading.Event()
    failures: list[BaseException] = []

    def listen() -> None:
        try:
            for _ in stream:
                pass
        except Exception as exc:  # noqa: BLE001 - the test reports it below
            failures.append(exc)
        finally:
            ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert not ended.wait(0.3)  # blocked in the iterator: nothing happens on its own
        stream.close()
        assert ended.wait(10), "the listener thread is still blocked"
        assert failures == []
        assert client.ping() >= 0  # the next call opens a new connection
    finally:
        stream.close()
        client.close()
        listener.join(10)


async def test_a_stream_closed_from_another_task_ends_its_readers_iteration(
    running_daemon: Daemon,
) -> None:
    async with AsyncClient(running_daemon.socket) as client:
        events = client.events()
        await events.open()
        seen: list[StateChanged] = []

        async def read() -> None:
            seen.extend([event async for event in events])

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.sleep(0.2)
                await events.aclose()
        assert all(isinstance(event, StateChanged | DaemonEvent) for event in seen)
        assert await client.ping() >= 0  # the same connection, still in step
