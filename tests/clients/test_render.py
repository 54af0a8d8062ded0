"""What svctl prints, table-driven from the protocol's Structs."""

from __future__ import annotations

import re
from datetime import UTC

import msgspec
import pytest

from supervisord_lite.protocol import (
    ActionResult,
    HistoryEntry,
    Lagged,
    ProgramState,
    ProgramStatus,
    Progress,
    ReloadReply,
    StateChanged,
)
from svctl import DaemonEvent, Missed, WebhookStatus, render
from svctl._colour import wants_colour

ANSI = re.compile(r"\x1b\[[0-9;]*m")

AT = 1714564803.5  # 2024-05-01 12:00:03 UTC


def program(name: str, state: ProgramState, **fields: object) -> ProgramStatus:
    values: dict[str, object] = {
        "pid": None,
        "started_at": None,
        "uptime": None,
        "exit_code": None,
        "exit_signal": None,
    }
    values.update(fields)
    return ProgramStatus(name=name, state=state, want="up", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0, "0s"),
        (12.9, "12s"),
        (59, "59s"),
        (60, "1m00s"),
        (4 * 60 + 3, "4m03s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (2 * 3600 + 5 * 60 + 59, "2h05m"),
        (86399, "23h59m"),
        (86400, "1d00h"),
        (3 * 86400 + 4 * 3600 + 59 * 60, "3d04h"),
        (400 * 86400, "400d00h"),
        (-1, "0s"),
    ],
)
def test_uptime(seconds: float | None, shown: str) -> None:
    assert render.uptime(seconds) == shown


@pytest.mark.parametrize(
    ("code", "signal", "shown"),
    [
        (None, None, "-"),
        (0, None, "exit 0"),
        (3, None, "exit 3"),
        (None, "KILL", "SIGKILL"),
        (None, "SIGTERM", "SIGTERM"),
        (1, "TERM", "SIGTERM"),
    ],
)
def test_last_exit(code: int | None, signal: str | None, shown: str) -> None:
    assert render.last_exit(code, signal) == shown


def test_status_table_is_aligned() -> None:
    table = render.status_table(
        [
            program("web", ProgramState.RUNNING, pid=4242, uptime=7500.0, restarts=12),
            program("crasher", ProgramState.FATAL, exit_code=3, message="exited too quickly"),
            program("stubborn", ProgramState.STOPPED, exit_signal="KILL"),
        ]
    )
    assert table.splitlines() == [
        "NAME      STATE    PID   UPTIME  RESTARTS  LAST-EXIT  MESSAGE",
        "web       RUNNING  4242  2h05m   12        -",
        "crasher   FATAL    -     -       0         exit 3     exited too quickly",
        "stubborn  STOPPED  -     -       0         SIGKILL",
    ]


def test_empty_status_table_is_the_header() -> None:
    assert render.status_table([]) == "NAME  STATE  PID  UPTIME  RESTARTS  LAST-EXIT  MESSAGE"


def test_a_coloured_table_keeps_its_alignment_and_paints_states_as_systemctl() -> None:
    programs = [
        program("web", ProgramState.RUNNING, pid=4242, uptime=7500.0),
        program("crasher", ProgramState.FATAL, exit_code=3),
        program("stubborn", ProgramState.STOPPED),
        program("flaky", ProgramState.BACKOFF),
    ]
    plain = render.status_table(programs)
    coloured = render.status_table(programs, colour=True)
    assert ANSI.sub("", coloured) == plain
    rows = coloured.splitlines()
    assert "\x1b" not in rows[0]
    assert "\x1b[0;1;32mRUNNING" in rows[1]
    assert "\x1b[0;1;31mFATAL" in rows[2]
    assert "\x1b" not in rows[3]  # at rest: plain
    assert "\x1b[0;1;33mBACKOFF" in rows[4]


@pytest.mark.parametrize(
    ("choice", "isatty", "environ", "wanted"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),
        ("auto", True, {"TERM": "dumb"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {}, False),
    ],
)
def test_colour_only_on_a_terminal_without_no_color(
    choice: str, isatty: bool, environ: dict[str, str], wanted: bool
) -> None:
    assert wants_colour(choice, isatty, environ) is wanted


def test_action_line_in_colour() -> None:
    ok = ActionResult(name="web", ok=True, state=ProgramState.RUNNING)
    failed = ActionResult(name="x", ok=False, state=ProgramState.FATAL, message="exited")
    assert render.action_line(ok, colour=True) == "web: \x1b[0;1;32mrunning\x1b[0m"
    assert render.action_line(failed, colour=True) == "x: \x1b[0;1;31mFATAL\x1b[0m: exited"


@pytest.mark.parametrize(
    ("names", "known", "said"),
    [
        (["wbe"], ["crasher", "web", "worker"], "did you mean 'web'?"),
        (["wokrer", "web"], ["web", "worker"], "did you mean 'worker'?"),
        (["wbe", "wrker"], ["web", "worker"], "did you mean 'web' or 'worker'?"),
        (["zzz"], ["web", "worker"], ""),
        ([], ["web"], ""),
    ],
)
def test_did_you_mean(names: list[str], known: list[str], said: str) -> None:
    assert render.did_you_mean(names, known) == said


def _state(new: ProgramState, **fields: object) -> StateChanged:
    values: dict[str, object] = {"pid": None, "exit_code": None, "exit_signal": None, "at": AT}
    values.update(fields)
    return StateChanged(program="web", old=ProgramState.STOPPED, new=new, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "attempt", "line"),
    [
        (_state(ProgramState.STARTING, pid=42), 2, "web: attempt 2: starting (pid 42)"),
        (_state(ProgramState.STARTING), 1, "web: attempt 1: starting"),
        (
            _state(ProgramState.BACKOFF, exit_code=1, message="exited too quickly, retry 1 of 3"),
            1,
            "web: attempt 1 failed (exit 1): exited too quickly, retry 1 of 3",
        ),
        (
            _state(ProgramState.BACKOFF, exit_signal="KILL"),
            3,
            "web: attempt 3 failed (SIGKILL); will retry",
        ),
        (
            _state(ProgramState.FATAL, exit_code=1, message="gave up"),
            3,
            "web: fatal (exit 1): gave up",
        ),
    ],
)
def test_attempt_line(event: StateChanged, attempt: int, line: str) -> None:
    assert render.attempt_line(event, attempt) == line


def test_shutdown_line() -> None:
    assert render.shutdown_line((), 0) == ""
    assert render.shutdown_line(("web (pgid 7)",), 0) == (
        "the daemon had to SIGKILL web (pgid 7) at its shutdown_timeout; they did not stop in time"
    )
    assert (
        render.shutdown_line((), 12) == "12 bytes of output could not be written to the log files"
    )


def test_json_line_round_trips() -> None:
    status = program("web", ProgramState.RUNNING, pid=1, uptime=1.5)
    line = render.json_line(status)
    assert "\n" not in line
    assert msgspec.json.decode(line, type=ProgramStatus) == status
    assert msgspec.json.decode(line)["state"] == "RUNNING"


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (ActionResult(name="web", ok=True, state=ProgramState.RUNNING), "web: running"),
        (
            ActionResult(name="web", ok=True, state=ProgramState.RUNNING, message="running"),
            "web: running",
        ),
        (
            ActionResult(
                name="web", ok=True, state=ProgramState.STOPPED, message="already stopped"
            ),
            "web: stopped (already stopped)",
        ),
        (
            ActionResult(
                name="crasher", ok=False, state=ProgramState.FATAL, message="exited too quickly"
            ),
            "crasher: FATAL: exited too quickly",
        ),
        (ActionResult(name="x", ok=False, state=ProgramState.BACKOFF), "x: BACKOFF: failed"),
    ],
)
def test_action_line(result: ActionResult, line: str) -> None:
    assert render.action_line(result) == line


def test_history_line() -> None:
    entry = HistoryEntry(
        at=AT,
        program="crasher",
        kind="failed",
        run_id=3,
        pid=4243,
        pgid=4243,
        exit_code=3,
        exit_signal=None,
        outcome="failed",
        reason="exited too quickly",
    )
    assert render.history_line(entry, UTC) == (
        "2024-05-01 12:00:03  crasher  failed  pid 4243  exit 3  exited too quickly"
    )
    spawned = msgspec.structs.replace(entry, kind="spawned", exit_code=None, reason="")
    assert render.history_line(spawned, UTC) == "2024-05-01 12:00:03  crasher  spawned  pid 4243"
    stopped = msgspec.structs.replace(
        entry, kind="stopped", exit_code=None, exit_signal="TERM", reason="stopped"
    )
    assert render.history_line(stopped, UTC) == (
        "2024-05-01 12:00:03  crasher  stopped  pid 4243  SIGTERM"
    )


def test_event_line() -> None:
    event = StateChanged(
        program="web",
        old=ProgramState.STARTING,
        new=ProgramState.RUNNING,
        pid=4242,
        exit_code=None,
        exit_signal=None,
        at=AT,
    )
    assert (
        render.event_line(event, UTC) == "2024-05-01 12:00:03  web  STARTING -> RUNNING  pid 4242"
    )
    stopped = msgspec.structs.replace(
        event, old=ProgramState.STOPPING, new=ProgramState.STOPPED, pid=None, exit_signal="TERM"
    )
    assert (
        render.event_line(stopped, UTC) == "2024-05-01 12:00:03  web  STOPPING -> STOPPED  SIGTERM"
    )


def test_event_lines_lead_with_their_seq() -> None:
    event = StateChanged(
        program="web",
        old=ProgramState.RUNNING,
        new=ProgramState.EXITED,
        pid=4242,
        exit_code=3,
        exit_signal=None,
        at=AT,
        message="exit 3",
        seq=12,
    )
    assert render.event_line(event, UTC) == (
        "#12  2024-05-01 12:00:03  web  RUNNING -> EXITED  pid 4242  exit 3"
    )
    reload = DaemonEvent(change="reload", at=AT, message="1 added", names=("a",), seq=13)
    assert render.event_line(reload, UTC) == "#13  2024-05-01 12:00:03  daemon  reload:  1 added"
    assert render.json_line(reload).startswith('{"type":"daemon","change":"reload"')
    assert render.missed_line(Missed(first=5, oldest=120)) == (
        "events 5 to 119 no longer kept (the oldest kept is 120)"
    )


def test_webhook_table() -> None:
    hooks = [
        WebhookStatus(name="ops", url="http://x/", cursor=40, lag=2, delivered=38),
        WebhookStatus(name="pager", url="http://y/", failed=3, failing=True, error="HTTP 503"),
    ]
    assert render.webhook_table(hooks).splitlines() == [
        "NAME   CURSOR  LAG  DELIVERED  FAILED  STATE",
        "ops    40      2    38         0       ok",
        "pager  0       0    0          3       failing: HTTP 503",
    ]
    assert render.webhook_table([]) == "no webhooks configured"


def test_reload_lines() -> None:
    assert render.reload_lines(ReloadReply(unchanged=("web",))) == ["no changes"]
    reply = ReloadReply(added=("a", "b"), changed=("web",), unchanged=("worker",))
    assert render.reload_lines(reply) == [
        "a: added",
        "b: added",
        "web: changed",
        "unchanged: worker",
    ]


def test_reload_lines_say_the_plan() -> None:
    from supervisord_lite.protocol.messages import PlannedChange, PlannedProgram

    hot = PlannedChange(field="priority", old="0", new="5", effect="hot")
    secret = PlannedChange(field="env.TOKEN", old="***", new="***", effect="restart")
    reply = ReloadReply(
        dry_run=True,
        programs=(
            PlannedProgram(name="api", fate="changed", restart=True, changes=(hot, secret)),
            PlannedProgram(name="old", fate="removed"),
            PlannedProgram(name="web", fate="changed", changes=(hot,)),
            PlannedProgram(name="worker", fate="unchanged"),
        ),
        daemon=(
            PlannedChange(field="socket", old="'/a'", new="'/b'", effect="daemon-restart"),
            PlannedChange(field="history_runs", old="0", new="5", effect="live"),
        ),
    )
    assert render.reload_lines(reply) == [
        "dry run: nothing applied",
        "api: changed, would restart",
        "  priority: 0 -> 5 (hot)",
        "  env.TOKEN: *** -> *** (restart)",
        "old: removed",
        "web: changed, would apply without a restart",
        "  priority: 0 -> 5 (hot)",
        "unchanged: worker",
        "[daemon] socket: '/a' -> '/b' (daemon-restart); '/a' stays until the daemon restarts",
        "[daemon] history_runs: 0 -> 5 (live)",
    ]


def test_lagged_line() -> None:
    item = Lagged(program="web", stream="stderr", dropped=512)
    assert render.lagged_line(item) == "web stderr: 512 bytes dropped (this reader fell behind)"


def test_line_prefixer_keeps_lines_whole_across_chunks_and_programs() -> None:
    from svctl.render import LinePrefixer

    lines = LinePrefixer()
    assert lines.feed("web", "stdout", b"GET /\nGE") == b"web | GET /\n"
    assert lines.feed("db", "stdout", b"ready\n") == b"db | ready\n"
    assert lines.feed("web", "stdout", b"T /x\nPOST") == b"web | GET /x\n"
    assert lines.feed("web", "stderr", b"oops") == b""
    assert sorted(lines.flush()) == [("stderr", b"web | oops\n"), ("stdout", b"web | POST\n")]
    assert lines.flush() == []


def test_a_store_in_trouble_is_said_and_a_well_one_is_not() -> None:
    from supervisord_lite.protocol.messages import StoreHealth

    assert render.store_warning(StoreHealth(path="/s.db", written=10)) == ""
    assert render.store_warning(StoreHealth(path="/s.db", written=10, pending=1)) == ""
    said = render.store_warning(
        StoreHealth(path="/s.db", pending=3, dropped=1, failing=True, error="database is locked")
    )
    assert said == (
        "state store /s.db: 3 records held back, not yet written; 1 records lost (1 dropped,"
        " 0 refused); last error: database is locked"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"done": 3, "total": 10, "phase": "index", "unit": "files"}, "index 30% (3/10 files)"),
        ({"done": 7.5}, "7.5"),
        ({"phase": "warm", "message": "loading"}, "warm: loading"),
        ({"message": "only text"}, "only text"),
        ({"done": 12, "total": 10}, "100% (12/10)"),
    ],
)
def test_progress_text(values: dict[str, object], expected: str) -> None:
    progress = Progress(at=100.0, **values)  # type: ignore[arg-type]
    assert render.progress_text(progress) == expected


def test_progress_in_the_status_message_with_its_age_and_a_bar() -> None:
    progress = Progress(done=1, total=4, phase="copy", message="a.txt", at=100.0)
    row = program("job", ProgramState.RUNNING, progress=progress, notify_status="a.txt")
    table = render.status_table([row], now=165.0)
    assert table.splitlines()[1].endswith("copy 25% (1/4) 1m05s ago: a.txt")
    assert render.progress_text(progress, bar=8) == "copy [##......] 25% (1/4): a.txt"
