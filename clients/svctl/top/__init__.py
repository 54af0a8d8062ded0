"""``svctl top``: a live full-screen view of the daemon's programs (docs/top.md).

Built on Textual, which only this package imports (``import svctl.cli`` does not load it):
:mod:`svctl.top.model` holds what is shown, :mod:`svctl.top.app` the screen and the feed
from the daemon, :mod:`svctl.top.dialogs` the questions asked before acting.
"""

from __future__ import annotations

import os
import sys

__all__ = ["run"]


def run(socket_path: str, *, read_only: bool = False, timeout: float | None = 10.0) -> int:
    """Show the view until the user quits; the exit status (2 without a terminal or without
    Textual). ``read_only`` asks the daemon for connections that may only look; ``timeout``
    bounds connecting and each request (not the streams).

    Colour follows the terminal: none with ``NO_COLOR`` set, or when standard output is not
    a terminal.
    """
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        print("svctl: top needs a terminal (try svctl status, or svctl events)", file=sys.stderr)
        return 2
    try:
        from svctl.top.app import TopApp
    except ModuleNotFoundError as exc:
        if exc.name not in {"textual", "rich"}:
            raise
        print("svctl: top needs Textual: pip install 'supervisord-lite[top]'", file=sys.stderr)
        return 2
    if not sys.stdout.isatty():
        # Textual draws on stderr; output sent elsewhere still means a plain view.
        os.environ.setdefault("NO_COLOR", "1")
    app = TopApp(socket_path, read_only=read_only, timeout=timeout)
    code = app.run()
    return code if code is not None else 0
