"""``[daemon].history_runs`` bounds what the running daemon keeps of a program's history."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from svctl import Client
from tests.daemon_harness import running

if TYPE_CHECKING:
    from pathlib import Path

FLAPPING = """\
[programs.flapper]
command = ["sh", "-c", "exit 0"]
autorestart = "always"
start_seconds = 0
backoff = { initial = 0.01, floor = 0.01, max = 0.01 }
"""


def test_a_restarting_program_keeps_only_its_newest_runs(tmp_path: Path) -> None:
    with (
        running(tmp_path, FLAPPING, daemon_extra="history_runs = 2\n") as daemon,
        Client(daemon.socket) as client,
    ):
        deadline = time.monotonic() + 20
        seen: set[int] = set()
        while len(seen) < 6:  # enough runs went by that pruning had to happen
            assert time.monotonic() < deadline, seen
            seen |= {e.run_id for e in client.history("flapper", 1000) if e.run_id is not None}
            time.sleep(0.05)
        runs = {e.run_id for e in client.history("flapper", 1000) if e.run_id is not None}
        assert 1 <= len(runs) <= 3  # the two kept, and perhaps one spawned since the last end
        assert min(runs) > min(seen)
