"""Print some lines, then a last line, then die of a signal before any cleanup.

Usage: printer_then_crash.py [LINES] [LAST] [SIGNAL]

Writes LINES numbered lines (default 100) and the line LAST (default "last words") straight to
fd 1 with os.write (no Python buffering to flush), then kills itself with SIGNAL (default KILL).
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    last = sys.argv[2] if len(sys.argv) > 2 else "last words"
    signame = sys.argv[3] if len(sys.argv) > 3 else "KILL"
    for i in range(count):
        os.write(1, b"line %d\n" % i)
    os.write(1, last.encode() + b"\n")
    os.kill(os.getpid(), signal.Signals[f"SIG{signame}"])


if __name__ == "__main__":
    main()
