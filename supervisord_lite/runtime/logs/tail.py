"""What a log reader gets: the last lines from the files, then the live output.

``open_tail`` finds where the last N lines of a log start, counting newlines backwards from the
end of the current file and on into its rotated backups (``path.1``, ``path.2``...) when the
current file holds fewer; it reads each byte at most once and keeps the files open, so a
rotation while the tail is being sent does not change what is sent. It is plain file reading,
run in a worker thread.

``send_logs`` serves a ``Logs`` request. With ``follow`` it subscribes to the live output
*before* it reads the files, then waits (briefly) until what the program wrote up to that moment
is in the file, and tells the follower to skip the bytes that the file part already holds: the
reader gets the tail and then the live output with no gap and no repeat in between (barring
bytes a policy dropped). Live output arrives in ``LogChunk`` messages of at most ``CHUNK`` bytes,
with a ``Lagged`` wherever this reader fell behind and missed output.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from supervisord_lite.protocol import messages as m
from supervisord_lite.runtime.logs.fanout import LogGap, LogPiece

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

    from supervisord_lite.runtime.logs.fanout import LogFanOut, LogFollower
    from supervisord_lite.runtime.logs.streams import LogStream, ProgramLogs

    Send = Callable[[m.ServerMessage], Awaitable[None]]

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
    """Byte ranges of open files that together hold the last lines, oldest first."""

    segments: list[_Segment] = field(default_factory=list)

    def read(self, size: int = CHUNK) -> bytes:
        """The next at most ``size`` bytes; b"" at the end."""
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


def open_tail(path: str, lines: int, *, backups: int, end: int | None = None) -> Tail:
    """The last ``lines`` lines of the log at ``path``, reading into its backups as needed.

    ``end`` limits how much of the current file counts (its size at some earlier moment). A
    last line without its newline counts as a line. Files that are missing, symlinks or not
    regular files end the search; nothing here raises for them.
    """
    tail = Tail()
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
        if newest and stop and os.pread(fd, 1, stop - 1) == b"\n":
            scan_to -= 1  # the newline ending the last line is not a line boundary to count
        newest = False
        start, found = _scan_back(fd, scan_to, wanted)
        tail.segments.insert(0, _Segment(fd, start, stop))
        if found >= wanted:
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
    names = None if request.name is None else (request.name,)
    with contextlib.ExitStack() as stack:
        follower = (
            stack.enter_context(fanout.follow(names, request.stream)) if request.follow else None
        )
        starts = [s.bytes_read for s in streams]  # taken with the subscription, no await between
        for stream, start in zip(streams, starts, strict=True):
            await _send_tail(stream, request.lines, start, follower, rid, send)
        if follower is None:
            await send(m.End(id=rid))
            return
        with contextlib.suppress(trio.EndOfChannel):
            while True:
                for message in _messages(await follower.receive(), rid):
                    await send(message)
    await send(m.End(id=rid, message="the daemon is shutting down"))


async def _send_tail(
    stream: LogStream,
    lines: int,
    start: int,
    follower: LogFollower | None,
    rid: int,
    send: Send,
) -> None:
    if lines <= 0:
        return
    end = None
    with trio.move_on_after(SETTLE_WAIT):
        await stream.writer.wait_settled(start)
    settled, generation, size = stream.writer.mark
    if settled >= start and generation == stream.file.generation:
        end = size
        if follower is not None:
            follower.skip(stream.program, stream.stream, settled - start)
    tail = await trio.to_thread.run_sync(
        lambda: open_tail(stream.path, lines, backups=stream.file.backups, end=end)
    )
    try:
        while data := await trio.to_thread.run_sync(tail.read, CHUNK):
            await send(m.LogChunk(id=rid, program=stream.program, stream=stream.stream, data=data))
    finally:
        tail.close()


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
