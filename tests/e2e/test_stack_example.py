"""examples/stack.toml comes up in dependency order and goes down the other way."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

from svctl import Client
from tests.daemon_harness import ROOT, start_daemon, stop_daemon

if TYPE_CHECKING:
    from pathlib import Path


def test_the_example_stack_starts_in_dependency_order(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(
        ROOT / "examples", examples, ignore=shutil.ignore_patterns("run", "state", "logs")
    )
    config = examples / "stack.toml"
    daemon = start_daemon(config, socket=str(examples / "run" / "stack.sock"))
    try:
        with Client(daemon.socket, timeout=60) as client:
            results = client.wait("db", "web", "worker", ready=True, timeout=50)
            assert all(r.ok for r in results), (results, daemon.log())
            [migrate] = client.status("migrate")
            assert (migrate.state.value, migrate.exit_code) == ("EXITED", 0)
            [db] = client.status("db")
            assert db.notify_status is not None
            assert db.notify_status.startswith("accepting connections")
            client.shutdown(wait=True)
        daemon.process.wait(timeout=30)
    finally:
        stop_daemon(daemon)
    log = daemon.log()
    starts = list(dict.fromkeys(re.findall(r"INFO (\w+): STOPPED -> STARTING", log)))
    assert starts == ["db", "migrate", "web", "worker"]
    stops = list(dict.fromkeys(re.findall(r"INFO (\w+): RUNNING -> STOPPING", log)))
    assert stops == ["worker", "web", "db"]
