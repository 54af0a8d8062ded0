"""Log files on disk: path safety, size rotation without losing or repeating a byte, timestamps,
the carry a failed write leaves, and reading the last lines back across a rotation."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.errors import LogPathError
from supervisord_lite.runtime.logs.files import RotatingFile, WriteFailed, open_log_file
from supervisord_lite.runtime.logs.tail import open_tail

if TYPE_CHECKING:
    from pathlib import Path


def chain(path: Path, backups: int) -> bytes:
    """Every byte of a rotated log, oldest first."""
    parts = []
    for n in range(backups, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            parts.append(older.read_bytes())
    parts.append(path.read_bytes())
    return b"".join(parts)


def numbered(count: int, width: int = 20) -> bytes:
    return b"".join(b"%0*d\n" % (width - 1, i) for i in range(count))


# -- path safety --------------------------------------------------------------------------------


def test_a_new_log_file_is_0640(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "a.log"
    fd = open_log_file(str(path))
    os.close(fd)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_symlink_at_the_log_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"precious\n")
    link = tmp_path / "a.log"
    link.symlink_to(target)
    with pytest.raises(LogPathError, match="symlink"):
        open_log_file(str(link))
    assert target.read_bytes() == b"precious\n"


def test_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(LogPathError, match="other users"):
        open_log_file(str(folder / "a.log"))


def test_a_fifo_nobody_reads_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(LogPathError, match="nobody reads"):
        open_log_file(str(fifo))


# -- rotation -----------------------------------------------------------------------------------


def test_rotation_keeps_every_byte_once_and_cuts_at_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    data = numbered(5000)  # 100,000 bytes
    file = RotatingFile(str(path), max_bytes=8000, backups=50)
    for at in range(0, len(data), 777):  # writes that straddle the limits everywhere
        assert file.write(data[at : at + 777]) == len(data[at : at + 777])
    file.close()
    assert chain(path, 50) == data
    sizes = [path.with_name(f"a.log.{n}").stat().st_size for n in range(1, 13)]
    assert all(size <= 8000 for size in sizes)
    assert all(path.with_name(f"a.log.{n}").read_bytes().endswith(b"\n") for n in range(1, 13))
    assert file.generation == 12


def test_a_line_longer_than_max_bytes_is_cut_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    data = b"x" * 2500 + b"\n"
    file = RotatingFile(str(path), max_bytes=1000, backups=5)
    file.write(data)
    file.close()
    assert chain(path, 5) == data
    assert path.with_name("a.log.2").stat().st_size == 1000


def test_the_oldest_backup_beyond_the_count_goes(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=100, backups=2)
    data = numbered(50)  # 1000 bytes: 10 files' worth
    file.write(data)
    file.close()
    assert not path.with_name("a.log.3").exists()
    assert data.endswith(chain(path, 2))
    assert len(chain(path, 2)) == 300


def test_no_backups_empties_the_file_instead(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=100, backups=0)
    file.write(numbered(12))  # 240 bytes
    file.close()
    assert path.read_bytes() == numbered(12)[200:]
    assert not path.with_name("a.log.1").exists()


def test_max_bytes_zero_never_rotates(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=0, backups=3)
    file.write(numbered(1000))
    file.close()
    assert path.read_bytes() == numbered(1000)
    assert not path.with_name("a.log.1").exists()


def test_an_existing_file_is_appended_to_and_its_size_counts(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"before\n" * 15)  # already past max_bytes
    path.chmod(0o640)
    file = RotatingFile(str(path), max_bytes=100, backups=1)
    file.write(b"after\n")
    file.close()
    assert path.with_name("a.log.1").read_bytes() == b"before\n" * 15
    assert path.read_bytes() == b"after\n"


def test_timestamps_prefix_each_line_even_across_writes(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), timestamps=True, clock=lambda: 1_700_000_000.25)
    assert file.write(b"one\ntw") == 6
    assert file.write(b"o\nthree\n") == 8
    file.close()
    lines = path.read_bytes().splitlines()
    assert [line.split(b" ", 1)[1] for line in lines] == [b"one", b"two", b"three"]
    assert all(line.split(b" ", 1)[0].endswith(b".250") for line in lines)


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_full_device_keeps_the_bytes_in_the_carry(tmp_path: Path) -> None:
    full = tmp_path / "full"
    os.mknod(full, 0o640 | stat.S_IFCHR, os.makedev(1, 7))  # like /dev/full: ENOSPC always
    file = RotatingFile(str(full))
    with pytest.raises(WriteFailed, match="No space") as failed:
        file.write(b"abc\n")
    assert failed.value.done == 0
    assert file.carried == 4
    with pytest.raises(WriteFailed):
        file.write(b"def\n")  # queued behind the carry, not lost
    assert file.carried == 8
    assert file.discard_carry() == 8
    assert file.carried == 0
    file.close()


# -- reading the tail ---------------------------------------------------------------------------


def read_tail(path: Path, lines: int, backups: int = 5, end: int | None = None) -> bytes:
    tail = open_tail(str(path), lines, backups=backups, end=end)
    out = b""
    while piece := tail.read(7):
        out += piece
    tail.close()
    return out


@pytest.mark.parametrize(
    ("content", "lines", "expected"),
    [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc", 2, b"b\nc"),
        (b"a\nb\nc\n", 10, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 0, b""),
        (b"", 3, b""),
        (b"\n\n\n", 2, b"\n\n"),
    ],
)
def test_the_last_lines_of_one_file(
    tmp_path: Path, content: bytes, lines: int, expected: bytes
) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(content)
    assert read_tail(path, lines) == expected


def test_the_tail_continues_into_the_backups(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    data = numbered(400)  # 8000 bytes, rotated every 1000
    file = RotatingFile(str(path), max_bytes=1000, backups=10)
    file.write(data)
    file.close()
    lines = data.splitlines(keepends=True)
    assert path.read_bytes().count(b"\n") == 50
    for n in (1, 50, 51, 120, 399, 400, 1000):
        assert read_tail(path, n, backups=10) == b"".join(lines[-n:])


def test_the_tail_can_stop_at_an_earlier_size(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"a\nb\nc\nd\n")
    assert read_tail(path, 2, end=4) == b"a\nb\n"


def test_a_symlinked_log_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"password\n")
    (tmp_path / "a.log").symlink_to(secret)
    assert read_tail(tmp_path / "a.log", 5) == b""


def test_the_tail_scans_big_files_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    data = numbered(20000, width=50)  # 1 MB
    path.write_bytes(data)
    lines = data.splitlines(keepends=True)
    for n in (1, 1310, 1311, 19999, 20000):
        assert read_tail(path, n) == b"".join(lines[-n:])
