"""Write a known byte stream to stdout (or stderr) as fast as possible, then exit.

Usage: flood.py TOTAL_BYTES [--line N] [--write N] [--pause S] [--stderr] [--ready PATH] [--exit N]

The stream is ``TOTAL_BYTES`` of ``--line``-byte lines (default 100), each starting with its
10-digit line number, written ``--write`` bytes at a time (default 1,000,000). ``expected()``
rebuilds the same stream, so a test can compare checksums. With ``--ready PATH`` the whole
stream is built first, PATH is created, and the writing starts at SIGUSR1: a benchmark then
times only the writing. ``--pause`` sleeps between writes (a steady rather than a flat-out
writer).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

_FILL = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" * 64


def lines(total: int, line: int = 100) -> Iterator[bytes]:
    """The stream, in pieces of about 1 MB (whole lines, the last one maybe cut)."""
    body = line - 12  # "%010d " + body + "\n"
    if body < 0:
        raise ValueError("a line holds at least 12 bytes")
    fill = (_FILL * (body // len(_FILL) + 1))[:body]
    per_piece = max(1, 1_000_000 // line)
    number = 0
    left = total
    while left > 0:
        count = min(per_piece, -(-left // line))
        piece = b"".join(b"%010d %s\n" % (number + i, fill) for i in range(count))
        number += count
        piece = piece[:left]
        left -= len(piece)
        yield piece


def expected(total: int, line: int = 100) -> str:
    """sha256 hex digest of the stream ``flood.py total --line line`` writes."""
    digest = hashlib.sha256()
    for piece in lines(total, line):
        digest.update(piece)
    return digest.hexdigest()


def _chunks(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    pending = bytearray()
    for piece in pieces:
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("total", type=int)
    parser.add_argument("--line", type=int, default=100)
    parser.add_argument("--write", type=int, default=1_000_000)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--stderr", action="store_true")
    parser.add_argument("--ready")
    parser.add_argument("--exit", type=int, default=0)
    args = parser.parse_args()
    fd = 2 if args.stderr else 1
    chunks: Iterator[bytes] = _chunks(lines(args.total, args.line), args.write)
    if args.ready:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        prepared = list(chunks)
        chunks = iter(prepared)
        with open(args.ready, "w"):
            pass
        signal.sigwait({signal.SIGUSR1})
    for chunk in chunks:
        _write_all(fd, chunk)
        if args.pause:
            time.sleep(args.pause)
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
