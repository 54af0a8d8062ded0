"""Replicated programs in process: instances with their own pids and files, scaling kept across
daemon restarts, rolling restarts that stop at the first instance that does not get ready, and
handed-over sockets that refuse no connection through a rolling restart."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.config import load
from supervisord_lite.errors import BadRequest, ConfigError, NoSuchProgram
from supervisord_lite.runtime.listeners import Listeners
from supervisord_lite.store import Store
from tests.daemon_harness import write_config
from tests.runtime.test_runner import reach
from tests.supervisor_harness import supervising

PROGRAMS = Path(__file__).resolve().parent.parent / "programs"
QUIET = 'log = { stdout = "none", stderr = "none" }\n'


def sleeper(replicas: int, extra: str = "") -> str:
    return (
        "[programs.web]\n"
        'command = ["sleep", "36{replica}0"]\n'
        f"replicas = {replicas}\n"
        'env = { PORT = "80{replica}", WHO = "{name}" }\n'
        "start_seconds = 0.05\n"
        f"{QUIET}{extra}"
    )


def environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as file:
        pairs = file.read().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


async def test_each_instance_runs_with_its_replica_expanded(tmp_path: Path) -> None:
    async with supervising(tmp_path, sleeper(3)) as sup:
        rows = sup.status(["web"])
        assert [r.name for r in rows] == ["web:0", "web:1", "web:2"]
        for i, row in enumerate(rows):
            await reach(sup.runners[row.name], lc.State.RUNNING)
            pid = sup.runners[row.name].snapshot.pid
            assert pid is not None
            assert (environ(pid)["PORT"], environ(pid)["WHO"]) == (f"80{i}", "web")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()  # noqa: ASYNC240 - /proc
            assert cmdline.split(b"\0")[1] == f"36{i}0".encode()
        assert len({sup.runners[r.name].snapshot.pid for r in rows}) == 3
        assert [r.name for r in sup.status(["web:1"])] == ["web:1"]
        with pytest.raises(NoSuchProgram) as caught:
            sup.lookup(["web:3"])
        assert "web" in caught.value.known


async def test_scale_adds_stops_the_highest_and_is_kept_across_restarts(tmp_path: Path) -> None:
    async with supervising(tmp_path, sleeper(2)) as sup:
        added = await sup.scale("web", 4)
        assert [(r.name, r.ok, r.message) for r in added] == [
            ("web:2", True, "added"),
            ("web:3", True, "added"),
        ]
        removed = await sup.scale("web", 1)
        assert [r.name for r in removed] == ["web:3", "web:2", "web:1"]
        assert all(r.ok and r.state is lc.State.STOPPED for r in removed)
        assert sorted(sup.runners) == ["web:0"]
        history = await sup.store.query(lambda s: Store.history(s, "web", 100, instances=True))
        assert "scaled from 4 to 1 instances" in [h.reason for h in history]
        assert {h.program for h in history} >= {"web", "web:0", "web:3"}
    async with supervising(tmp_path, sleeper(2)) as sup:
        assert sorted(sup.runners) == ["web:0"]
    # The config's own count changed since: it wins.
    async with supervising(tmp_path, sleeper(3)) as sup:
        assert sorted(sup.runners) == ["web:0", "web:1", "web:2"]


async def test_an_instance_being_scaled_away_does_not_come_up_again(tmp_path: Path) -> None:
    """A start of an instance while a scale-down stops it is refused: started, it would run
    on with no runner left to supervise it."""
    slow_stop = (
        "[programs.web]\n"
        'command = ["sh", "-c", "trap \'sleep 0.5; exit 0\' TERM; while :; do sleep 0.1; done"]\n'
        f"replicas = 2\nstart_seconds = 0\n{QUIET}"
    )
    async with supervising(tmp_path, slow_stop) as sup:
        leaving = sup.runners["web:1"]
        for runner in sup.runners.values():
            await reach(runner, lc.State.RUNNING)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sup.scale, "web", 1)
            await reach(leaving, lc.State.STOPPING)
            [started] = await sup.start(["web:1"])
        assert (started.ok, started.message) == (False, "being removed")
        assert sorted(sup.runners) == ["web:0"]
        assert leaving.snapshot.pid is None, "a run of the removed instance goes on"


async def test_scale_refuses_a_program_without_replicas(tmp_path: Path) -> None:
    config = f'[programs.one]\ncommand = ["sleep", "3600"]\nautostart = false\n{QUIET}'
    async with supervising(tmp_path, config) as sup:
        with pytest.raises(BadRequest, match="not replicated"):
            await sup.scale("one", 2)
        with pytest.raises(NoSuchProgram):
            await sup.scale("two", 2)


async def test_a_rolling_restart_stops_at_the_instance_that_does_not_get_ready(
    tmp_path: Path,
) -> None:
    # An instance whose marker file exists exits at once: its restart fails (FATAL).
    config = (
        "[programs.web]\n"
        'command = ["sh", "-c", "test -e broken-{replica} && exit 1; exec sleep 3600"]\n'
        "replicas = 3\nstart_seconds = 0.05\nstart_retries = 0\n"
        f'cwd = "{tmp_path}"\n{QUIET}'
    )
    async with supervising(tmp_path, config) as sup:
        for name in ("web:0", "web:1", "web:2"):
            await reach(sup.runners[name], lc.State.RUNNING)
        before = {n: sup.runners[n].snapshot.pid for n in ("web:0", "web:1", "web:2")}
        (tmp_path / "broken-1").touch()
        results = await sup.restart(["web"], rolling=True, max_unavailable=1)
        assert [(r.name, r.ok) for r in results] == [
            ("web:0", True),
            ("web:1", False),
            ("web:2", False),
        ]
        assert results[2].message == "not restarted: web:1 did not get ready"
        assert sup.runners["web:0"].snapshot.pid != before["web:0"]
        assert sup.runners["web:1"].snapshot.state is lc.State.FATAL
        assert sup.runners["web:2"].snapshot.pid == before["web:2"]
        assert sup.runners["web:2"].snapshot.state is lc.State.RUNNING


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def get(port: int) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := await stream.receive_some():
            answer += chunk
    return answer


async def test_handed_over_socket_refuses_nothing_through_a_rolling_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = (
        "[programs.web]\n"
        f'command = ["{sys.executable}", "{PROGRAMS / "fd_http_server.py"}"]\n'
        "replicas = 3\nstop_timeout = 10\n"
        "ready = { notify = true }\n"
        f'[[programs.web.sockets]]\nlisten = "tcp://127.0.0.1:{port}"\nname = "http"\n'
    )
    async with supervising(tmp_path, config) as sup:
        await sup.wait_ready(["web"])
        first = {sup.runners[f"web:{i}"].snapshot.pid for i in range(3)}
        answers: list[bytes] = []
        errors: list[str] = []
        done = trio.Event()

        async def hammer() -> None:
            while not done.is_set():
                try:
                    answers.append(await get(port))
                except OSError as exc:
                    errors.append(repr(exc))

        with trio.fail_after(40):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hammer)
                results = await sup.restart(["web"], rolling=True, max_unavailable=1)
                done.set()
        assert all(r.ok for r in results), results
        assert errors == []
        assert answers
        assert all(a.startswith(b"HTTP/1.0 200") for a in answers), answers[:3]
        served = {int(a.split()[-1]) for a in answers}
        assert all(a.rstrip().split(b"\n")[-1].startswith(b"http ") for a in answers)
        now = {sup.runners[f"web:{i}"].snapshot.pid for i in range(3)}
        assert not first & now
        assert served & first
        assert served & now


def test_a_socket_that_cannot_be_bound_is_a_config_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = (
            f'[programs.web]\ncommand = ["sleep", "3600"]\n{QUIET}'
            f'[[programs.web.sockets]]\nlisten = "tcp://127.0.0.1:{port}"\n'
        )
        listeners = Listeners()
        with pytest.raises(ConfigError) as caught:
            listeners.bind(load(config, base_dir=str(tmp_path)))
    [problem] = caught.value.problems
    assert problem.path == "$.programs.web.sockets[0].listen"
    assert "cannot bind" in problem.message


async def test_a_unix_socket_is_handed_over_at_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "web.sock"
    # Ready once it printed: by then the hand-over has exec'd it with the variables set.
    config = (
        '[programs.web]\ncommand = ["sh", "-c", "echo up; exec sleep 3600"]\n'
        'ready = { log = "^up$" }\n'
        f'[[programs.web.sockets]]\nlisten = "{path}"\nmode = 0o600\n'
    )
    async with supervising(tmp_path, config) as sup:
        runner = sup.runners["web"]
        await reach(runner, lc.State.RUNNING)
        pid = runner.snapshot.pid
        assert pid is not None
        env = environ(pid)
        listen = (env["LISTEN_FDS"], env["LISTEN_PID"], env["LISTEN_FDNAMES"])
        assert listen == ("1", str(pid), "web")
        assert os.readlink(f"/proc/{pid}/fd/3").startswith("socket:")
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert not path.exists()


def rolling(replicas: int, folder: Path, marker: str = "") -> str:
    """A replicated program whose instance exits at once while ``broken-{replica}`` exists
    (and the command changes with ``marker``)."""
    script = f"test -e broken-{{replica}} && exit 1; exec sleep 36{{replica}}{marker}"
    return (
        f'[programs.web]\ncommand = ["sh", "-c", "{script}"]\n'
        f"replicas = {replicas}\nrolling = true\nstart_seconds = 0.05\nstart_retries = 0\n"
        f'cwd = "{folder}"\n{QUIET}'
    )


async def test_a_reload_scales_and_restarts_rolling(tmp_path: Path) -> None:
    async with supervising(tmp_path, rolling(2, tmp_path)) as sup:
        for runner in sup.instances_of("web"):
            await reach(runner, lc.State.RUNNING)
        pids = {r.name: r.snapshot.pid for r in sup.instances_of("web")}

        write_config(tmp_path, rolling(3, tmp_path))
        todo = await sup.reload()
        [web] = todo.programs
        assert (web.restart, web.scale) == (False, True)
        assert [(c.field, c.old, c.new, c.effect) for c in web.changes] == [
            ("replicas", "2", "3", "scale")
        ]
        assert {n: sup.runners[n].snapshot.pid for n in pids} == pids
        await reach(sup.runners["web:2"], lc.State.RUNNING)
        pids["web:2"] = sup.runners["web:2"].snapshot.pid

        # A changed command restarts them one at a time; web:1 cannot start: the roll stops.
        (tmp_path / "broken-1").touch()
        write_config(tmp_path, rolling(3, tmp_path, marker="0"))
        todo = await sup.reload()
        assert todo.programs[0].restart
        assert sup.runners["web:0"].snapshot.pid not in (None, pids["web:0"])
        assert sup.runners["web:1"].snapshot.state is lc.State.FATAL
        assert sup.runners["web:2"].snapshot.pid == pids["web:2"]


async def test_a_reload_turning_replicas_on_renames_and_removal_stops_all(
    tmp_path: Path,
) -> None:
    single = f'[programs.web]\ncommand = ["sleep", "3600"]\nstart_seconds = 0.05\n{QUIET}'
    async with supervising(tmp_path, single) as sup:
        await reach(sup.runners["web"], lc.State.RUNNING)
        write_config(tmp_path, sleeper(2))
        todo = await sup.reload()
        assert todo.programs[0].restart
        assert sorted(sup.runners) == ["web:0", "web:1"]
        for runner in sup.instances_of("web"):
            await reach(runner, lc.State.RUNNING)
        write_config(tmp_path, single.replace("[programs.web]", "[programs.other]"))
        await sup.reload()
        assert sorted(sup.runners) == ["other"]
