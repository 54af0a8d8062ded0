"""Parsing a program's sd_notify datagram: every key we act on, bounds, and bad lines named."""

from __future__ import annotations

import pytest

from supervisord_lite.notify_datagram import (
    MAX_DATAGRAM,
    MAX_FREE_FIELDS,
    MAX_VALUE,
    Notification,
    parse,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"READY=1", Notification(ready=True)),
        (
            b"READY=1\nSTATUS=serving 3 clients\n",
            Notification(ready=True, status="serving 3 clients"),
        ),
        (b"STATUS=a=b", Notification(status="a=b")),
        (b"MAINPID=4242", Notification(main_pid=4242)),
        (b"RELOADING=1\nSTOPPING=1", Notification(reloading=True, stopping=True)),
        (b"WATCHDOG=1", Notification(watchdog=True)),
        (b"WATCHDOG=trigger", Notification(watchdog_trigger=True)),
        (b"EXTEND_TIMEOUT_USEC=2500000", Notification(extend_timeout=2.5)),
        (
            b"X_PROGRESS_DONE=3\nX_PROGRESS_TOTAL=10\nX_PROGRESS_PHASE=index\nX_PROGRESS_UNIT=files",
            Notification(done=3.0, total=10.0, phase="index", unit="files"),
        ),
        (b"X_EPOCH=4\nX_LOSS=0.25", Notification(fields={"X_EPOCH": "4", "X_LOSS": "0.25"})),
        (b"ERRNO=2\nBUSERROR=x\nWATCHDOG_USEC=5\nFDSTORE=1", Notification()),
        (b"", Notification()),
    ],
)
def test_keys(data: bytes, expected: Notification) -> None:
    assert parse(data) == expected


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"READY=2", "line 1: READY must be 1, got '2'"),
        (b"STATUS=x\nnonsense", "line 2: expected KEY=VALUE"),
        (b"=1", "line 1: expected KEY=VALUE"),
        (b"MAINPID=-1", "line 1: MAINPID must be a process id, got '-1'"),
        (b"MAINPID=0", "line 1: MAINPID must be a process id, got '0'"),
        (b"WATCHDOG=2", "line 1: WATCHDOG must be 1 or trigger, got '2'"),
        (
            b"EXTEND_TIMEOUT_USEC=soon",
            "line 1: EXTEND_TIMEOUT_USEC must be microseconds, got 'soon'",
        ),
        (b"X_PROGRESS_DONE=-1", "line 1: X_PROGRESS_DONE must be a number >= 0, got '-1'"),
        (b"X_PROGRESS_TOTAL=nan", "line 1: X_PROGRESS_TOTAL must be a number >= 0, got 'nan'"),
        (b"\xff", "not UTF-8 text: invalid start byte at byte 0"),
    ],
)
def test_bad_lines_are_named_and_the_rest_applies(data: bytes, problem: str) -> None:
    assert problem in parse(data).problems


def test_a_bad_line_does_not_spoil_the_good_ones() -> None:
    parsed = parse(b"READY=yes\nSTATUS=ok")
    assert parsed.status == "ok"
    assert not parsed.ready
    assert len(parsed.problems) == 1


def test_bounds() -> None:
    assert parse(b"X" * (MAX_DATAGRAM + 1)).problems == (
        f"datagram of {MAX_DATAGRAM + 1} bytes > {MAX_DATAGRAM}",
    )
    long = parse(b"STATUS=" + b"x" * (MAX_VALUE + 1))
    assert long.status is None
    assert long.problems == ("line 1: 'STATUS' too long",)
    many = b"\n".join(b"X_F%d=1" % i for i in range(MAX_FREE_FIELDS + 5))
    parsed = parse(many)
    assert len(parsed.fields) == MAX_FREE_FIELDS
    assert len(parsed.problems) == 5


def test_progress_is_reported_only_when_a_progress_key_came() -> None:
    assert parse(b"X_PROGRESS_DONE=1").reports_progress
    assert parse(b"X_STEP=1").reports_progress
    assert not parse(b"READY=1\nSTATUS=x").reports_progress
