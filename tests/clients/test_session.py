"""The clients' sans-IO core, driven by a server-role Connection: no sockets, no event loop."""

from __future__ import annotations

import msgspec
import pytest

from supervisord_lite.protocol import (
    CLOSED,
    NEED_DATA,
    PROTOCOL_VERSION,
    ActionReply,
    ActionResult,
    Cancel,
    ClientMessage,
    Connection,
    End,
    Error,
    ErrorCode,
    Hello,
    Lagged,
    LogChunk,
    Logs,
    Ok,
    Ping,
    Pong,
    ProgramState,
    ProgramStatus,
    Role,
    ServerMessage,
    Start,
    StateChanged,
    Status,
    StatusReply,
    Stop,
    Subscribe,
    Welcome,
)
from svctl import _requests as requests
from svctl import _results, errors
from svctl._session import DEFAULT_SOCKET, PENDING, Session, resolve_socket

WELCOME = Welcome(version=PROTOCOL_VERSION, pid=4242, daemon_version="0.1.0")


class FakeDaemon:
    """The server side of the wire: reads what the session wrote, writes replies back."""

    def __init__(self) -> None:
        self.conn = Connection(Role.SERVER)

    def take(self, data: bytes) -> list[ClientMessage]:
        self.conn.receive_data(data)
        received: list[ClientMessage] = []
        while (event := self.conn.next_event()) is not NEED_DATA:
            assert event is not CLOSED
            received.append(event)  # type: ignore[arg-type]
        return received

    def send(self, *msgs: ServerMessage) -> bytes:
        return b"".join(self.conn.send(msg) for msg in msgs)


def change(sid: int, old: ProgramState, new: ProgramState) -> StateChanged:
    return StateChanged(
        id=sid, program="web", old=old, new=new, pid=7, exit_code=None, exit_signal=None, at=1.0
    )


def status_of(name: str) -> ProgramStatus:
    return ProgramStatus(
        name=name,
        state=ProgramState.RUNNING,
        want="up",
        pid=10,
        started_at=1.0,
        uptime=2.0,
        exit_code=None,
        exit_signal=None,
    )


@pytest.fixture
def pair() -> tuple[Session, FakeDaemon]:
    """A session that has been welcomed."""
    session, daemon = Session(client="tests"), FakeDaemon()
    assert daemon.take(session.hello()) == [Hello(id=0, version=PROTOCOL_VERSION, client="tests")]
    assert session.welcomed() is PENDING
    session.receive_data(daemon.send(WELCOME))
    assert session.welcomed() == _results.without_id(_results.Welcome, WELCOME)
    return session, daemon


def test_requests_are_numbered_and_replies_found_by_id(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    ping, status = session.call(requests.ping()), session.call(requests.status(("web",), False))
    assert (ping.id, status.id) == (1, 2)
    assert daemon.take(ping.data + status.data) == [Ping(id=1), Status(id=2, names=("web",))]
    assert session.result(ping) is PENDING
    session.receive_data(daemon.send(StatusReply(id=2, programs=(status_of("web"),)), Pong(id=1)))
    assert session.result(status) == [status_of("web")]
    assert session.result(ping) is None


def test_replies_cut_at_any_byte(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    call = session.call(requests.action(Start, ("web",), False, True))
    daemon.take(call.data)
    result = ActionResult(name="web", ok=True, state=ProgramState.RUNNING)
    data = daemon.send(ActionReply(id=call.id, results=(result,)))
    for i in range(len(data)):
        assert session.result(call) is PENDING
        session.receive_data(data[i : i + 1])
    assert session.result(call) == [result]


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (ErrorCode.NO_SUCH_PROGRAM, errors.NoSuchProgram),
        (ErrorCode.TIMEOUT, errors.Timeout),
        (ErrorCode.CONFIG_INVALID, errors.ConfigInvalid),
        (ErrorCode.SHUTTING_DOWN, errors.ShuttingDown),
        (ErrorCode.SPAWN_FAILED, errors.CommandFailed),
        (ErrorCode.INTERNAL, errors.CommandFailed),
        (ErrorCode.BAD_REQUEST, errors.CommandFailed),
        (ErrorCode.UNKNOWN_OP, errors.ProtocolMismatch),
    ],
)
def test_error_reply_raises_its_class(
    pair: tuple[Session, FakeDaemon], code: ErrorCode, cls: type[errors.SvctlError]
) -> None:
    session, daemon = pair
    call = session.call(requests.status(("wbe",), False))
    daemon.take(call.data)
    session.receive_data(
        daemon.send(Error(id=call.id, code=code, message="nope", known=("web", "worker")))
    )
    with pytest.raises(cls) as info:
        session.result(call)
    assert type(info.value) is cls
    assert info.value.code is code
    assert str(info.value) == "nope"
    # The connection is still good for the next request.
    ping = session.call(requests.ping())
    daemon.take(ping.data)
    session.receive_data(daemon.send(Pong(id=ping.id)))
    assert session.result(ping) is None


def test_no_such_program_carries_the_known_names(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    call = session.call(requests.status(("wbe",), False))
    daemon.take(call.data)
    message = "no program named 'wbe' (known: web, worker)"
    session.receive_data(
        daemon.send(
            Error(
                id=call.id, code=ErrorCode.NO_SUCH_PROGRAM, message=message, known=("web", "worker")
            )
        )
    )
    with pytest.raises(errors.NoSuchProgram, match="known: web, worker") as info:
        session.result(call)
    assert info.value.known == ("web", "worker")
    assert info.value.exit_code == 1


def test_every_error_code_has_a_class() -> None:
    assert set(errors.ERROR_CLASSES) == set(ErrorCode)


def test_refusal_instead_of_welcome_is_permission_denied() -> None:
    session, daemon = Session(), FakeDaemon()
    daemon.take(session.hello())
    refusal = Error(code=ErrorCode.PERMISSION_DENIED, message="uid 1000 may not use this daemon")
    session.receive_data(daemon.send(refusal) + b"")
    session.receive_data(b"")
    with pytest.raises(errors.PermissionDenied, match="uid 1000") as info:
        session.welcomed()
    assert info.value.code is ErrorCode.PERMISSION_DENIED


def test_version_mismatch_is_protocol_mismatch() -> None:
    session = Session()
    session.hello()
    body = msgspec.msgpack.encode(
        {
            "kind": "welcome",
            "id": 0,
            "version": PROTOCOL_VERSION + 1,
            "pid": 1,
            "daemon_version": "9",
        }
    )
    session.receive_data(len(body).to_bytes(4, "big") + body)
    with pytest.raises(errors.ProtocolMismatch, match="protocol version") as info:
        session.welcomed()
    assert isinstance(info.value.__cause__, Exception)
    assert errors.ProtocolMismatch.exit_code == 3


def test_garbage_fails_every_wait(pair: tuple[Session, FakeDaemon]) -> None:
    session, _ = pair
    ping, status = session.call(requests.ping()), session.call(requests.status((), False))
    session.receive_data(b"\x00\x00\x00\x02\xc1\xc1")
    with pytest.raises(errors.ProtocolMismatch):
        session.result(ping)
    with pytest.raises(errors.ProtocolMismatch):
        session.result(status)


def test_unexpected_reply_kind_is_protocol_mismatch(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    call = session.call(requests.status((), False))
    daemon.take(call.data)
    session.receive_data(daemon.send(Pong(id=call.id)))
    with pytest.raises(errors.ProtocolMismatch, match="'pong'"):
        session.result(call)


def test_reply_to_an_unknown_id_fails_the_connection(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    call = session.call(requests.ping())
    session.receive_data(daemon.send(Pong(id=99)))
    with pytest.raises(errors.ProtocolMismatch, match="id 99"):
        session.result(call)


def test_close_before_the_answer_is_daemon_unavailable(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    answered, waiting = session.call(requests.ping()), session.call(requests.ping())
    daemon.take(answered.data + waiting.data)
    session.receive_data(daemon.send(Pong(id=answered.id)))
    session.receive_data(b"")
    assert session.peer_closed
    assert session.result(answered) is None  # what came before the close is still good
    with pytest.raises(errors.DaemonUnavailable, match="closed the connection"):
        session.result(waiting)


def test_detached_call_drops_its_late_answer(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    late, next_call = session.call(requests.status((), False)), session.call(requests.ping())
    daemon.take(late.data + next_call.data)
    session.detach(late.id)
    session.receive_data(daemon.send(StatusReply(id=late.id, programs=()), Pong(id=next_call.id)))
    assert session.result(next_call) is None


def test_subscription_routes_pushed_items_by_id(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.subscribe())
    assert stream.ack is not None
    assert daemon.take(stream.data) == [Subscribe(id=stream.id)]
    ping = session.call(requests.ping())
    daemon.take(ping.data)
    first = change(stream.id, ProgramState.STOPPED, ProgramState.STARTING)
    second = change(stream.id, ProgramState.STARTING, ProgramState.RUNNING)
    session.receive_data(daemon.send(Ok(id=stream.id), first, Pong(id=ping.id), second))
    assert session.result(stream.ack) is None
    assert session.result(ping) is None
    assert session.next_item(stream) == _results.without_id(_results.StateChanged, first)
    assert session.next_item(stream) == _results.without_id(_results.StateChanged, second)
    assert session.next_item(stream) is PENDING
    session.receive_data(daemon.send(End(id=stream.id, message="the daemon is shutting down")))
    assert session.next_item(stream) == _results.End(message="the daemon is shutting down")
    assert session.stream_over(stream)
    assert session.cancel(stream) is None


def test_refused_subscription_raises_from_the_ack(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.subscribe())
    assert stream.ack is not None
    daemon.take(stream.data)
    session.receive_data(
        daemon.send(Error(id=stream.id, code=ErrorCode.SHUTTING_DOWN, message="shutting down"))
    )
    with pytest.raises(errors.ShuttingDown):
        session.result(stream.ack)
    assert session.stream_over(stream)


def test_cancel_drops_items_and_waits_for_the_end(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.subscribe())
    assert stream.ack is not None
    daemon.take(stream.data)
    session.receive_data(
        daemon.send(
            Ok(id=stream.id), change(stream.id, ProgramState.STOPPED, ProgramState.STARTING)
        )
    )
    session.result(stream.ack)
    cancel = session.cancel(stream)
    assert cancel is not None
    assert daemon.take(cancel.data) == [Cancel(id=cancel.id, target=stream.id)]
    # The daemon answers the Cancel first, pushes what was in flight, then ends the stream.
    session.receive_data(
        daemon.send(
            Ok(id=cancel.id),
            change(stream.id, ProgramState.STARTING, ProgramState.RUNNING),
        )
    )
    assert session.result(cancel) is None
    assert not session.stream_over(stream)
    session.receive_data(daemon.send(End(id=stream.id, message="cancelled")))
    assert session.stream_over(stream)


def test_cancel_racing_the_streams_own_end_is_not_an_error(
    pair: tuple[Session, FakeDaemon],
) -> None:
    session, daemon = pair
    stream = session.open(requests.logs("web", None, 10, True))
    daemon.take(stream.data)
    cancel = session.cancel(stream)
    assert cancel is not None
    daemon.take(cancel.data)
    session.receive_data(
        daemon.send(
            End(id=stream.id),
            Error(id=cancel.id, code=ErrorCode.BAD_REQUEST, message="no request running"),
        )
    )
    assert session.result(cancel) is None
    assert session.stream_over(stream)


def test_cancel_refused_while_the_stream_runs_raises(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.logs("web", None, 10, True))
    daemon.take(stream.data)
    cancel = session.cancel(stream)
    assert cancel is not None
    session.receive_data(
        daemon.send(Error(id=cancel.id, code=ErrorCode.BAD_REQUEST, message="no request running"))
    )
    with pytest.raises(errors.CommandFailed, match="no request running"):
        session.result(cancel)


def test_log_stream_items_then_end(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.logs("web", "stdout", 5, False))
    assert stream.ack is None
    assert daemon.take(stream.data) == [
        Logs(id=stream.id, name="web", stream="stdout", lines=5, follow=False)
    ]
    chunk = LogChunk(id=stream.id, program="web", stream="stdout", data=b"hello\n")
    lagged = Lagged(id=stream.id, program="web", stream="stdout", dropped=100)
    session.receive_data(daemon.send(chunk, lagged, End(id=stream.id)))
    assert [session.next_item(stream) for _ in range(3)] == [
        _results.LogChunk(program="web", stream="stdout", data=b"hello\n"),
        _results.Lagged(program="web", stream="stdout", dropped=100),
        _results.End(),
    ]


def test_log_stream_error_is_raised_by_the_iteration(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.logs("web", None, 10, False))
    message = "logs is not served on this daemon"
    session.receive_data(
        daemon.send(Error(id=stream.id, code=ErrorCode.BAD_REQUEST, message=message))
    )
    with pytest.raises(errors.CommandFailed, match="not served"):
        session.next_item(stream)
    assert session.stream_over(stream)


def test_push_of_the_wrong_kind_is_protocol_mismatch(pair: tuple[Session, FakeDaemon]) -> None:
    session, daemon = pair
    stream = session.open(requests.subscribe())
    session.receive_data(
        daemon.send(LogChunk(id=stream.id, program="web", stream="stdout", data=b"x"))
    )
    with pytest.raises(errors.ProtocolMismatch, match="'log'"):
        session.next_item(stream)


@pytest.mark.parametrize(
    ("names", "every"), [((), False), (("web",), True)], ids=["neither", "both"]
)
def test_action_needs_names_or_all(names: tuple[str, ...], every: bool) -> None:
    with pytest.raises(errors.UsageError):
        requests.action(Stop, names, every, True)


@pytest.mark.parametrize(
    ("path", "environ", "expected"),
    [
        ("/a.sock", {"SVCTL_SOCKET": "/b.sock"}, "/a.sock"),
        (None, {"SVCTL_SOCKET": "/b.sock"}, "/b.sock"),
        (None, {"SVCTL_SOCKET": ""}, DEFAULT_SOCKET),
        (None, {}, DEFAULT_SOCKET),
    ],
)
def test_resolve_socket(path: str | None, environ: dict[str, str], expected: str) -> None:
    assert resolve_socket(path, environ) == expected
