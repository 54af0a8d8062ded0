"""Frames on the control socket: a 4-byte big-endian body length, then a msgpack body.

A stream socket has no message boundaries, so each message is prefixed with its length; the
reader knows where a message ends before it has all of it (msgspec's "Length-Prefix
Framing"). This layer knows nothing of message types: it turns messages into frames and
bytes into bodies.

Invariants:

- A length above ``max_frame`` is refused the moment its 4 prefix bytes are known, before
  any of the body is buffered, so a peer cannot make the reader allocate what it announces.
- The decoder holds at most one incomplete frame; complete bodies are handed out at once.
- After a refused length the stream is out of step and the decoder refuses everything that
  follows.

This module is pure: it imports only the standard library, msgspec and the protocol's errors.
"""

from __future__ import annotations

import msgspec

from supervisord_lite.protocol.errors import FrameTooLarge

__all__ = ["HEADER_SIZE", "MAX_FRAME", "FrameDecoder", "FrameEncoder"]

MAX_FRAME = 8 * 1024 * 1024
"""The largest body, in bytes, either side sends or accepts."""

HEADER_SIZE = 4
_MAX_LENGTH = 2**32 - 1
_KEEP_BUFFER = 64 * 1024


def _check_max_frame(max_frame: int) -> int:
    if not 0 <= max_frame <= _MAX_LENGTH:
        raise ValueError(f"max_frame must be within 0..{_MAX_LENGTH}, not {max_frame}")
    return max_frame


class FrameEncoder:
    """Turns messages into frames with one reused msgpack encoder and buffer.

    The body is encoded straight after a 4-byte gap, then the gap is filled with the
    length, so the body is never copied to be prefixed.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = _check_max_frame(max_frame)
        self._encoder = msgspec.msgpack.Encoder()
        self._buffer = bytearray(256)

    def encode(self, msg: object) -> bytes:
        """Return ``msg`` as one frame, ready to write.

        Raises:
            FrameTooLarge: the body would be larger than ``max_frame``; nothing is returned,
                so nothing half-sent can put the stream out of step.
            TypeError: ``msg`` holds something msgpack cannot encode.
        """
        buffer = self._buffer
        self._encoder.encode_into(msg, buffer, HEADER_SIZE)
        size = len(buffer) - HEADER_SIZE
        if size > self.max_frame:
            self._buffer = bytearray(256)
            raise FrameTooLarge(
                f"message body is {size} bytes, more than the {self.max_frame} allowed"
            )
        buffer[:HEADER_SIZE] = size.to_bytes(HEADER_SIZE, "big")
        frame = bytes(buffer)
        if size > _KEEP_BUFFER:
            self._buffer = bytearray(256)
        return frame


class FrameDecoder:
    """Turns a byte stream, in chunks of any size, into frame bodies.

    Only the incomplete frame at the end of the data is buffered: bodies that arrive whole
    are cut out of the incoming chunk without passing through the buffer.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = _check_max_frame(max_frame)
        self._header = bytearray()
        self._body = bytearray()
        self._size = -1
        self._error: FrameTooLarge | None = None

    @property
    def pending(self) -> int:
        """Bytes held of the incomplete frame, its prefix included; 0 at a frame boundary."""
        if self._size < 0:
            return len(self._header)
        return HEADER_SIZE + len(self._body)

    @property
    def at_boundary(self) -> bool:
        """True when no frame is begun: an end of stream here is clean."""
        return self._size < 0 and not self._header

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next chunk of the stream; return the bodies it completes, in order.

        Raises:
            FrameTooLarge: a length prefix is above ``max_frame`` (raised before any of its
                body is buffered). Bodies completed earlier in the same chunk are dropped
                with the stream; every later call raises again.
        """
        if self._error is not None:
            raise self._error.with_traceback(None)
        bodies: list[bytes] = []
        view = memoryview(data)
        end = len(view)
        pos = 0
        while True:
            if self._size < 0:
                if not self._header and end - pos >= HEADER_SIZE:
                    size = int.from_bytes(view[pos : pos + HEADER_SIZE], "big")
                    pos += HEADER_SIZE
                else:
                    take = min(HEADER_SIZE - len(self._header), end - pos)
                    self._header += view[pos : pos + take]
                    pos += take
                    if len(self._header) < HEADER_SIZE:
                        return bodies
                    size = int.from_bytes(self._header, "big")
                    self._header.clear()
                if size > self.max_frame:
                    self._error = FrameTooLarge(
                        f"frame announces {size} bytes, more than the {self.max_frame} allowed"
                    )
                    raise self._error
                self._size = size
            size = self._size
            if not self._body and end - pos >= size:
                bodies.append(bytes(view[pos : pos + size]))
                pos += size
            else:
                take = min(size - len(self._body), end - pos)
                self._body += view[pos : pos + take]
                pos += take
                if len(self._body) < size:
                    return bodies
                bodies.append(bytes(self._body))
                self._body = bytearray()
            self._size = -1
            if pos == end:
                return bodies
