"""The sans-IO connection, driven through an in-memory pair: no sockets, no event loop."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisord_lite.protocol import (
    CLOSED,
    NEED_DATA,
    PROTOCOL_VERSION,
    ClientMessage,
    Connection,
    ConnectionState,
    End,
    Error,
    ErrorCode,
    Event,
    FrameEncoder,
    Hello,
    LocalProtocolError,
    LogChunk,
    Message,
    Ok,
    Ping,
    Pong,
    ProgramState,
    Role,
    ServerMessage,
    StateChanged,
    Status,
    StatusReply,
    Subscribe,
    Welcome,
    error_reply,
)
from supervisord_lite.protocol.errors import (
    BadRequest,
    FrameTooLarge,
    ProtocolError,
    UnknownOperation,
    UnsupportedVersion,
)
from tests.protocol.test_messages import SAMPLE_REPLIES, SAMPLE_REQUESTS

WELCOME = Welcome(id=1, version=PROTOCOL_VERSION, pid=99, daemon_version="0.1.0")
HELLO = Hello(id=1, version=PROTOCOL_VERSION, client="tests")


def frame(wire: object) -> bytes:
    """A frame holding any msgpack value, for messages a well-behaved peer would never send."""
    body = msgspec.msgpack.encode(wire)
    return len(body).to_bytes(4, "big") + body


def drain(conn: Connection) -> list[Event]:
    """Every event until the connection needs data or is closed (the closing event included)."""
    events: list[Event] = []
    while True:
        event = conn.next_event()
        events.append(event)
        if event is NEED_DATA or event is CLOSED:
            return events


class ConnectionPair:
    """A client and a server joined by an in-memory wire, as h11's tests do it."""

    def __init__(self) -> None:
        self.client = Connection(Role.CLIENT)
        self.server = Connection(Role.SERVER)

    def request(self, msg: ClientMessage) -> list[Event]:
        self.server.receive_data(self.client.send(msg))
        return drain(self.server)

    def reply(self, msg: ServerMessage) -> list[Event]:
        self.client.receive_data(self.server.send(msg))
        return drain(self.client)

    def handshake(self) -> None:
        assert self.request(HELLO) == [HELLO, NEED_DATA]
        assert self.reply(WELCOME) == [WELCOME, NEED_DATA]


def server_after_hello() -> Connection:
    server = Connection(Role.SERVER)
    server.receive_data(FrameEncoder().encode(HELLO))
    assert server.next_event() == HELLO
    server.send(WELCOME)
    return server


def test_handshake_opens_both_sides() -> None:
    pair = ConnectionPair()
    states = [(pair.client.state, pair.server.state)]
    assert pair.request(HELLO) == [HELLO, NEED_DATA]
    states.append((pair.client.state, pair.server.state))
    assert pair.reply(WELCOME) == [WELCOME, NEED_DATA]
    states.append((pair.client.state, pair.server.state))
    await_hello, is_open = ConnectionState.AWAIT_HELLO, ConnectionState.OPEN
    assert states == [(await_hello, await_hello), (await_hello, await_hello), (is_open, is_open)]


@pytest.mark.parametrize("msg", SAMPLE_REQUESTS[1:], ids=repr)
def test_request_round_trip(msg: ClientMessage) -> None:
    pair = ConnectionPair()
    pair.handshake()
    assert pair.request(msg) == [msg, NEED_DATA]


@pytest.mark.parametrize("msg", SAMPLE_REPLIES[1:], ids=repr)
def test_reply_round_trip(msg: ServerMessage) -> None:
    pair = ConnectionPair()
    pair.handshake()
    assert pair.reply(msg) == [msg, NEED_DATA]


def test_client_may_send_requests_before_the_welcome() -> None:
    pair = ConnectionPair()
    data = pair.client.send(HELLO) + pair.client.send(Status(id=2))
    pair.server.receive_data(data)
    assert drain(pair.server) == [HELLO, Status(id=2), NEED_DATA]
    assert pair.reply(WELCOME) == [WELCOME, NEED_DATA]
    reply = StatusReply(id=2, programs=())
    assert pair.reply(reply) == [reply, NEED_DATA]


def test_pushed_events_carry_the_subscription_id() -> None:
    pair = ConnectionPair()
    pair.handshake()
    assert pair.request(Subscribe(id=7)) == [Subscribe(id=7), NEED_DATA]
    change = StateChanged(
        id=7,
        program="web",
        old=ProgramState.STOPPED,
        new=ProgramState.STARTING,
        pid=None,
        exit_code=None,
        exit_signal=None,
        at=1.0,
    )
    data = pair.server.send(Ok(id=7)) + pair.server.send(change) + pair.server.send(End(id=7))
    pair.client.receive_data(data)
    assert drain(pair.client) == [Ok(id=7), change, End(id=7), NEED_DATA]


def test_messages_arrive_one_byte_at_a_time() -> None:
    pair = ConnectionPair()
    data = pair.client.send(HELLO) + pair.client.send(Ping(id=2))
    events: list[Event] = []
    for i in range(len(data)):
        pair.server.receive_data(data[i : i + 1])
        events.extend(e for e in drain(pair.server) if e is not NEED_DATA)
    assert events == [HELLO, Ping(id=2)]


# -- the handshake refused -------------------------------------------------------------------


def test_wrong_version_is_refused_and_the_client_is_told_why() -> None:
    pair = ConnectionPair()
    pair.server.receive_data(pair.client.send(Hello(id=5, version=PROTOCOL_VERSION + 1)))
    with pytest.raises(UnsupportedVersion) as info:
        pair.server.next_event()
    assert info.value.request_id == 5
    assert pair.server.state is ConnectionState.ERROR
    reply = error_reply(info.value)
    assert reply.code is ErrorCode.UNSUPPORTED_VERSION
    assert reply.id == 5
    pair.client.receive_data(pair.server.send(reply))
    pair.client.receive_data(b"")
    assert drain(pair.client) == [reply, CLOSED]
    assert pair.client.state is ConnectionState.CLOSED


def test_client_refuses_a_welcome_of_another_version() -> None:
    client = Connection(Role.CLIENT)
    client.send(HELLO)
    client.receive_data(FrameEncoder().encode(Welcome(version=0, pid=1, daemon_version="0")))
    with pytest.raises(UnsupportedVersion):
        client.next_event()
    assert client.state is ConnectionState.ERROR
    with pytest.raises(LocalProtocolError):
        client.send(Ping())


def test_request_before_hello_is_refused() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(FrameEncoder().encode(Status(id=3)))
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert type(info.value) is ProtocolError
    assert info.value.request_id == 3
    assert error_reply(info.value) == Error(id=3, code=ErrorCode.BAD_FRAME, message=str(info.value))


def test_reply_before_welcome_is_refused() -> None:
    client = Connection(Role.CLIENT)
    client.send(HELLO)
    client.receive_data(FrameEncoder().encode(Pong(id=1)))
    with pytest.raises(ProtocolError, match="welcome"):
        client.next_event()


def test_second_hello_is_refused() -> None:
    server = server_after_hello()
    server.receive_data(FrameEncoder().encode(Hello(id=9, version=PROTOCOL_VERSION)))
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert info.value.request_id == 9


def test_second_welcome_is_refused() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.client.receive_data(FrameEncoder().encode(WELCOME))
    with pytest.raises(ProtocolError):
        pair.client.next_event()


# -- bad messages ----------------------------------------------------------------------------


def test_unknown_op_echoes_the_id() -> None:
    server = server_after_hello()
    server.receive_data(frame({"op": "frobnicate", "id": 42, "x": 1}))
    with pytest.raises(UnknownOperation) as info:
        server.next_event()
    assert info.value.request_id == 42
    reply = error_reply(info.value)
    assert (reply.id, reply.code) == (42, ErrorCode.UNKNOWN_OP)
    assert "frobnicate" in reply.message


def test_error_messages_do_not_echo_huge_values() -> None:
    server = server_after_hello()
    server.receive_data(frame({"op": "x" * 100_000, "id": 1}))
    with pytest.raises(UnknownOperation) as info:
        server.next_event()
    assert len(str(info.value)) < 300
    server = server_after_hello()
    server.receive_data(frame({"op": "logs", "stream": "y" * 100_000, "id": 1}))
    with pytest.raises(BadRequest) as bad:
        server.next_event()
    assert len(str(bad.value)) < 300


def test_unknown_op_before_hello_is_unknown_op() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(frame({"op": "frobnicate", "id": 1}))
    with pytest.raises(UnknownOperation):
        server.next_event()


@pytest.mark.parametrize(
    ("wire", "request_id"),
    [
        ({"op": "status", "id": 8, "names": "web"}, 8),
        ({"op": "cancel", "id": 8}, 8),
        ({"op": "history", "id": 8, "limit": -1}, 8),
        ({"op": "status", "id": "eight"}, None),
        ({"id": 8}, 8),
        ({"op": 3, "id": 8}, 8),
        ({"op": "ping", 1: 2, "id": 8}, 8),
    ],
)
def test_invalid_fields_are_bad_request(wire: dict[object, object], request_id: int | None) -> None:
    server = server_after_hello()
    server.receive_data(frame(wire))
    with pytest.raises(BadRequest) as info:
        server.next_event()
    assert info.value.request_id == request_id
    assert error_reply(info.value).code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",
        b"\x81\xa2op",
        msgspec.msgpack.encode({"op": "ping"}) + b"\x00",
        msgspec.msgpack.encode(5),
        msgspec.msgpack.encode(["ping", 1]),
        b"",
        b"\x91" * 100_000,
        b"\x82\xa2op\xa4ping\xa1x" + b"\x91" * 100_000 + b"\x01",
        b"\x81\xa2op\xa4p\xffng",
        b"\x82\xa2op\xa6status\xa5names\x91\xa1\xff",
    ],
    ids=[
        "bad-opcode",
        "truncated",
        "trailing",
        "int",
        "array",
        "empty",
        "deep",
        "deep-unknown-field",
        "bad-utf8-op",
        "bad-utf8-name",
    ],
)
def test_undecodable_or_non_map_body_is_bad_frame(body: bytes) -> None:
    server = server_after_hello()
    server.receive_data(len(body).to_bytes(4, "big") + body)
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert info.value.code == "bad_frame"
    assert error_reply(info.value).code is ErrorCode.BAD_FRAME


@pytest.mark.parametrize(
    "junk",
    [b"\xa2\xff\xfe", b"\xd7\xff\xff\xff\xff\xff\xff\xff\xff\xff"],
    ids=["bad-utf8", "bad-timestamp"],
)
def test_unknown_fields_are_skipped_unread(junk: bytes) -> None:
    server = server_after_hello()
    body = b"\x83\xa2op\xa4ping\xa2id\x07\xa1x" + junk
    server.receive_data(len(body).to_bytes(4, "big") + body)
    assert server.next_event() == Ping(id=7)


def test_oversize_frame_is_frame_too_large() -> None:
    server = Connection(Role.SERVER, max_frame=64)
    server.receive_data(b"\x00\x10\x00\x00")
    with pytest.raises(FrameTooLarge) as info:
        server.next_event()
    assert error_reply(info.value) == Error(code=ErrorCode.FRAME_TOO_LARGE, message=str(info.value))


def test_messages_before_a_bad_frame_come_out_first() -> None:
    server = Connection(Role.SERVER)
    encoder = FrameEncoder()
    server.receive_data(encoder.encode(HELLO) + encoder.encode(Ping(id=2)))
    server.receive_data(frame({"op": "nope", "id": 3}) + encoder.encode(Ping(id=4)))
    assert server.next_event() == HELLO
    assert server.next_event() == Ping(id=2)
    with pytest.raises(UnknownOperation):
        server.next_event()


def test_client_reads_an_error_code_it_does_not_know_as_internal() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.client.receive_data(
        frame({"kind": "error", "id": 4, "code": "quota_exceeded", "message": "too many"})
    )
    assert pair.client.next_event() == Error(id=4, code=ErrorCode.INTERNAL, message="too many")


def test_client_refuses_an_unknown_kind() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.client.receive_data(frame({"kind": "teleport", "id": 4}))
    with pytest.raises(UnknownOperation):
        pair.client.next_event()


def test_client_refuses_an_invalid_error() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.client.receive_data(frame({"kind": "error", "id": 4, "code": "oops"}))
    with pytest.raises(BadRequest):
        pair.client.next_event()


# -- end of stream ---------------------------------------------------------------------------


def test_eof_at_a_boundary_is_closed() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.server.receive_data(pair.client.send(Ping(id=2)))
    pair.server.receive_data(b"")
    assert drain(pair.server) == [Ping(id=2), CLOSED]
    assert pair.server.next_event() is CLOSED
    assert pair.server.state is ConnectionState.CLOSED
    assert pair.server.send(Pong(id=2))
    pair.server.receive_data(b"")


def test_eof_before_anything_is_closed() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(b"")
    assert server.next_event() is CLOSED


@pytest.mark.parametrize("keep", [1, 3, 4, 6])
def test_eof_mid_frame_is_a_protocol_error(keep: int) -> None:
    server = Connection(Role.SERVER)
    server.receive_data(FrameEncoder().encode(HELLO)[:keep])
    server.receive_data(b"")
    with pytest.raises(ProtocolError, match="mid-frame"):
        server.next_event()
    assert server.state is ConnectionState.ERROR


def test_data_after_eof_is_a_local_error() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"x")


# -- after an error --------------------------------------------------------------------------


def test_after_an_error_only_an_error_reply_may_be_sent() -> None:
    server = server_after_hello()
    server.receive_data(frame({"op": "nope", "id": 3}))
    with pytest.raises(UnknownOperation) as first:
        server.next_event()
    assert server.state is ConnectionState.ERROR
    with pytest.raises(UnknownOperation) as again:
        server.next_event()
    assert again.value is first.value
    server.receive_data(FrameEncoder().encode(Ping(id=4)))
    with pytest.raises(UnknownOperation):
        server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Pong(id=2))
    assert server.send(error_reply(first.value))


def test_server_may_refuse_before_welcome() -> None:
    server = Connection(Role.SERVER)
    assert server.send(Error(code=ErrorCode.SHUTTING_DOWN, message="going away"))


# -- local misuse ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "msgs"),
    [
        (Role.CLIENT, [Ping()]),
        (Role.CLIENT, [HELLO, HELLO]),
        (Role.CLIENT, [Pong()]),
        (Role.CLIENT, [Error(code=ErrorCode.INTERNAL, message="x")]),
        (Role.SERVER, [HELLO]),
        (Role.SERVER, [WELCOME]),
        (Role.SERVER, [Pong()]),
    ],
)
def test_local_misuse_raises(role: Role, msgs: list[Message]) -> None:
    conn = Connection(role)
    *ok, bad = msgs
    for msg in ok:
        conn.send(msg)
    with pytest.raises(LocalProtocolError):
        conn.send(bad)


def test_server_sends_welcome_once_and_replies_after_it() -> None:
    server = Connection(Role.SERVER)
    server.receive_data(FrameEncoder().encode(HELLO))
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Pong())
    server.send(WELCOME)
    with pytest.raises(LocalProtocolError):
        server.send(WELCOME)
    assert server.send(Pong())


def test_too_large_to_send_is_refused() -> None:
    pair = ConnectionPair()
    small = Connection(Role.SERVER, max_frame=100)
    small.receive_data(pair.client.send(HELLO))
    small.next_event()
    small.send(WELCOME)
    with pytest.raises(FrameTooLarge):
        small.send(LogChunk(program="p", stream="stdout", data=b"x" * 200))
    assert small.send(Pong())


def test_error_reply_defaults_id_to_zero() -> None:
    assert error_reply(ProtocolError("garbage")) == Error(
        id=0, code=ErrorCode.BAD_FRAME, message="garbage"
    )


# -- fuzz ------------------------------------------------------------------------------------


@given(st.binary(max_size=400), st.booleans(), st.integers(min_value=1, max_value=50))
def test_any_bytes_give_messages_or_a_protocol_error(data: bytes, greet: bool, chunk: int) -> None:
    server = Connection(Role.SERVER, max_frame=1024)
    if greet:
        data = FrameEncoder().encode(HELLO) + data
    try:
        for pos in range(0, len(data), chunk):
            server.receive_data(data[pos : pos + chunk])
            drain(server)
        server.receive_data(b"")
        assert drain(server)[-1] is CLOSED
    except ProtocolError as exc:
        error: ProtocolError | None = exc
    else:
        error = None
    if error is not None:
        assert server.state is ConnectionState.ERROR
        assert error_reply(error).code.value == error.code


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["op", "id", "names", "version", "target", "limit", "state", "x"]),
        _values | st.sampled_from(["hello", "ping", "status", "cancel", "wait", "nope"]),
    )
)
def test_any_map_gives_a_message_or_a_protocol_error(wire: dict[str, object]) -> None:
    server = server_after_hello()
    server.receive_data(frame(wire))
    try:
        server.next_event()
    except ProtocolError as exc:
        reply = error_reply(exc)
        raw_id = wire.get("id")
        if type(raw_id) is int:
            assert reply.id == raw_id
