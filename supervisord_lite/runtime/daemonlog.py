"""The daemon's own log: one line per event on stderr, where systemd and containers collect it."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("supervisord-lite")


def configure(level: int = logging.INFO) -> None:
    """Send the daemon's log lines to stderr (once)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
