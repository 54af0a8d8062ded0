"""``svctl top``: a live full-screen view of the daemon's programs (docs/top.md).

Built on Textual, which only this package imports (``import svctl.cli`` does not load it):
:mod:`svctl.top.model` holds what is shown, :mod:`svctl.top.app` the screen and the feed
from the daemon, :mod:`svctl.top.dialogs` the questions asked before acting.
"""

from __future__ import annotations

import os
import sys

__all__ = ["run"]


def run(socket_path: str) -> int:
    """Show the view until the user quits; the exit status (2 without a terminal).

    Colour follows the terminal: none with ``NO_COLOR`` set, or when standard output is not
    a terminal.
    """
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        print("svctl: top needs a terminal (try svctl status, or svctl events)", file=sys.stderr)
        return 2
    if not sys.stdout.isatty():
        # Textual draws on stderr; output sent elsewhere still means a plain view.
        os.environ.setdefault("NO_COLOR", "1")

    from svctl.top.app import TopApp

    app = TopApp(socket_path)
    code = app.run()
    return code if code is not None else 0
