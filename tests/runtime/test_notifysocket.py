"""Programs' notify sockets: real datagrams, real credentials, systemd's own systemd-notify."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from supervisord_lite.notify_datagram import MAX_DATAGRAM
from supervisord_lite.runtime.fdwatch import FdWatch
from supervisord_lite.runtime.notifysocket import NotifySockets

if TYPE_CHECKING:
    from collections.abc import Iterator

    from supervisord_lite.notify_datagram import Notification


class Inbox:
    def __init__(self) -> None:
        self.got: list[tuple[int | None, Notification]] = []
        self.changed = trio.Event()

    def __call__(self, pid: int | None, notification: Notification) -> None:
        self.got.append((pid, notification))
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, count: int) -> None:
        with trio.fail_after(10):
            while len(self.got) < count:
                await self.changed.wait()


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder other users can reach (pytest's tmp_path is under a root-only folder)."""
    folder = Path(tempfile.mkdtemp(prefix="sl-notify-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _send(path: str, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, path)


async def test_a_datagram_arrives_with_the_senders_pid(tmp_path: Path) -> None:
    inbox = Inbox()
    async with trio.open_nursery() as nursery:
        sockets = NotifySockets(str(tmp_path / "notify"), FdWatch(), nursery)
        entry = sockets.open("web", inbox)
        mode = os.stat(entry.path).st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "notify").st_mode) == 0o711
        _send(entry.path, b"READY=1\nSTATUS=up")
        await inbox.wait_for(1)
        pid, note = inbox.got[0]
        assert pid == os.getpid()
        assert note.ready
        assert note.status == "up"
        sockets.close_all()
    assert not (tmp_path / "notify" / "web.sock").exists()


async def test_a_child_process_is_named_by_its_own_pid(tmp_path: Path) -> None:
    inbox = Inbox()
    async with trio.open_nursery() as nursery:
        sockets = NotifySockets(str(tmp_path / "n"), FdWatch(), nursery)
        entry = sockets.open("p", inbox)
        code = (
            "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM);"
            "s.sendto(b'X_PROGRESS_DONE=2', sys.argv[1])"
        )
        child = await trio.run_process(["python3", "-c", code, entry.path])
        await inbox.wait_for(1)
        assert inbox.got[0][0] not in (None, os.getpid())
        assert inbox.got[0][1].done == 2.0
        assert child.returncode == 0
        sockets.close_all()


async def test_an_oversized_datagram_is_refused_whole(tmp_path: Path) -> None:
    inbox = Inbox()
    async with trio.open_nursery() as nursery:
        sockets = NotifySockets(str(tmp_path / "n"), FdWatch(), nursery)
        entry = sockets.open("p", inbox)
        _send(entry.path, b"STATUS=" + b"x" * MAX_DATAGRAM)
        _send(entry.path, b"READY=1")
        await inbox.wait_for(2)
        assert "refused" in inbox.got[0][1].problems[0]
        assert not inbox.got[0][1].ready
        assert inbox.got[1][1].ready
        assert entry.refused == 1
        sockets.close_all()


@pytest.mark.skipif(shutil.which("systemd-notify") is None, reason="no systemd-notify here")
async def test_systemd_notify_works_unchanged(tmp_path: Path) -> None:
    inbox = Inbox()
    async with trio.open_nursery() as nursery:
        sockets = NotifySockets(str(tmp_path / "n"), FdWatch(), nursery)
        entry = sockets.open("p", inbox)
        env = {**os.environ, "NOTIFY_SOCKET": entry.path}
        with trio.fail_after(10):
            done = await trio.run_process(
                ["systemd-notify", "--ready", "--status=warming up"],
                env=env,
                check=False,
                capture_stderr=True,
            )
        assert done.returncode == 0, done.stderr
        await inbox.wait_for(1)
        notes = [n for _, n in inbox.got]
        assert any(n.ready and n.status == "warming up" for n in notes)
        sockets.close_all()


async def test_a_socket_for_another_user_belongs_to_it(public_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a socket to another user")
    inbox = Inbox()
    async with trio.open_nursery() as nursery:
        sockets = NotifySockets(str(public_dir / "n"), FdWatch(), nursery)
        entry = sockets.open("p", inbox, uid=65534, gid=65534)
        info = os.stat(entry.path)
        assert (info.st_uid, info.st_gid) == (65534, 65534)
        code = (
            "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM);"
            "s.sendto(b'READY=1', sys.argv[1])"
        )
        done = await trio.run_process(
            ["python3", "-c", code, entry.path], user=65534, group=65534, extra_groups=[]
        )
        assert done.returncode == 0
        await inbox.wait_for(1)
        sockets.close_all()


async def test_other_users_cannot_send_to_a_programs_socket(public_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a sender as another user")
    async with trio.open_nursery() as nursery:
        sockets = NotifySockets(str(public_dir / "n"), FdWatch(), nursery)
        try:
            entry = sockets.open("p", lambda pid, n: None)
            code = (
                "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM);"
                "s.sendto(b'READY=1', sys.argv[1])"
            )
            done = await trio.run_process(
                ["python3", "-c", code, entry.path],
                user=65534,
                group=65534,
                extra_groups=[],
                capture_stderr=True,
                check=False,
            )
            assert done.returncode != 0
            assert b"PermissionError" in done.stderr
        finally:
            sockets.close_all()
