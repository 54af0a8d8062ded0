"""The field types the messages share: the protocol version and every number's range.

Every number a request carries has a range (rule 5 in ``messages.py``), so a value out of it is
refused where the request is decoded (``bad_request``, naming the field) and never reaches the
daemon's code. The ranges live here, apart from the messages that use them, because requests,
replies and the clients' own checks all read them.

This module is pure: it imports the standard library and msgspec only.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

from msgspec import Meta

__all__ = [
    "MAX_HISTORY",
    "MAX_ID",
    "MAX_LOG_LINES",
    "MAX_REPLAY",
    "MAX_REPLICAS",
    "MAX_TIME",
    "MAX_WAIT",
    "PROTOCOL_VERSION",
    "NonNegative",
    "RequestId",
    "Stream",
]

PROTOCOL_VERSION = 1
"""Sent in :class:`Hello` and :class:`Welcome`; a mismatch ends the handshake."""

Stream: TypeAlias = Literal["stdout", "stderr"]
"""Which of a program's output streams a log message is about."""
NonNegative = Annotated[int, Meta(ge=0)]
"""A count: bytes, events, reports."""

MAX_ID: Final = 2**63 - 1
"""The largest request id: ids fit a signed 64-bit integer, which every msgpack library holds."""
RequestId = Annotated[int, Meta(ge=0, le=MAX_ID)]

MAX_HISTORY: Final = 10_000
"""The most entries one :class:`History` request asks for; the reply stays well inside a frame."""

MAX_LOG_LINES: Final = 1_000_000
"""The most lines one :class:`Logs` request asks for from the files."""

MAX_REPLAY: Final = 1_000_000
"""The most events a :class:`Subscribe` with a negative ``since`` (the last N) asks for."""

MAX_TIME: Final = 253_402_300_799.0
"""The latest time a request names, in seconds since the epoch (the end of the year 9999)."""

MAX_REPLICAS: Final = 1000
"""The most instances a :class:`Scale` asks for (the config's bound too)."""

MAX_WAIT: Final = 366 * 24 * 3600.0
"""The longest finite :class:`Wait` timeout, in seconds (a year); None waits forever."""
