"""The event log and webhooks through a real daemon and the real ``svctl``: a kill -9 of the
daemon loses no event for a hook (it resumes from its stored cursor; repeats allowed, each with
its seq), and ``svctl events --since`` / ``svctl webhooks`` read the same log."""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING

from svctl import Client, Missed, ProgramState
from tests.daemon_harness import start_daemon, stop_daemon, svctl, write_config
from tests.webhook_receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path

PROGRAM = """\
[programs.job]
command = ["sh", "-c", "exit 3"]
autostart = false
autorestart = "never"
start_seconds = 0
"""


def _hook(receiver: Receiver) -> str:
    return f"""
[[webhooks]]
name = "ops"
url = "{receiver.url}"
retry_initial = 0.05
retry_max = 0.2
"""


def _logged(socket: str) -> list[int]:
    with Client(socket, timeout=20) as client, client.events(since=0, follow=False) as events:
        return [e.seq for e in events if not isinstance(e, Missed)]


def test_a_hook_loses_no_event_when_the_daemon_is_killed(tmp_path: Path) -> None:
    with Receiver() as receiver:
        receiver.status = 503  # down: events pile up in the log, not in memory
        config = write_config(tmp_path, PROGRAM + _hook(receiver))
        first = start_daemon(config)
        try:
            with Client(first.socket, timeout=20) as client:
                for _ in range(3):
                    client.start("job")
                    client.wait("job", state=ProgramState.EXITED, timeout=20)
                [hook] = client.webhooks()
            assert hook.delivered == 0
            assert hook.lag > 0
            before = _logged(first.socket)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=10)
        finally:
            stop_daemon(first, grace=0)
        receiver.status = 200
        second = start_daemon(config)
        try:
            after = _logged(second.socket)
            got = receiver.wait_for(lambda d: {x.seq for x in d} >= set(after))
            listed = svctl(second, "webhooks", "--json")
            replay = svctl(second, "events", "--since", "-2", "--json")
        finally:
            stop_daemon(second)
    assert set(before) <= set(after)
    seqs = [d.seq for d in got]
    assert seqs == sorted(seqs)  # in order; a repeat sits next to its first delivery
    assert all(d.event()["seq"] == d.seq for d in got)
    assert listed.returncode == 0, listed.stderr
    [shown] = json.loads(listed.stdout)
    assert shown["name"] == "ops"
    assert shown["delivered"] >= len(set(after) - set(before))
    lines = [json.loads(line) for line in replay.stdout.splitlines()]
    assert replay.returncode == 0, replay.stderr
    assert len(lines) == 2
    assert lines[1]["seq"] == lines[0]["seq"] + 1
