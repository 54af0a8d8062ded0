"""When the daemon ends on its own and with which status (daemon_exit.py), as a table."""

from __future__ import annotations

import pytest

from supervisord_lite.daemon_exit import (
    EXIT_PROGRAMS_FAILED,
    Ending,
    ProgramEnd,
    decide,
    shell_status,
)
from supervisord_lite.lifecycle import ExitStatus, State


@pytest.mark.parametrize(
    ("status", "fatal", "expected"),
    [
        (ExitStatus(code=0), False, 0),
        (ExitStatus(code=3), False, 3),
        (ExitStatus(signal="KILL"), False, 137),
        (ExitStatus(signal="TERM"), True, 143),
        (ExitStatus(code=0), True, 1),
        (None, True, 1),
        (ExitStatus(code=2), True, 2),
    ],
)
def test_shell_status(status: ExitStatus | None, fatal: bool, expected: int) -> None:
    assert shell_status(status, fatal=fatal) == expected


def end(name: str, state: State, code: int | None = None, **kw: bool) -> ProgramEnd:
    status = ExitStatus(code=code) if code is not None else None
    return ProgramEnd(name=name, state=state, last_exit=status, **kw)


RUNNING = end("web", State.RUNNING)
DONE = end("job", State.EXITED, 0, completed=True)
FAILED = end("bad", State.EXITED, 2)


@pytest.mark.parametrize(
    ("exit_when", "programs", "booted", "expected"),
    [
        ("any-critical", [RUNNING, DONE, FAILED], True, None),
        (
            "any-critical",
            [RUNNING, end("main", State.EXITED, 0, completed=True, critical=True)],
            True,
            Ending(status=0, reason="critical program main exited (exit 0)"),
        ),
        (
            "any-critical",
            [end("main", State.FATAL, critical=True)],
            False,
            Ending(status=1, reason="critical program main is FATAL"),
        ),
        ("any-critical", [end("main", State.BACKOFF, 3, critical=True)], True, None),
        ("all-exited", [RUNNING, DONE], True, None),
        ("all-exited", [DONE, end("held", State.STOPPED, waiting=True)], True, None),
        ("all-exited", [DONE, FAILED], False, None),
        (
            "all-exited",
            [DONE, end("never", State.STOPPED)],
            True,
            Ending(status=0, reason="every program has exited, none failed"),
        ),
        (
            "all-exited",
            [FAILED, DONE, end("held", State.STOPPED, blocked=True), end("x", State.FATAL)],
            True,
            Ending(
                status=EXIT_PROGRAMS_FAILED,
                reason="every program has exited; failed: bad, held, x",
            ),
        ),
        (
            "all-exited",
            [],
            True,
            Ending(status=0, reason="every program has exited, none failed"),
        ),
    ],
)
def test_decide(
    exit_when: str, programs: list[ProgramEnd], booted: bool, expected: Ending | None
) -> None:
    assert decide(exit_when, programs, booted=booted) == expected  # type: ignore[arg-type]
