"""Log files on disk: path safety, size rotation without losing or repeating a byte, timestamps,
the carry a failed write leaves, and reading the last lines back across a rotation."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.errors import LogPathError
from supervisord_lite.runtime.logs.files import RotatingFile, WriteFailed
from supervisord_lite.runtime.logs.paths import open_log_file
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


def lines_of(count: int) -> list[bytes]:
    """Lines of many lengths (2 to 61 bytes), each numbered."""
    return [b"%d %s\n" % (i, b"x" * (i * 7 % 53)) for i in range(count)]


def files_of(path: Path, backups: int) -> list[bytes]:
    """The current file and its backups, oldest first."""
    names = [path.with_name(f"{path.name}.{n}") for n in range(backups, 0, -1)]
    return [p.read_bytes() for p in [*names, path] if p.exists()]


def test_a_line_that_fits_in_a_file_is_never_cut_by_rotation(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    lines = lines_of(400)
    file = RotatingFile(str(path), max_bytes=100, backups=200)
    for line in lines:  # one line per write, as a program printing line by line
        assert file.write(line) == len(line)
    file.close()
    files = files_of(path, 200)
    assert b"".join(files) == b"".join(lines)
    assert all(f.endswith(b"\n") and len(f) <= 100 for f in files)
    assert [line for f in files for line in f.splitlines(keepends=True)] == lines


def test_whole_lines_in_a_batch_go_to_the_next_file_when_they_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=10, backups=5)
    file.write(b"aaaa\n", b"bbbbbbbb\ncc\n")
    file.close()
    assert files_of(path, 5) == [b"aaaa\n", b"bbbbbbbb\n", b"cc\n"]


def test_a_line_written_in_pieces_is_finished_in_the_file_it_began_in(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=10, backups=5)
    file.write(b"1234567\nab")  # 10 bytes: the file is full, inside a line
    file.write(b"cdef\n")  # the line's end: past max_bytes, but not cut
    file.write(b"next\n")
    file.close()
    assert files_of(path, 5) == [b"1234567\nabcdef\n", b"next\n"]


def test_a_line_in_pieces_longer_than_a_file_is_split_where_the_file_is_full(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=10, backups=5)
    file.write(b"12\nabc")
    file.write(b"defghijk")  # the line is 11 bytes already: longer than a file
    file.write(b"\n")
    file.close()
    assert files_of(path, 5) == [b"12\nabcdefg", b"hijk\n"]


def test_timestamps_count_in_the_size_and_lines_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(
        str(path), max_bytes=200, backups=100, timestamps=True, clock=lambda: 1_700_000_000.0
    )
    lines = lines_of(300)
    for line in lines:
        file.write(line)
    file.close()
    files = files_of(path, 100)
    assert all(len(f) <= 200 and f.endswith(b"\n") for f in files)
    kept = [line.split(b" ", 1)[1] for f in files for line in f.splitlines(keepends=True)]
    assert kept == lines


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


# -- renamed, deleted, reopened -----------------------------------------------------------------


def test_a_renamed_file_is_noticed_and_the_path_opened_afresh(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path))
    file.write(b"one\n")
    path.rename(tmp_path / "a.log.old")
    file.write(b"two\n")
    file.close()
    assert (tmp_path / "a.log.old").read_bytes() == b"one\n"
    assert path.read_bytes() == b"two\n"
    assert file.counters.reopened == 1
    assert file.generation == 1


def test_a_deleted_file_is_noticed_and_created_again(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=1000, backups=1)
    file.write(b"one\n")
    path.unlink()
    file.write(b"two\n")
    assert path.read_bytes() == b"two\n"
    assert file.size == 4  # the new file's size counts toward rotation, not the old one's
    file.write(b"three\n")
    file.close()
    assert path.read_bytes() == b"two\nthree\n"
    assert file.counters.reopened == 1


def test_a_file_replaced_at_the_path_is_written_from_now_on(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path))
    file.write(b"one\n")
    path.rename(tmp_path / "a.log.1")
    path.write_bytes(b"")  # logrotate's "create"
    path.chmod(0o640)
    file.write(b"two\n")
    file.close()
    assert path.read_bytes() == b"two\n"
    assert file.counters.reopened == 1


def test_a_symlink_planted_at_the_path_is_refused_and_the_bytes_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    target = tmp_path / "precious"
    target.write_bytes(b"keep\n")
    file = RotatingFile(str(path))
    file.write(b"one\n")
    path.unlink()
    path.symlink_to(target)
    with pytest.raises(WriteFailed, match="symlink"):
        file.write(b"two\n")
    assert file.carried == 4
    assert target.read_bytes() == b"keep\n"
    path.unlink()
    assert file.write() == 4  # the carry, once the path is safe again
    file.close()
    assert path.read_bytes() == b"two\n"


def test_a_reopen_asked_for_is_done_by_the_next_write_even_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path))
    file.write(b"one\n")
    assert not file.reopen_pending
    file.request_reopen()
    assert file.reopen_pending
    path.rename(tmp_path / "a.log.1")
    assert file.write() == 0
    assert path.exists()  # opened afresh, before any byte comes
    assert not file.reopen_pending
    assert file.counters.reopened == 1
    file.close()


def test_an_unchanged_path_is_not_reopened(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), max_bytes=50, backups=3)
    for _ in range(40):
        file.write(b"0123456789\n")
    file.close()
    assert file.counters.reopened == 0  # rotations are not reopenings


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
