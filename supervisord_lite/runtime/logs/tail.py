"""What a log reader gets: the last lines from the files, then the live output.

``open_tail`` finds where the last N lines of a log start, counting newlines backwards from the
end of the current file and on into its rotated backups (``path.1``, ``path.2``...) when the
current file holds fewer; it reads each byte at most once and keeps the files open, so a
rotation while the tail is being sent does not change what is sent. It is plain file reading,
run in a worker thread.

With ``since`` only the lines written at or after that time are wanted, which needs files whose
lines carry their time (``timestamps``, or JSON lines): the scan reads each line's time on its way
back and stops at the first line older than ``since``, so the tail is the run of lines after the
last older one, whatever the clock did before it. A line whose time cannot be read (written
before timestamps were turned on) counts as older. The scan costs a pass over what it sends.

A JSON-lines file is read back into the program's bytes (``jsonlines.decode``), so a reader gets
the same output whatever the format; a line that is not one of our objects is passed on as it is.

``send_logs`` serves a ``Logs`` request. With ``follow`` it subscribes to the live output
*before* it reads the files, then waits (briefly) until what the program wrote up to that moment
is in the file, and tells the follower to skip the bytes that the file part already holds: the
reader gets the tail and then the live output with no gap and no repeat in between (barring
bytes a policy dropped). A JSON file holds back a line until it is finished: the writer's mark
says which bytes those are, and they are sent after the file's. Live output arrives in
``LogChunk`` messages of at most ``CHUNK`` bytes, with a ``Lagged`` wherever this reader fell
behind and missed output.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.errors import BadRequest
from supervisord_lite.runtime.logs import jsonlines
from supervisord_lite.runtime.logs.fanout import LogGap, LogPiece
from supervisord_lite.runtime.logs.order import deal, runs

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

    from supervisord_lite.runtime.logs.fanout import LogFanOut, LogFollower
    from supervisord_lite.runtime.logs.order import LineOrder
    from supervisord_lite.runtime.logs.streams import LogStream, ProgramLogs

    Send = Callable[[m.ServerMessage], Awaitable[None]]
    LineTime = Callable[[bytes], float | None]

#: Largest LogChunk sent (well under the protocol's MAX_FRAME).
CHUNK = 256 * 1024
#: Bytes read per step when scanning a file backwards for newlines.
SCAN_BLOCK = 64 * 1024
#: How long a reader waits for the output written so far to reach the file.
SETTLE_WAIT = 1.0


@dataclass
class _Segment:
    fd: int
    start: int
    end: int


@dataclass
class Tail:
    """Byte ranges of open files that together hold the last lines, oldest first; with
    ``json``, read back into the program's bytes."""

    segments: list[_Segment] = field(default_factory=list)
    json: bool = False
    _rest: bytes = b""

    def read(self, size: int = CHUNK) -> bytes:
        """The next bytes (at most ``size`` of the file); b"" at the end."""
        if not self.json:
            return self._read(size)
        while True:
            data = self._read(size)
            if not data:
                rest, self._rest = self._rest, b""
                item = jsonlines.decode(rest) if rest else None
                return item[1] if item is not None else rest
            data = self._rest + data
            cut = data.rfind(b"\n") + 1
            self._rest = data[cut:]
            if cut and (out := b"".join(map(_program_bytes, data[: cut - 1].split(b"\n")))):
                return out

    def _read(self, size: int) -> bytes:
        while self.segments:
            segment = self.segments[0]
            if segment.start < segment.end:
                data = os.pread(segment.fd, min(size, segment.end - segment.start), segment.start)
                if data:
                    segment.start += len(data)
                    return data
            os.close(segment.fd)
            self.segments.pop(0)
        return b""

    def close(self) -> None:
        for segment in self.segments:
            os.close(segment.fd)
        self.segments.clear()


def _scan_back(fd: int, end: int, wanted: int) -> tuple[int, int]:
    """Scan ``[0, end)`` backwards for ``wanted`` newlines; (start of what follows the last
    one found, or 0; how many were found)."""
    found = 0
    position = end
    while position > 0:
        begin = max(0, position - SCAN_BLOCK)
        block = os.pread(fd, position - begin, begin)
        if len(block) != position - begin:
            break  # the file shrank under us: take what we have
        count = block.count(b"\n")
        if found + count < wanted:
            found += count
            position = begin
            continue
        at = len(block)
        while found < wanted:
            at = block.rfind(b"\n", 0, at)
            found += 1
        return begin + at + 1, found
    return 0, found


def _program_bytes(line: bytes) -> bytes:
    item = jsonlines.decode(line)
    return item[1] if item is not None else line + b"\n"


def json_line_time(line: bytes) -> float | None:
    """The time of a JSON-lines log line; None if it has none."""
    item = jsonlines.decode(line)
    return item[0] if item is not None else None


def stamp_time(line: bytes) -> float | None:
    """The time of a line that ``timestamps`` prefixed (local time, to the millisecond: see
    ``files.RotatingFile._stamp``); None if it has none."""
    if len(line) < 24 or line[19:20] != b"." or line[23:24] != b" ":
        return None
    try:
        parsed = time.strptime(line[:19].decode("ascii"), "%Y-%m-%dT%H:%M:%S")
        millis = int(line[20:23])
    except ValueError:
        return None
    return time.mktime(parsed) + millis / 1000


def _scan_back_since(
    fd: int, end: int, wanted: int, since: float, line_time: LineTime
) -> tuple[int, int, bool]:
    """Scan ``[0, end)`` backwards, line by line, for at most ``wanted`` lines written at or
    after ``since``; (where the first of them starts, or ``end`` when none is; how many were
    found; whether an older line stopped the scan)."""
    found = 0
    start = end
    pieces: list[bytes] = []  # the line being read, its last piece first
    position = end
    while position > 0:
        begin = max(0, position - SCAN_BLOCK)
        block = os.pread(fd, position - begin, begin)
        if len(block) != position - begin:
            return start, found, True  # the file shrank under us: take what we have
        at = len(block)
        while (newline := block.rfind(b"\n", 0, at)) >= 0:
            pieces.append(block[newline + 1 : at])
            moment = line_time(b"".join(reversed(pieces)))
            if moment is None or moment < since:
                return start, found, True
            found += 1
            start = begin + newline + 1
            if found >= wanted:
                return start, found, False
            pieces = []
            at = newline
        pieces.append(block[:at])
        position = begin
    if end > 0:  # the file's first line
        moment = line_time(b"".join(reversed(pieces)))
        if moment is None or moment < since:
            return start, found, True
        return 0, found + 1, False
    return start, found, False


def open_tail(
    path: str,
    lines: int,
    *,
    backups: int,
    end: int | None = None,
    since: float | None = None,
    line_time: LineTime | None = None,
    json: bool = False,
) -> Tail:
    """The last ``lines`` lines of the log at ``path``, reading into its backups as needed;
    with ``since``, only of those written at or after it (by ``line_time``).

    ``end`` limits how much of the current file counts (its size at some earlier moment). A
    last line without its newline counts as a line. Files that are missing, symlinks or not
    regular files end the search; nothing here raises for them. ``json``: the files hold JSON
    lines, which the tail reads back into the program's bytes.
    """
    tail = Tail(json=json)
    if lines <= 0:
        return tail
    wanted = lines
    newest = True
    for name in [path, *(f"{path}.{n}" for n in range(1, backups + 1))]:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            break
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            break
        stop = info.st_size if end is None or not newest else min(end, info.st_size)
        scan_to = stop
        # The newline ending the last line is not a line boundary to count; in a backup it is,
        # counting the newer file's first line, except for the scan of timed lines, which
        # reads each file's lines on their own.
        if (newest or since is not None) and stop and os.pread(fd, 1, stop - 1) == b"\n":
            scan_to -= 1
        newest = False
        older = False
        if since is None:
            start, found = _scan_back(fd, scan_to, wanted)
        else:
            assert line_time is not None
            start, found, older = _scan_back_since(fd, scan_to, wanted, since, line_time)
            if start == scan_to:
                start = stop  # not even the last line: nothing of this file
        tail.segments.insert(0, _Segment(fd, start, stop))
        if found >= wanted or older:
            break
        wanted -= found
    return tail


async def send_logs(
    request: m.Logs, programs: Sequence[ProgramLogs], fanout: LogFanOut, send: Send
) -> None:
    """Answer a ``Logs`` request: see the module docstring and ``protocol.messages.Logs``."""
    rid = request.id
    streams = [s for p in programs for s in p.streams if request.stream in (None, s.stream)]
    if request.name is not None and not streams:
        # Nothing to tail or follow, ever: say why rather than stay silent.
        [program] = programs
        await send(m.End(id=rid, message=program.not_captured(request.stream)))
        return
    untimed = [s.writer.label for s in streams if not s.timed]
    if request.since is not None and untimed:
        raise BadRequest(
            f"since needs log lines that carry their time, and those of {', '.join(untimed)} "
            'do not (set log.timestamps = true or log.format = "json")'
        )
    names = None if request.name is None else (request.name,)
    with contextlib.ExitStack() as stack:
        follower = (
            stack.enter_context(fanout.follow(names, request.stream)) if request.follow else None
        )
        starts = [s.bytes_read for s in streams]  # taken with the subscription, no await between
        # One program's streams: its last lines over both, in the order they were written.
        single = request.name is not None and len(programs) == 1 and request.since is None
        order = programs[0].order if single else None
        if order is not None and len(streams) > 1:
            if request.lines:
                await _send_interleaved(streams, order, request, starts, follower, send)
        else:
            for stream, start in zip(streams, starts, strict=True):
                await _send_tail(stream, request, start, follower, send)
        if follower is None:
            await send(m.End(id=rid))
            return
        with contextlib.suppress(trio.EndOfChannel):
            while True:
                for message in _messages(await follower.receive(), rid):
                    await send(message)
    await send(m.End(id=rid, message="the daemon is shutting down"))


async def _send_tail(
    stream: LogStream, request: m.Logs, start: int, follower: LogFollower | None, send: Send
) -> None:
    if request.lines <= 0:
        return
    tail, held = await _open_tail(stream, request.lines, request.since, start, follower)
    rid = request.id
    try:
        while data := await trio.to_thread.run_sync(tail.read, CHUNK):
            await send(m.LogChunk(id=rid, program=stream.program, stream=stream.stream, data=data))
    finally:
        tail.close()
    if held:
        await send(m.LogChunk(id=rid, program=stream.program, stream=stream.stream, data=held))


async def _open_tail(
    stream: LogStream,
    lines: int,
    since: float | None,
    start: int,
    follower: LogFollower | None,
) -> tuple[Tail, bytes]:
    """The file part of a stream's last ``lines`` lines, and the bytes of an unfinished JSON
    line the writer holds back (sent after it); tells ``follower`` what the file part holds."""
    end = None
    held = b""
    with trio.move_on_after(SETTLE_WAIT):
        await stream.writer.wait_settled(start)
    mark = stream.writer.mark
    if mark is not None and mark.settled >= start and mark.generation == stream.file.generation:
        end = mark.size
        if mark.held and (since is None or mark.held_at >= since):
            held = mark.held
            lines -= 1
        if follower is not None:
            follower.skip(stream.program, stream.stream, mark.settled - start)
    json = stream.file.json is not None
    line_time = None if since is None else json_line_time if json else stamp_time
    tail = await trio.to_thread.run_sync(
        lambda: open_tail(
            stream.path,
            lines,
            backups=stream.file.backups,
            end=end,
            since=since,
            line_time=line_time,
            json=json,
        )
    )
    return tail, held


async def _send_interleaved(
    streams: Sequence[LogStream],
    order: LineOrder,
    request: m.Logs,
    starts: Sequence[int],
    follower: LogFollower | None,
    send: Send,
) -> None:
    """The last ``request.lines`` lines over all of one program's streams, in the order they
    arrived (``order.py``): each stream's share read from its file, then dealt out run by run;
    lines older than the order remembers come first, stream by stream."""
    plan = order.plan(request.lines)
    older = request.lines - plan.lines  # lines from before what the order remembers
    recent: dict[str, list[bytes]] = {}
    early: list[tuple[str, bytes]] = []
    unfinished: list[tuple[str, bytes]] = []
    for stream, start in zip(streams, starts, strict=True):
        share = plan.counts.get(stream.stream, 0)
        # One line more: the last may be unfinished (no newline yet), which comes last.
        tail, held = await _open_tail(stream, share + older + 1, None, start, follower)
        try:
            data = await trio.to_thread.run_sync(_read_all, tail)
        finally:
            tail.close()
        got = (data + held).splitlines(keepends=True)
        if got and not got[-1].endswith(b"\n"):
            unfinished.append((stream.stream, got.pop()))
        cut = max(len(got) - share, 0)
        recent[stream.stream] = got[cut:]
        if older > 0:
            early.extend((stream.stream, line) for line in got[max(cut - older, 0) : cut])
    picked = [*early[max(len(early) - older, 0) :], *deal(plan, recent), *unfinished]
    del picked[: max(len(picked) - request.lines, 0)]  # an unfinished line counts as one
    program = streams[0].program
    for name, data in runs(picked, CHUNK):
        await send(m.LogChunk(id=request.id, program=program, stream=_stream(name), data=data))


def _read_all(tail: Tail) -> bytes:
    return b"".join(iter(functools.partial(tail.read, CHUNK), b""))


def _messages(batch: list[LogPiece | LogGap], rid: int) -> Iterator[m.ServerMessage]:
    """Wire messages for a follower's batch: neighbouring pieces of one stream are joined into
    chunks of at most CHUNK bytes; a gap becomes a Lagged in its place."""
    pending: list[bytes] = []
    size = 0
    key: tuple[str, m.Stream] | None = None
    for item in batch:
        item_key = (item.program, _stream(item.stream))
        if isinstance(item, LogGap) or item_key != key or size + len(item.data) > CHUNK:
            if key is not None:
                yield from _chunks(key, pending, rid)
            pending, size, key = [], 0, None
        if isinstance(item, LogGap):
            yield m.Lagged(id=rid, program=item.program, stream=item_key[1], dropped=item.dropped)
            continue
        pending.append(item.data)
        size += len(item.data)
        key = item_key
    if key is not None:
        yield from _chunks(key, pending, rid)


def _chunks(key: tuple[str, m.Stream], pieces: list[bytes], rid: int) -> Iterator[m.LogChunk]:
    data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    for at in range(0, len(data), CHUNK):
        yield m.LogChunk(id=rid, program=key[0], stream=key[1], data=data[at : at + CHUNK])


def _stream(name: str) -> m.Stream:
    return "stderr" if name == "stderr" else "stdout"
