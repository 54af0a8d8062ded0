"""Generate the blocking client from the async one: ``python -m tests.clients.unasync``.

``clients/svctl/_async_client.py`` is the one source of both clients (the way httpcore
generates its sync code with unasync); this turns it into ``_sync_client.py`` with a table
of whole-word substitutions, then sorts its imports and formats it with ruff. :func:`check`
(run by ``test_unasync.py``) fails when the file on disk is not what the source gives;
``--check`` exits 1 in that case instead of writing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "clients" / "svctl" / "_async_client.py"
TARGET = ROOT / "clients" / "svctl" / "_sync_client.py"

SUBSTITUTIONS = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\bAsyncClient\b", "Client"),
    (r"\bAsyncPushStream\b", "SyncPushStream"),
    (r"\bAsyncTransport\b", "SyncTransport"),
    (r"\b_async_io\b", "_sync_io"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\baclose\b", "close"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"``async with``", "``with``"),
    (r"  # noqa: ASYNC109[^\n]*", ""),
    # What only the blocking client does (open a stream before handing it out, where the async
    # one opens it on ``async with``), written in the source as a comment.
    (r"# sync-only: ", ""),
]

DOCSTRING = '''"""``svctl.Client``: the blocking client, generated from ``_async_client.py``.

Edit ``_async_client.py`` (whose docstring explains both clients: time limits, abandoned
calls), then run ``python -m tests.clients.unasync``. Its I/O is ``_sync_io.py``: one
``AF_UNIX`` socket with a deadline on every operation. Not thread-safe: use one Client per
thread; the one exception is closing a stream from another thread, which wakes its reader.
"""'''


def generate(source: str) -> str:
    """The blocking client for the async client's ``source``."""
    text = re.sub(r'\A""".*?"""', lambda _: DOCSTRING, source, count=1, flags=re.DOTALL)
    for pattern, replacement in SUBSTITUTIONS:
        text = re.sub(pattern, replacement, text)
    return _formatted(text)


def _formatted(text: str) -> str:
    """``text`` with its imports sorted, as ``ruff format`` leaves it (the new names sort
    differently, and dropping ``await`` shortens lines)."""
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        text = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--stdin-filename", str(TARGET), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=ROOT,
        ).stdout
    return text


def check() -> bool:
    """Whether ``_sync_client.py`` is what the async source gives."""
    return TARGET.read_text() == generate(SOURCE.read_text())


def main(argv: list[str]) -> int:
    if "--check" in argv:
        return 0 if check() else 1
    TARGET.write_text(generate(SOURCE.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
