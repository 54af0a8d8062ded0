"""JSON-lines log files (``log.format = "json"``): a program's output as one JSON object per
line, and back.

Each line of output becomes ``{"time": ..., "stream": ..., "line": ...}`` and a newline:

- ``time``: when the line's first byte reached the file writer, RFC 3339 in UTC with
  microseconds (``2026-11-25T14:03:07.215301Z``); every piece of a cut line has its line's time;
- ``stream``: ``"stdout"`` or ``"stderr"`` (a merged stream is ``"stdout"``);
- ``line``: the line's text without its newline (a ``\\r`` before it is kept);
- ``"partial": true`` (absent otherwise): the object does not end its line, the next object of
  the file goes on with it. A line longer than the stream's queue is cut into objects of at most
  ``max_line`` bytes (between UTF-8 characters where it can), all but the last partial; the last
  bytes of a run that ended without a newline are one partial object;
- ``bytes_b64``: only when the line is not valid UTF-8. ``line`` then holds the text with each
  undecodable byte replaced by U+FFFD, and ``bytes_b64`` the exact bytes in base64.

So the program's bytes are kept losslessly: for each object, ``bytes_b64`` decoded (or ``line``
encoded as UTF-8), then a newline unless ``partial``.

A line is written only once it is whole: ``JsonLines.encode`` holds the bytes after the last
newline of a chunk until their newline arrives (or the line reaches ``max_line``, or the run
ends: ``finish``), so an object is never split between two writes or two files.
"""

from __future__ import annotations

import base64
import calendar
import time

import msgspec

__all__ = ["JsonLines", "LogLine", "decode", "rfc3339"]


class LogLine(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One object of a JSON-lines log file; see the module docstring."""

    time: str
    stream: str
    line: str
    partial: bool = False
    bytes_b64: str | None = None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(LogLine).decode


def rfc3339(now: float) -> str:
    """``now`` (seconds since the epoch) as RFC 3339 UTC with microseconds."""
    seconds, micros = divmod(int(now * 1_000_000), 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def parse_rfc3339(text: str) -> float | None:
    """The inverse of ``rfc3339``; None for anything else."""
    if len(text) != 27 or text[19] != "." or text[26] != "Z":
        return None
    try:
        parsed = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
        micros = int(text[20:26])
    except ValueError:
        return None
    return calendar.timegm(parsed) + micros / 1_000_000


def _cut(data: bytes, limit: int) -> int:
    """Where to cut ``data`` (longer than ``limit``): at ``limit``, or up to three bytes before
    it so as not to split a UTF-8 character."""
    at = limit
    while at > limit - 3 and at > 1 and data[at] & 0xC0 == 0x80:
        at -= 1
    return at if data[at] & 0xC0 != 0x80 else limit


class JsonLines:
    """Turns one stream's output, chunk by chunk, into JSON lines; see the module docstring."""

    def __init__(self, stream: str, max_line: int) -> None:
        self.stream = stream
        self.max_line = max(1, max_line)
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_time = ""
        self._held_at = 0.0

    @property
    def held(self) -> bytes:
        """The bytes of the line that is not finished yet (not in the file)."""
        return b"".join(self._held)

    @property
    def held_at(self) -> float:
        """When the first of the ``held`` bytes arrived."""
        return self._held_at

    def encode(self, data: bytes, now: float) -> bytes:
        """The objects for the lines ``data`` finishes; the rest is held for the next call."""
        stamp = rfc3339(now)
        out: list[bytes] = []
        lines = data.split(b"\n")
        rest = lines.pop()
        if lines:
            first = lines[0]
            when = stamp
            if self._held:
                first = b"".join([*self._held, first])
                when = self._held_time
                self._held.clear()
                self._held_size = 0
            self._line(out, first, when, ends=True)
            for line in lines[1:]:
                self._line(out, line, stamp, ends=True)
        if rest:
            if not self._held:
                self._held_time, self._held_at = stamp, now
            self._held.append(rest)
            self._held_size += len(rest)
            if self._held_size > self.max_line:
                whole = b"".join(self._held)
                while len(whole) > self.max_line:
                    cut = _cut(whole, self.max_line)
                    out.append(self._object(whole[:cut], self._held_time, partial=True))
                    whole = whole[cut:]
                self._held = [whole]
                self._held_size = len(whole)
        return b"".join(out)

    def finish(self) -> bytes:
        """The object of a held line whose run ended without its newline (partial)."""
        if not self._held:
            return b""
        out: list[bytes] = []
        self._line(out, b"".join(self._held), self._held_time, ends=False)
        self._held.clear()
        self._held_size = 0
        return b"".join(out)

    def _line(self, out: list[bytes], data: bytes, when: str, *, ends: bool) -> None:
        while len(data) > self.max_line:
            cut = _cut(data, self.max_line)
            out.append(self._object(data[:cut], when, partial=True))
            data = data[cut:]
        out.append(self._object(data, when, partial=not ends))

    def _object(self, data: bytes, when: str, *, partial: bool) -> bytes:
        try:
            text = data.decode()
            raw = None
        except UnicodeDecodeError:
            text = data.decode(errors="replace")
            raw = base64.b64encode(data).decode()
        line = LogLine(time=when, stream=self.stream, line=text, partial=partial, bytes_b64=raw)
        return _encode(line) + b"\n"


def decode(line: bytes) -> tuple[float | None, bytes]:
    """One line of a JSON-lines file (without its newline) -> (its time, the program's bytes it
    holds). A line that is not one of our objects gives (None, the line and a newline): it is
    passed on as it is."""
    try:
        item = _decode(line)
        data = (
            base64.b64decode(item.bytes_b64) if item.bytes_b64 is not None else item.line.encode()
        )
    except (msgspec.DecodeError, ValueError, UnicodeEncodeError):
        return None, line + b"\n"
    return parse_rfc3339(item.time), data if item.partial else data + b"\n"
