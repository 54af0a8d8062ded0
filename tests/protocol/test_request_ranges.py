"""Every number a request carries has a range, refused as ``bad_request`` naming the field.

The cases are read from the catalogue itself (``msgspec.inspect``), so a numeric field added to a
request without a range fails ``test_every_numeric_field_has_a_range``, and one added with a
range is tried out of it here without another line of test. Most tests drive the sans-IO
Connection; the last sends every case to a real daemon and checks that it answers each one and
writes no traceback.
"""

from __future__ import annotations

import math
import socket
from typing import TYPE_CHECKING, Any, get_args

import msgspec
import pytest

from supervisord_lite.protocol import (
    NEED_DATA,
    PROTOCOL_VERSION,
    Cancel,
    ClientMessage,
    Connection,
    Error,
    ErrorCode,
    FrameEncoder,
    Hello,
    ProgramState,
    Request,
    Role,
    Scale,
    Signal,
    Wait,
    Welcome,
    error_reply,
    tag_of,
)
from supervisord_lite.protocol.errors import BadRequest, UnsupportedVersion
from svctl import Client
from tests.daemon_harness import running

if TYPE_CHECKING:
    from pathlib import Path

REQUEST_ID = 7
MSGPACK_INT_MIN = -(2**63)
MSGPACK_INT_MAX = 2**64 - 1

#: One valid instance of every request: the base each case changes one field of.
VALID: dict[type[Request], Request] = {
    cls: cls(id=REQUEST_ID)
    for cls in get_args(ClientMessage)
    if cls not in (Hello, Wait, Cancel, Signal, Scale)
}
VALID[Hello] = Hello(id=REQUEST_ID, version=PROTOCOL_VERSION)
VALID[Wait] = Wait(id=REQUEST_ID, names=("one",), state=ProgramState.RUNNING)
VALID[Cancel] = Cancel(id=REQUEST_ID, target=1)
VALID[Signal] = Signal(id=REQUEST_ID, names=("one",), signal="HUP")
VALID[Scale] = Scale(id=REQUEST_ID, name="one", count=1)


Number = msgspec.inspect.IntType | msgspec.inspect.FloatType


def _number(field: msgspec.inspect.Field) -> Number | None:
    """The numeric type of a field (also inside ``X | None``), or None for another field."""
    union = isinstance(field.type, msgspec.inspect.UnionType)
    kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else ()
    found = [t for t in (kinds if union else (field.type,)) if isinstance(t, Number)]
    return found[0] if found else None


def _bounds(field: msgspec.inspect.Field) -> tuple[Number, float | None, float | None]:
    """A numeric field's type, and its lowest and highest value (None: unbounded)."""
    number = _number(field)
    assert number is not None
    assert number.gt is None, "ranges are written with ge and le"
    assert number.lt is None, "ranges are written with ge and le"
    return number, number.ge, number.le


def _numeric_fields() -> list[tuple[type[Request], msgspec.inspect.Field]]:
    found = []
    for cls in get_args(ClientMessage):
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        found.extend((cls, field) for field in info.fields if _number(field) is not None)
    return found


NUMERIC_FIELDS = _numeric_fields()


def _out_of_range(field: msgspec.inspect.Field) -> list[object]:
    number, low, high = _bounds(field)
    assert low is not None
    assert high is not None
    if isinstance(number, msgspec.inspect.IntType):
        # Just past each bound, and the ends of what msgpack can carry at all.
        edges = [int(low) - 1, int(high) + 1, MSGPACK_INT_MIN, MSGPACK_INT_MAX]
        return sorted({v for v in edges if not low <= v <= high})
    return [low - 1.0, high * 2, math.inf, -math.inf, math.nan]


CASES = [
    pytest.param(cls, field.encode_name, value, id=f"{tag_of(cls)}.{field.encode_name}={value!r}")
    for cls, field in NUMERIC_FIELDS
    for value in _out_of_range(field)
]


def _wire(cls: type[Request], field: str, value: object) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(VALID[cls])
    body["op"] = tag_of(cls)
    body[field] = value
    return body


def _open_server() -> Connection:
    """A server Connection that has done its handshake."""
    server = Connection(Role.SERVER)
    server.receive_data(Connection(Role.CLIENT).send(Hello(version=PROTOCOL_VERSION)))
    assert isinstance(server.next_event(), Hello)
    server.send(Welcome(version=PROTOCOL_VERSION, pid=1, daemon_version="test"))
    return server


def test_the_cases_cover_every_request() -> None:
    assert set(VALID) == set(get_args(ClientMessage))
    assert {tag_of(cls) for cls, _ in NUMERIC_FIELDS} == {tag_of(cls) for cls in VALID}
    assert {(tag_of(cls), f.encode_name) for cls, f in NUMERIC_FIELDS} >= {
        ("hello", "version"),
        ("history", "limit"),
        ("logs", "lines"),
        ("wait", "timeout"),
        ("cancel", "target"),
    }


@pytest.mark.parametrize(
    ("cls", "field"), [(cls, f) for cls, f in NUMERIC_FIELDS], ids=lambda x: getattr(x, "name", x)
)
def test_every_numeric_field_has_a_range(cls: type[Request], field: msgspec.inspect.Field) -> None:
    _, low, high = _bounds(field)
    assert low is not None, f"{cls.__name__}.{field.name} has no lower bound"
    assert high is not None, f"{cls.__name__}.{field.name} has no upper bound"


@pytest.mark.parametrize(
    ("cls", "field"), [(cls, f) for cls, f in NUMERIC_FIELDS], ids=lambda x: getattr(x, "name", x)
)
def test_the_bounds_themselves_are_accepted(
    cls: type[Request], field: msgspec.inspect.Field
) -> None:
    _, low, high = _bounds(field)
    for value in (low, high):
        server = Connection(Role.SERVER) if cls is Hello else _open_server()
        server.receive_data(FrameEncoder().encode(_wire(cls, field.encode_name, value)))
        if (cls, field.name) == (Hello, "version"):
            # In range, but a version this side does not speak: refused as such.
            with pytest.raises(UnsupportedVersion):
                server.next_event()
            continue
        msg = server.next_event()
        assert isinstance(msg, cls)
        assert getattr(msg, field.name) == value


def test_a_history_limit_of_2_63_is_a_bad_request() -> None:
    server = _open_server()
    server.receive_data(FrameEncoder().encode({"op": "history", "id": 3, "limit": 2**63}))
    with pytest.raises(BadRequest, match=r"\$\.limit") as info:
        server.next_event()
    assert error_reply(info.value).id == 3


@pytest.mark.parametrize(("cls", "field", "value"), CASES)
def test_out_of_range_is_a_bad_request_naming_the_field(
    cls: type[Request], field: str, value: object
) -> None:
    server = Connection(Role.SERVER) if cls is Hello else _open_server()
    server.receive_data(FrameEncoder().encode(_wire(cls, field, value)))
    with pytest.raises(BadRequest) as info:
        server.next_event()
    assert f"$.{field}" in str(info.value)
    assert "\n" not in str(info.value)
    reply = error_reply(info.value)
    assert reply.code is ErrorCode.BAD_REQUEST
    assert reply.id == (value if field == "id" else REQUEST_ID)

    client = Connection(Role.CLIENT)
    client.send(Hello(version=PROTOCOL_VERSION))
    client.receive_data(server.send(reply))
    assert client.next_event() == reply


def _ask(path: str, body: dict[str, Any]) -> Error:
    """Send a Hello (unless ``body`` is one) and ``body``; the Error the daemon answers."""
    conn = Connection(Role.CLIENT)
    frames = FrameEncoder().encode(body)
    if body["op"] != "hello":
        frames = conn.send(Hello(version=PROTOCOL_VERSION)) + frames
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(frames)
        while True:
            data = sock.recv(65536)
            assert data, "the daemon closed the connection without an Error"
            conn.receive_data(data)
            while (event := conn.next_event()) is not NEED_DATA:
                if isinstance(event, Error):
                    return event


ONE = """\
[programs.one]
command = ["sleep", "3600"]
start_seconds = 0
"""


def test_a_real_daemon_answers_every_case_and_logs_no_traceback(tmp_path: Path) -> None:
    with running(tmp_path, ONE) as daemon:
        for param in CASES:
            cls, field, value = param.values
            assert isinstance(cls, type)
            assert isinstance(field, str)
            error = _ask(daemon.socket, _wire(cls, field, value))
            assert error.code is ErrorCode.BAD_REQUEST, (param.id, error)
            assert f"$.{field}" in error.message, (param.id, error)
        error = _ask(daemon.socket, {"op": "history", "id": 3, "limit": 2**63})
        assert (error.code, error.id) == (ErrorCode.BAD_REQUEST, 3), error
        assert "$.limit" in error.message
        with Client(daemon.socket, timeout=10) as client:
            assert [s.name for s in client.status()] == ["one"]
        log = daemon.log()
    assert "Traceback" not in log, log
    assert "internal error" not in log, log
