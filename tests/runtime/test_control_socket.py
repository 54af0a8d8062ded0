"""The control socket on a real daemon: permissions, abuse, reload, restart, sd_notify."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.connection import CLOSED, NEED_DATA, Connection, Role
from supervisord_lite.protocol.framing import FrameDecoder
from supervisord_lite.runtime.control_session import FrameProgress
from svctl import Client, ConfigInvalid, NoSuchProgram
from tests.daemon_harness import (
    ROOT,
    TOKEN_VAR,
    kill_by_token,
    running,
    start_daemon,
    stop_daemon,
    write_config,
)

if TYPE_CHECKING:
    from pathlib import Path

ONE = """\
[programs.one]
command = ["sleep", "3600"]
start_seconds = 0
"""


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _raw(path: str, payload: bytes, *, close_write: bool = True) -> bytes:
    """Send raw bytes, read until the daemon closes (bounded); what it answered."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(payload)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def _replies(data: bytes) -> list[object]:
    conn = Connection(Role.CLIENT)
    conn.receive_data(data)
    conn.receive_data(b"")
    out = []
    while (event := conn.next_event()) not in (NEED_DATA, CLOSED):
        out.append(event)
    return out


def _hello() -> bytes:
    return Connection(Role.CLIENT).send(m.Hello(version=m.PROTOCOL_VERSION))


def test_socket_and_folder_are_private(tmp_path: Path) -> None:
    with running(tmp_path, ONE) as daemon:
        assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(daemon.socket)).st_mode) == 0o700


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x00\x00\x00\x05garbage", m.ErrorCode.BAD_FRAME),
        (b"\xff\xff\xff\xff", m.ErrorCode.FRAME_TOO_LARGE),
        (_hello() + struct.pack(">I", 3) + b"\x81\xa2op", m.ErrorCode.BAD_FRAME),
        (
            Connection(Role.CLIENT).send(m.Hello(version=m.PROTOCOL_VERSION + 1)),
            m.ErrorCode.UNSUPPORTED_VERSION,
        ),
    ],
    ids=["garbage", "4GiB-prefix", "truncated-map", "wrong-version"],
)
def test_bad_frames_get_an_error_and_a_close(tmp_path: Path, payload: bytes, code: str) -> None:
    with running(tmp_path, ONE) as daemon:
        replies = _replies(_raw(daemon.socket, payload))
        errors = [r for r in replies if isinstance(r, m.Error)]
        assert errors, replies
        assert errors[-1].code == code
        with Client(daemon.socket, timeout=10) as client:
            assert [s.name for s in client.status()] == ["one"]


def test_unknown_op_is_answered_with_its_id(tmp_path: Path) -> None:
    import msgspec

    body = msgspec.msgpack.encode({"op": "frobnicate", "id": 41})
    with running(tmp_path, ONE) as daemon:
        replies = _replies(_raw(daemon.socket, _hello() + struct.pack(">I", len(body)) + body))
        error = replies[-1]
        assert isinstance(error, m.Error)
        assert (error.code, error.id) == (m.ErrorCode.UNKNOWN_OP, 41)


def test_abuse_leaves_the_daemon_serving_and_its_fds_where_they_were(tmp_path: Path) -> None:
    with running(tmp_path, ONE) as daemon:
        with Client(daemon.socket, timeout=10) as client:
            client.status()
        before = _fd_count(daemon.process.pid)
        # a frame cut mid-way, then closed
        _raw(daemon.socket, _hello() + struct.pack(">I", 100) + b"x" * 10)
        # a thousand connections opened and dropped, some mid-handshake
        for i in range(1000):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(daemon.socket)
                if i % 3 == 0:
                    sock.sendall(_hello()[:3])
        with Client(daemon.socket, timeout=10) as client:
            assert [s.name for s in client.status()] == ["one"]
        deadline = time.monotonic() + 10
        while _fd_count(daemon.process.pid) > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _fd_count(daemon.process.pid) <= before


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another uid needs root")
@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="no system python3")
def test_a_peer_uid_not_allowed_is_refused(tmp_path: Path) -> None:
    # The peer runs as nobody, which cannot reach pytest's private tmp folders: the socket
    # lives in a world-traversable folder of its own.
    public = tempfile.mkdtemp(prefix="svl-", dir="/tmp")
    os.chmod(public, 0o755)
    sock_path = os.path.join(public, "run", "ctl.sock")
    config = write_config(tmp_path, ONE, daemon_extra="socket_mode = 0o666\n")
    config.write_text(config.read_text().replace('"run/ctl.sock"', f'"{sock_path}"'))
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])\n"
        "sys.stdout.buffer.write(s.recv(65536))\n"
    )
    daemon = start_daemon(config, socket=sock_path)
    try:
        assert stat.S_IMODE(os.stat(os.path.dirname(sock_path)).st_mode) == 0o711
        out = subprocess.run(
            ["/usr/bin/python3", "-c", probe, sock_path],
            capture_output=True,
            user=65534,
            group=65534,
            extra_groups=[],
            timeout=30,
            check=True,
            cwd="/",
        )
        (error,) = _replies(out.stdout)
        assert isinstance(error, m.Error)
        assert error.code == m.ErrorCode.PERMISSION_DENIED
        assert "uid 65534" in error.message
        with Client(sock_path, timeout=10) as client:  # root still gets in
            assert [s.name for s in client.status()] == ["one"]
    finally:
        stop_daemon(daemon)
        shutil.rmtree(public, ignore_errors=True)


def test_reload_applies_the_diff_and_refuses_a_bad_file(tmp_path: Path) -> None:
    programs = ONE + '\n[programs.two]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
    with running(tmp_path, programs) as daemon, Client(daemon.socket, timeout=30) as client:
        client.wait("one", "two", state="RUNNING", timeout=20)
        (one_before,) = client.status("one")
        (two_before,) = client.status("two")
        new = (
            ONE
            + '\n[programs.two]\ncommand = ["sleep", "3601"]\nstart_seconds = 0\n'
            + '\n[programs.three]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
        )
        write_config(tmp_path, new)
        change = client.reload()
        assert (change.added, change.changed, change.unchanged) == (("three",), ("two",), ("one",))
        client.wait("two", "three", state="RUNNING", timeout=20)
        (one_after,) = client.status("one")
        (two_after,) = client.status("two")
        assert one_after.pid == one_before.pid  # unchanged: untouched
        assert two_after.pid != two_before.pid  # changed: restarted with the new command

        write_config(tmp_path, ONE + "\n[programs.bad]\ncommand = []\nstop_timout = 1\n")
        with pytest.raises(ConfigInvalid) as caught:
            client.reload()
        assert "stop_timout" in str(caught.value)
        assert "command" in str(caught.value)
        assert {s.name for s in client.status()} == {"one", "two", "three"}


def test_history_survives_a_daemon_restart(tmp_path: Path) -> None:
    programs = '[programs.three]\ncommand = ["sh", "-c", "exit 3"]\n'
    programs += 'start_seconds = 0\nautorestart = "never"\n'
    config = write_config(tmp_path, programs)
    first = start_daemon(config)
    try:
        with Client(first.socket, timeout=20) as client:
            client.wait("three", state="EXITED", timeout=20)
            (status,) = client.status("three")
            assert status.exit_code == 3
    finally:
        stop_daemon(first)
    second = start_daemon(config)
    try:
        with Client(second.socket, timeout=20) as client:
            client.wait("three", state="EXITED", timeout=20)
            runs = [e for e in client.history("three") if e.outcome == "failed"]
            assert [e.exit_code for e in runs] == [3, 3]
            with pytest.raises(NoSuchProgram) as caught:
                client.history("thre")
            assert caught.value.known == ("three",)
    finally:
        stop_daemon(second)


def test_sd_notify_ready_and_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(20)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        daemon = start_daemon(write_config(tmp_path, ONE))
        try:
            ready = _datagram_with(sock, "READY=1")
            assert "STATUS=1 programs: 1 running" in ready
        finally:
            stop_daemon(daemon)
        assert "STOPPING=1" in _datagram_with(sock, "STOPPING=1")
    assert daemon.process.returncode == 0
    assert ROOT.is_dir()


def _datagram_with(sock: socket.socket, line: str) -> list[str]:
    """The lines of the first datagram that holds ``line`` (``STATUS=`` updates come between)."""
    while line not in (lines := sock.recv(4096).decode().splitlines()):
        pass
    return lines


def _refused_at_start(config: Path, socket_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the daemon, expecting it to refuse to start; what it printed and its exit status.

    Fails as soon as the socket appears instead (the daemon did start)."""
    env = {**os.environ, TOKEN_VAR: uuid.uuid4().hex}
    out = config.parent / "refusal.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "supervisord_lite", "-c", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=config.parent,
        )
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None:
            assert not socket_path.exists(), "the daemon made its socket there"
            assert time.monotonic() < deadline, "the daemon neither started nor refused"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        kill_by_token(env[TOKEN_VAR])
        process.wait(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, out.read_text(), "")


def _config_with_socket(tmp_path: Path, socket_path: str) -> Path:
    config = write_config(tmp_path, ONE)
    config.write_text(config.read_text().replace('"run/ctl.sock"', f'"{socket_path}"'))
    return config


def test_a_socket_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(0o777)
    result = _refused_at_start(_config_with_socket(tmp_path, "run/ctl.sock"), folder / "ctl.sock")
    assert result.returncode == 1, result
    assert f"{folder}'" in result.stdout
    assert "other users can write to it (mode 0777)" in result.stdout
    assert "Traceback" not in result.stdout


def test_a_folder_above_the_socket_others_can_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    socket_path = shared / "svl" / "run" / "ctl.sock"
    result = _refused_at_start(_config_with_socket(tmp_path, str(socket_path)), socket_path)
    assert result.returncode == 1, result
    assert f"{shared}'" in result.stdout
    assert "mode 0775" in result.stdout
    assert not (shared / "svl").exists()  # refused before anything was made


def test_a_symlink_to_a_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (tmp_path / "run").symlink_to(shared)
    result = _refused_at_start(_config_with_socket(tmp_path, "run/ctl.sock"), shared / "ctl.sock")
    assert result.returncode == 1, result
    assert f"{shared}'" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_socket_folder_another_user_owns_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    result = _refused_at_start(_config_with_socket(tmp_path, "run/ctl.sock"), folder / "ctl.sock")
    assert result.returncode == 1, result
    assert "owned by uid 65534" in result.stdout


def test_a_sticky_folder_above_the_socket_is_accepted(tmp_path: Path) -> None:
    # Like /tmp: others may add entries, but not rename or remove the daemon's.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    config = _config_with_socket(tmp_path, "shared/svl/ctl.sock")
    daemon = start_daemon(config, socket=str(shared / "svl" / "ctl.sock"))
    try:
        assert stat.S_IMODE(os.stat(shared / "svl").st_mode) == 0o700
    finally:
        stop_daemon(daemon)


@given(
    bodies=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_frame_progress_agrees_with_the_frame_decoder(bodies: list[bytes], cuts: list[int]) -> None:
    # The control session's deadline for an unfinished frame rests on FrameProgress.
    stream = b"".join(struct.pack(">I", len(body)) + body for body in bodies)
    progress = FrameProgress()
    decoder = FrameDecoder()
    start = 0
    for end in [*sorted(c for c in cuts if c <= len(stream)), len(stream)]:
        chunk = stream[start:end]
        start = max(start, end)
        progress.feed(chunk)
        decoder.feed(chunk)
        assert progress.mid_frame == (not decoder.at_boundary)
