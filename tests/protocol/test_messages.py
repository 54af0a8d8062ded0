"""The wire catalogue: tag names, field names and codes are pinned, since old peers rely on them."""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest

import supervisord_lite.protocol as protocol
from supervisord_lite.protocol import (
    PROTOCOL_VERSION,
    ActionReply,
    ActionResult,
    Cancel,
    ClientMessage,
    End,
    Error,
    ErrorCode,
    Hello,
    History,
    HistoryEntry,
    HistoryReply,
    Lagged,
    LogChunk,
    Logs,
    LogStreamStats,
    Ok,
    OperatorIntent,
    Ping,
    PlannedChange,
    PlannedProgram,
    Pong,
    ProbeReport,
    ProgramState,
    ProgramStatus,
    Progress,
    Reload,
    ReloadReply,
    ReopenLogs,
    Reply,
    Request,
    Restart,
    RunUsage,
    Scale,
    ServerMessage,
    Shutdown,
    ShutdownReply,
    Signal,
    Start,
    StateChanged,
    Status,
    StatusReply,
    Stop,
    Subscribe,
    Wait,
    Welcome,
    tag_of,
)
from supervisord_lite.protocol.messages import (
    DaemonEvent,
    Missed,
    StoreHealth,
    Webhooks,
    WebhooksReply,
    WebhookStatus,
)

ENCODE = msgspec.msgpack.Encoder().encode
REQUESTS = msgspec.msgpack.Decoder(ClientMessage)
REPLIES = msgspec.msgpack.Decoder(ServerMessage)

# class: (wire tag, required fields, fields with a default). Changing a row breaks old peers:
# add fields with defaults only, never rename or retype one.
WIRE: dict[type[Request] | type[Reply], tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    Hello: ("hello", ("version",), ("id", "client", "read_only")),
    Ping: ("ping", (), ("id",)),
    Status: ("status", (), ("id", "names", "stats", "usage")),
    Start: ("start", (), ("id", "names", "all", "wait")),
    Stop: ("stop", (), ("id", "names", "all", "wait", "with_dependents")),
    Restart: ("restart", (), ("id", "names", "all", "wait", "rolling", "max_unavailable")),
    Scale: ("scale", ("name", "count"), ("id", "wait")),
    History: ("history", (), ("id", "name", "limit")),
    Logs: ("logs", (), ("id", "name", "stream", "lines", "follow", "since")),
    Wait: ("wait", ("names", "state"), ("id", "timeout", "ready")),
    Subscribe: ("subscribe", (), ("id", "since", "follow")),
    Webhooks: ("webhooks", (), ("id",)),
    Cancel: ("cancel", ("target",), ("id",)),
    Reload: ("reload", (), ("id", "dry_run")),
    Shutdown: ("shutdown", (), ("id", "report")),
    ReopenLogs: ("reopen_logs", (), ("id", "names")),
    Signal: ("signal", ("signal",), ("id", "names", "all", "main")),
    Welcome: ("welcome", ("version", "pid", "daemon_version"), ("id",)),
    Pong: ("pong", (), ("id",)),
    Ok: ("ok", (), ("id", "message")),
    StatusReply: ("status", ("programs",), ("id", "store")),
    ActionReply: ("action", ("results",), ("id",)),
    HistoryReply: ("history", ("entries",), ("id",)),
    ReloadReply: (
        "reload",
        (),
        ("id", "added", "removed", "changed", "unchanged", "dry_run", "programs", "daemon"),
    ),
    ShutdownReply: ("shutdown", (), ("id", "killed", "output_lost")),
    StateChanged: (
        "state",
        ("program", "old", "new", "pid", "exit_code", "exit_signal", "at"),
        ("id", "message", "change", "progress", "seq"),
    ),
    DaemonEvent: ("daemon", ("change", "at"), ("id", "message", "names", "webhook", "seq")),
    Missed: ("missed", ("first", "oldest"), ("id",)),
    WebhooksReply: ("webhooks", (), ("id", "hooks")),
    LogChunk: ("log", ("program", "stream", "data"), ("id",)),
    Lagged: ("lagged", ("program", "stream", "dropped"), ("id",)),
    End: ("end", (), ("id", "message")),
    Error: ("error", ("code", "message"), ("id", "known")),
}

VALUES: dict[type[msgspec.Struct], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ProgramStatus: (
        ("name", "state", "want", "pid", "started_at", "uptime", "exit_code", "exit_signal"),
        (
            "message",
            "restarts",
            "logs",
            "containment",
            "ready",
            "ready_since",
            "healthy",
            "probe",
            "notify_status",
            "waiting_for",
            "progress",
            "asked_at",
            "depends_on",
            "intent",
            "next_run",
            "reload_check",
            "usage",
        ),
    ),
    OperatorIntent: (("want", "at"), ()),
    RunUsage: (("cpu_seconds", "memory_bytes", "processes"), ()),
    ProbeReport: (("ok", "detail", "latency", "at"), ()),
    Progress: (
        (),
        ("done", "total", "phase", "unit", "message", "at", "fields", "reports"),
    ),
    LogStreamStats: (
        ("stream", "path", "policy", "capacity"),
        (
            "bytes_read",
            "bytes_written",
            "bytes_dropped",
            "held_back",
            "depth",
            "peak_depth",
            "write_errors",
            "error",
            "followers",
            "lagged",
            "lagged_bytes",
            "reopened",
        ),
    ),
    ActionResult: (("name", "ok", "state"), ("message",)),
    WebhookStatus: (
        ("name", "url"),
        ("cursor", "lag", "delivered", "failed", "failing", "error"),
    ),
    HistoryEntry: (
        (
            "at",
            "program",
            "kind",
            "run_id",
            "pid",
            "pgid",
            "exit_code",
            "exit_signal",
            "outcome",
        ),
        ("id", "reason"),
    ),
}

STATUS = ProgramStatus(
    name="web",
    state=ProgramState.RUNNING,
    want="up",
    pid=4242,
    started_at=1_700_000_000.5,
    uptime=12.25,
    exit_code=None,
    exit_signal=None,
    restarts=2,
)
STATUS_WITH_LOGS = msgspec.structs.replace(
    STATUS,
    logs=(
        LogStreamStats(
            stream="stdout",
            path="/var/log/web.stdout.log",
            policy="block",
            capacity=1 << 20,
            bytes_read=1000,
            bytes_written=900,
            depth=100,
            peak_depth=4096,
            held_back=3,
        ),
        LogStreamStats(
            stream="stderr",
            path="/var/log/web.stderr.log",
            policy="drop-newest",
            capacity=4096,
            bytes_read=10,
            bytes_dropped=10,
            write_errors=1,
            error="No space left on device",
        ),
    ),
)

SAMPLE_REQUESTS: list[ClientMessage] = [
    Hello(id=1, version=PROTOCOL_VERSION, client="svctl 0.1.0"),
    Ping(id=2),
    Status(id=3),
    Status(id=3, names=("web", "worker")),
    Start(id=4, names=("web",)),
    Start(id=4, all=True, wait=False),
    Stop(id=5, names=("web", "worker")),
    Restart(id=6, all=True),
    History(id=7),
    History(id=7, name="web", limit=5),
    Logs(id=8),
    Logs(id=8, name="web", stream="stderr", lines=0, follow=True),
    Wait(id=9, names=("web",), state=ProgramState.RUNNING),
    Wait(id=9, names=("web",), state=ProgramState.STOPPED, timeout=2.5),
    Subscribe(id=10),
    Subscribe(id=10, since=-50, follow=False),
    Webhooks(id=15),
    Cancel(id=11, target=10),
    Reload(id=12),
    Reload(id=12, dry_run=True),
    Shutdown(id=13),
    Shutdown(id=13, report=True),
    ReopenLogs(id=14),
    ReopenLogs(id=14, names=("web",)),
    Signal(id=15, names=("web",), signal="HUP", main=True),
    Restart(id=16, names=("web",), rolling=True, max_unavailable=2),
    Scale(id=17, name="web", count=3),
]

SAMPLE_REPLIES: list[ServerMessage] = [
    Welcome(id=1, version=PROTOCOL_VERSION, pid=100, daemon_version="0.1.0"),
    Pong(id=2),
    Ok(id=13, message="shutting down"),
    StatusReply(id=3, programs=(STATUS,)),
    StatusReply(id=3, programs=(STATUS_WITH_LOGS, STATUS)),
    StatusReply(id=3, programs=()),
    StatusReply(
        id=3,
        programs=(STATUS,),
        store=StoreHealth(
            path="/var/lib/x.db", pending=3, failing=True, error="disk full", error_at=1.5
        ),
    ),
    ActionReply(
        id=4,
        results=(
            ActionResult(name="web", ok=True, state=ProgramState.RUNNING),
            ActionResult(name="bad", ok=False, state=ProgramState.FATAL, message="exit 127"),
        ),
    ),
    HistoryReply(
        id=7,
        entries=(
            HistoryEntry(
                at=1_700_000_000.0,
                program="web",
                kind="exited",
                run_id=3,
                pid=4242,
                pgid=4242,
                exit_code=None,
                exit_signal="KILL",
                outcome="killed",
                reason="stop timeout",
            ),
        ),
    ),
    ShutdownReply(id=13, killed=("stubborn",), output_lost=12),
    ReloadReply(id=12, added=("new",), removed=("old",), changed=("web",), unchanged=("w",)),
    ReloadReply(
        id=12,
        changed=("web",),
        dry_run=True,
        programs=(
            PlannedProgram(
                name="web",
                fate="changed",
                restart=True,
                changes=(PlannedChange(field="env.KEY", old="***", new="***", effect="restart"),),
            ),
        ),
        daemon=(PlannedChange(field="socket", old="'/a'", new="'/b'", effect="daemon-restart"),),
    ),
    StateChanged(
        id=10,
        program="web",
        old=ProgramState.STARTING,
        new=ProgramState.RUNNING,
        pid=4242,
        exit_code=None,
        exit_signal=None,
        at=1_700_000_001.0,
    ),
    DaemonEvent(id=10, change="reload", at=1.0, names=("web",), seq=7),
    DaemonEvent(
        id=10,
        change="webhook",
        at=1.0,
        webhook=WebhookStatus(name="ops", url="https://x/", lag=3, failing=True),
    ),
    Missed(id=10, first=1, oldest=40),
    WebhooksReply(id=15, hooks=(WebhookStatus(name="ops", url="https://x/", delivered=4),)),
    LogChunk(id=8, program="web", stream="stdout", data=b"GET /\n\xff\x00 not utf-8"),
    Lagged(id=8, program="web", stream="stderr", dropped=65536),
    End(id=8),
    Error(id=3, code=ErrorCode.NO_SUCH_PROGRAM, message="no program named 'wbe'", known=("web",)),
]


def test_wire_table_covers_every_message() -> None:
    assert set(get_args(ClientMessage)) | set(get_args(ServerMessage)) == set(WIRE)


@pytest.mark.parametrize("cls", list(WIRE), ids=lambda cls: cls.__name__)
def test_tag_and_fields_are_pinned(cls: type[Request] | type[Reply]) -> None:
    tag, required, optional = WIRE[cls]
    assert tag_of(cls) == tag
    fields = msgspec.structs.fields(cls)
    assert {f.encode_name for f in fields if f.required} == set(required)
    assert {f.encode_name for f in fields if not f.required} == set(optional)


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda cls: cls.__name__)
def test_value_fields_are_pinned(cls: type[msgspec.Struct]) -> None:
    required, optional = VALUES[cls]
    fields = msgspec.structs.fields(cls)
    assert tuple(f.encode_name for f in fields if f.required) == required
    assert tuple(f.encode_name for f in fields if not f.required) == optional


def test_tag_fields() -> None:
    assert Request.__struct_config__.tag_field == "op"
    assert Reply.__struct_config__.tag_field == "kind"
    assert ENCODE(Ping(id=1)) == ENCODE({"op": "ping", "id": 1})
    assert ENCODE(Pong(id=1)) == ENCODE({"kind": "pong", "id": 1})


def test_tags_are_unique_per_direction() -> None:
    ops = [tag_of(cls) for cls in get_args(ClientMessage)]
    kinds = [tag_of(cls) for cls in get_args(ServerMessage)]
    assert len(ops) == len(set(ops))
    assert len(kinds) == len(set(kinds))


def test_error_codes_are_pinned() -> None:
    assert [code.value for code in ErrorCode] == [
        "bad_frame",
        "frame_too_large",
        "unsupported_version",
        "unknown_op",
        "bad_request",
        "no_such_program",
        "spawn_failed",
        "timeout",
        "config_invalid",
        "shutting_down",
        "permission_denied",
        "busy",
        "internal",
    ]
    assert all(code.value == code.name.lower() for code in ErrorCode)


def test_program_states_are_pinned() -> None:
    assert [s.value for s in ProgramState] == [
        "STOPPED",
        "STARTING",
        "RUNNING",
        "BACKOFF",
        "STOPPING",
        "EXITED",
        "FATAL",
    ]
    assert all(s.value == s.name for s in ProgramState)


def test_protocol_errors_carry_typed_codes() -> None:
    from supervisord_lite.protocol import errors

    codes = {
        errors.ProtocolError: ErrorCode.BAD_FRAME,
        errors.FrameTooLarge: ErrorCode.FRAME_TOO_LARGE,
        errors.UnsupportedVersion: ErrorCode.UNSUPPORTED_VERSION,
        errors.UnknownOperation: ErrorCode.UNKNOWN_OP,
        errors.BadRequest: ErrorCode.BAD_REQUEST,
    }
    for cls, code in codes.items():
        assert cls.code is code
        assert issubclass(cls, errors.ProtocolError)


def test_the_daemon_error_module_names_the_protocol_errors() -> None:
    from supervisord_lite import errors as daemon_errors
    from supervisord_lite.protocol import errors

    for name in errors.__all__:
        if name not in {"ErrorCode", "LocalProtocolError"}:
            assert getattr(daemon_errors, name) is getattr(errors, name)
    assert not issubclass(errors.ProtocolError, daemon_errors.SupervisorLiteError)


def test_shared_vocabulary_is_the_one_the_wire_and_the_core_use() -> None:
    from supervisord_lite import lifecycle, store_records, vocabulary
    from supervisord_lite.protocol import messages

    assert messages.ProgramState is vocabulary.ProgramState is lifecycle.State
    assert messages.Want is vocabulary.Want is lifecycle.Want
    assert messages.Outcome is vocabulary.Outcome is lifecycle.Outcome is store_records.Outcome
    assert messages.HistoryEntry is vocabulary.HistoryEntry is store_records.HistoryEntry


@pytest.mark.parametrize("msg", SAMPLE_REQUESTS, ids=repr)
def test_request_round_trip(msg: ClientMessage) -> None:
    assert REQUESTS.decode(ENCODE(msg)) == msg


@pytest.mark.parametrize("msg", SAMPLE_REPLIES, ids=repr)
def test_reply_round_trip(msg: ServerMessage) -> None:
    assert REPLIES.decode(ENCODE(msg)) == msg


def test_samples_cover_every_message() -> None:
    seen = {type(m) for m in SAMPLE_REQUESTS} | {type(m) for m in SAMPLE_REPLIES}
    assert seen == set(WIRE)


@pytest.mark.parametrize("msg", [*SAMPLE_REQUESTS, *SAMPLE_REPLIES], ids=repr)
def test_unknown_fields_are_ignored(msg: ClientMessage | ServerMessage) -> None:
    wire = msgspec.to_builtins(msg, builtin_types=(bytes,))
    wire["added_in_v9"] = {"nested": [1, 2, 3]}
    wire["x"] = None
    decoder = REQUESTS if isinstance(msg, Request) else REPLIES
    assert decoder.decode(ENCODE(wire)) == msg


def test_nested_unknown_fields_are_ignored() -> None:
    wire = msgspec.to_builtins(SAMPLE_REPLIES[3])
    wire["programs"][0]["cgroup"] = "/sys/fs/cgroup/x"
    assert REPLIES.decode(ENCODE(wire)) == SAMPLE_REPLIES[3]


def test_defaults_fill_missing_optional_fields() -> None:
    assert REQUESTS.decode(ENCODE({"op": "start", "names": ["web"]})) == Start(names=("web",))
    assert REQUESTS.decode(ENCODE({"op": "logs"})) == Logs(lines=10, follow=False)


def test_log_data_is_msgpack_bin() -> None:
    raw = msgspec.msgpack.decode(ENCODE(LogChunk(program="p", stream="stdout", data=b"\xff")))
    assert raw["data"] == b"\xff"


@pytest.mark.parametrize(
    "wire",
    [
        {"op": "history", "limit": -1},
        {"op": "logs", "lines": -5},
        {"op": "logs", "stream": "stdin"},
        {"op": "wait", "names": ["web"], "state": "running"},
        {"op": "wait", "names": ["web"], "state": "RUNNING", "timeout": -1.0},
        {"op": "cancel"},
        {"op": "status", "names": "web"},
    ],
)
def test_invalid_requests_do_not_validate(wire: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        REQUESTS.decode(ENCODE(wire))


def test_messages_are_frozen_and_keyword_only() -> None:
    msg = Status(names=("web",))
    with pytest.raises(AttributeError):
        msg.names = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        Hello(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ActionResult("web", True, ProgramState.RUNNING)  # type: ignore[call-arg]


def test_every_request_documents_itself() -> None:
    for cls in get_args(ClientMessage):
        assert cls.__doc__
        assert "nswer" in cls.__doc__, cls.__name__


def test_tag_of_refuses_an_untagged_struct() -> None:
    with pytest.raises(TypeError):
        tag_of(ProgramStatus)  # type: ignore[arg-type]


def test_package_exports() -> None:
    public = {name for name in dir(protocol) if not name.startswith("_")}
    modules = {"access", "connection", "errors", "framing", "messages", "socket_path"}
    assert set(protocol.__all__) == public - modules
    assert len(protocol.__all__) == len(set(protocol.__all__))
