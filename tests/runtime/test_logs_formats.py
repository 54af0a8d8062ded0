"""Log formats on real files: JSON lines that keep every byte, time rotation beside size rotation,
and the tail of the lines written since a time, across rotated files."""

from __future__ import annotations

import json
import os
import random
import time
from typing import TYPE_CHECKING

import pytest

from supervisord_lite.config import load
from supervisord_lite.errors import ConfigError
from supervisord_lite.runtime.logs.files import RotatingFile
from supervisord_lite.runtime.logs.jsonlines import JsonLines, decode, rfc3339
from supervisord_lite.runtime.logs.tail import json_line_time, open_tail, stamp_time

if TYPE_CHECKING:
    from pathlib import Path

T0 = 1_700_000_000.0  # a moment well inside a local day and hour


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def files_of(path: Path) -> list[bytes]:
    """The current file and its backups, oldest first."""
    backups = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    return [p.read_bytes() for p in [*backups, path] if p.exists()]


def program_bytes(content: bytes) -> bytes:
    """What a JSON-lines file says the program wrote."""
    out = []
    for line in content.splitlines():
        item = decode(line)
        assert item is not None, line
        out.append(item[1])
    return b"".join(out)


def read_tail(path: Path, lines: int, **kwargs: object) -> bytes:
    tail = open_tail(str(path), lines, **kwargs)  # type: ignore[arg-type]
    try:
        return b"".join(iter(lambda: tail.read(7), b""))
    finally:
        tail.close()


# -- JSON lines ---------------------------------------------------------------------------------


def test_json_objects_carry_time_stream_and_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json", stream="stderr", clock=Clock(T0 + 0.25))
    file.write(b"hello\n", b"w\xc3\xa9rld\r\n\n")
    file.close()
    objects = [json.loads(line) for line in path.read_bytes().splitlines()]
    when = rfc3339(T0 + 0.25)
    assert objects == [
        {"time": when, "stream": "stderr", "line": "hello"},
        {"time": when, "stream": "stderr", "line": "w\u00e9rld\r"},
        {"time": when, "stream": "stderr", "line": ""},
    ]
    assert when.endswith(".250000Z")
    assert time.strptime(when[:19], "%Y-%m-%dT%H:%M:%S")


def test_json_keeps_bytes_that_are_not_utf8_losslessly(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json")
    file.write(b"ok \xff\xfe end\n")
    file.close()
    (obj,) = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert obj["line"] == "ok \ufffd\ufffd end"
    assert obj["bytes_b64"] == "b2sg//4gZW5k"
    assert program_bytes(path.read_bytes()) == b"ok \xff\xfe end\n"


def test_every_byte_comes_back_whatever_the_chunks(tmp_path: Path) -> None:
    rng = random.Random(14)
    alphabet = [b"a", b"\n", b"\xc3\xa9", b"\xff", b"\r", b'"', b"\\", b"\x00", b"\xe2\x82\xac"]
    data = b"".join(rng.choice(alphabet) for _ in range(20_000)) + b"\n"
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json", max_line=64, max_bytes=4000, backups=100)
    at = 0
    while at < len(data):
        step = rng.randint(1, 300)
        assert file.write(data[at : at + step]) == len(data[at : at + step])
        at += step
    file.close()
    files = files_of(path)
    assert len(files) > 3
    for content in files:  # every file holds whole objects only
        assert all(decode(line) is not None for line in content.splitlines())
    assert program_bytes(b"".join(files)) == data


def test_a_line_is_written_only_once_it_is_finished(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json")
    assert file.write(b"first\nsec") == 9  # the unfinished line counts as taken
    assert file.json is not None
    assert file.json.held == b"sec"
    assert [json.loads(x)["line"] for x in path.read_bytes().splitlines()] == ["first"]
    file.write(b"ond\n")
    file.close()
    assert [json.loads(x)["line"] for x in path.read_bytes().splitlines()] == ["first", "second"]


def test_a_line_longer_than_the_queue_is_cut_into_partial_objects(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json", max_line=10)
    file.write(b"x" * 15)
    file.write(b"y" * 12 + b"\n")
    file.close()
    objects = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [o["line"] for o in objects] == ["x" * 10, "x" * 5 + "y" * 5, "y" * 7]
    assert [o.get("partial", False) for o in objects] == [True, True, False]
    assert program_bytes(path.read_bytes()) == b"x" * 15 + b"y" * 12 + b"\n"


def test_a_cut_falls_between_utf8_characters() -> None:
    encoder = JsonLines("stdout", 10)
    out = encoder.encode("\u00e9".encode() * 8 + b"\n", T0)
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["line"] for o in objects] == ["\u00e9" * 5, "\u00e9" * 3]
    assert all("bytes_b64" not in o for o in objects)


def test_the_end_of_a_run_writes_its_unfinished_line_as_partial(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json")
    file.write(b"prompt> ", end_line=True)
    file.write(b"next run\n")
    file.close()
    objects = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [(o["line"], o.get("partial", False)) for o in objects] == [
        ("prompt> ", True),
        ("next run", False),
    ]


def test_an_object_longer_than_max_bytes_gets_a_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    file = RotatingFile(str(path), format="json", max_bytes=100, backups=10)
    lines = [b"short\n", b"z" * 300 + b"\n", b"after\n"]
    for line in lines:
        file.write(line)
    file.close()
    files = files_of(path)
    assert [program_bytes(f) for f in files] == lines
    assert len(files[1]) > 300


# -- time rotation ------------------------------------------------------------------------------


def test_a_write_in_a_new_period_rotates_first_and_keeps_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), rotate_every=3600, backups=3, clock=clock)
    written = []
    for hour in range(6):
        clock.now = T0 + hour * 3600
        for n in range(3):
            line = b"hour %d line %d\n" % (hour, n)
            file.write(line)
            written.append(line)
    file.close()
    files = files_of(path)
    assert len(files) == 4  # the current one and backups = 3
    assert files == [b"".join(written[h * 3 : h * 3 + 3]) for h in (2, 3, 4, 5)]


def test_an_idle_file_rotates_at_its_next_write(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), rotate_every=600, backups=5, clock=clock)
    file.write(b"before\n")
    clock.now += 5 * 86400  # nothing written meanwhile: nothing happens
    assert path.read_bytes() == b"before\n"
    file.write(b"after\n")
    file.close()
    assert files_of(path) == [b"before\n", b"after\n"]


def test_time_rotation_waits_for_the_end_of_a_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), rotate_every=3600, backups=5, clock=clock)
    file.write(b"one\ntw")
    clock.now += 3600
    file.write(b"o\nthree\n")
    file.close()
    assert files_of(path) == [b"one\ntwo\n", b"three\n"]


def test_size_or_time_whichever_comes_first(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), max_bytes=20, rotate_every=3600, backups=10, clock=clock)
    file.write(b"0123456789\n", b"0123456789\n")  # 22 bytes: size rotates between the two
    clock.now += 3600
    file.write(b"x\n")  # a new hour: time rotates
    file.close()
    assert files_of(path) == [b"0123456789\n", b"0123456789\n", b"x\n"]
    assert file.generation == 2


def test_a_file_found_at_start_belongs_to_the_period_it_was_last_written_in(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"yesterday\n")
    os.utime(path, (T0 - 86400, T0 - 86400))
    file = RotatingFile(str(path), rotate_every=86400, backups=2, clock=Clock())
    file.write(b"today\n")
    file.write(b"still today\n")
    file.close()
    assert files_of(path) == [b"yesterday\n", b"today\nstill today\n"]


def test_time_rotation_without_backups_empties_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), rotate_every=60, backups=0, clock=clock)
    file.write(b"old\n")
    clock.now += 60
    file.write(b"new\n")
    file.close()
    assert files_of(path) == [b"new\n"]


def test_json_lines_rotate_by_time_between_objects(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), format="json", rotate_every=60, backups=5, clock=clock)
    file.write(b"a\nb")
    clock.now += 60
    file.write(b"\nc\n")
    file.close()
    assert [program_bytes(f) for f in files_of(path)] == [b"a\n", b"b\nc\n"]


def test_rotate_every_set_on_a_running_file_takes_effect_from_the_next_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), backups=5, clock=clock)
    file.write(b"one\n")
    clock.now += 3600
    file.write(b"two\n")  # no rotate_every yet: one file
    file.reconfigure(max_bytes=0, backups=5, timestamps=False, rotate_every=3600)
    file.write(b"three\n")  # the file's period starts now...
    clock.now += 3600
    file.write(b"four\n")  # ...and ends an hour later
    file.close()
    assert files_of(path) == [b"one\ntwo\nthree\n", b"four\n"]


# -- since --------------------------------------------------------------------------------------


def json_log(path: Path, times_and_lines: list[tuple[float, bytes]], **kwargs: int) -> None:
    clock = Clock()
    file = RotatingFile(str(path), format="json", clock=clock, **kwargs)  # type: ignore[arg-type]
    for when, line in times_and_lines:
        clock.now = when
        file.write(line)
    file.close()


def test_since_keeps_the_lines_written_at_or_after_it_across_backups(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    entries = [(T0 + n, b"line %03d\n" % n) for n in range(100)]
    json_log(path, entries, max_bytes=1000, backups=50)
    assert len(files_of(path)) > 5
    got = read_tail(path, 1000, backups=50, since=T0 + 37, line_time=json_line_time, json=True)
    assert got == b"".join(line for _, line in entries[37:])
    # lines caps what since keeps: the last of them.
    got = read_tail(path, 5, backups=50, since=T0 + 37, line_time=json_line_time, json=True)
    assert got == b"".join(line for _, line in entries[95:])
    # A time after every line: nothing; before every line: everything.
    assert read_tail(path, 1000, backups=50, since=T0 + 1000, line_time=json_line_time) == b""
    got = read_tail(path, 1000, backups=50, since=T0 - 1, line_time=json_line_time, json=True)
    assert got == b"".join(line for _, line in entries)


def test_since_reads_the_times_that_timestamps_wrote(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    clock = Clock()
    file = RotatingFile(str(path), timestamps=True, clock=clock)
    for n in range(10):
        clock.now = T0 + n
        file.write(b"n%d\n" % n)
    file.close()
    got = read_tail(path, 100, backups=0, since=T0 + 7, line_time=stamp_time)
    assert [line.split(b" ", 1)[1] for line in got.splitlines()] == [b"n7", b"n8", b"n9"]
    assert stamp_time(got.splitlines()[0]) == T0 + 7


def test_since_stops_at_a_line_without_a_time(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"written before timestamps were on\n")
    clock = Clock()
    file = RotatingFile(str(path), timestamps=True, clock=clock)
    file.write(b"stamped\n")
    file.close()
    got = read_tail(path, 100, backups=0, since=0.0, line_time=stamp_time)
    assert got.endswith(b" stamped\n")
    assert b"before" not in got


@pytest.mark.parametrize("since", [None, T0 + 2])
def test_a_json_tail_passes_on_lines_that_are_not_its_objects(
    tmp_path: Path, since: float | None
) -> None:
    path = tmp_path / "a.log"
    json_log(path, [(T0 + n, b"j%d\n" % n) for n in range(4)])
    with path.open("ab") as f:
        f.write(b"a stray line\n")
    json_log(path, [(T0 + 9, b"last\n")])
    got = read_tail(path, 3, backups=0, since=since, line_time=json_line_time, json=True)
    # The stray line has no time: with since it stops the scan, like an older line.
    assert got == (b"j3\na stray line\nlast\n" if since is None else b"last\n")


# -- the config keys ----------------------------------------------------------------------------


def log_table(log: str) -> str:
    return f'[programs.a]\ncommand = ["true"]\nlog = {{ {log} }}\n'


@pytest.mark.parametrize(
    ("every", "seconds"), [("10m", 600), ("1h", 3600), ("1d", 86400), ("7d", 7 * 86400)]
)
def test_rotate_every_is_minutes_hours_or_days(every: str, seconds: int) -> None:
    config = load(log_table(f'rotate_every = "{every}", format = "json"'), base_dir="/srv")
    log = config.programs["a"].log
    assert (log.rotate_every, log.rotate_seconds, log.format) == (every, seconds, "json")


def test_by_default_text_files_rotate_by_size_only() -> None:
    log = load(log_table(""), base_dir="/srv").programs["a"].log
    assert (log.format, log.rotate_every, log.rotate_seconds) == ("text", None, 0)


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ('rotate_every = "1w"', 'must be minutes, hours or days, as "10m", "1h" or "1d"'),
        ('rotate_every = "0d"', "must be minutes, hours or days"),
        ('rotate_every = "1.5h"', "must be minutes, hours or days"),
        ("rotate_every = 3600", "expected a string, got an integer"),
        ('format = "xml"', "must be one of 'text', 'json', got 'xml'"),
        ('format = "json", timestamps = true', 'cannot be set with format = "json"'),
    ],
)
def test_bad_log_format_keys_are_named_with_their_path(log: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(log_table(log), base_dir="/srv")
    (problem,) = refused.value.problems
    assert problem.path.startswith("$.programs.a.log.")
    assert message in problem.message
