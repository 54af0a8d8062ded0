"""Tasks sharing one AsyncClient connection: a call is answered while other tasks follow quiet
streams on it (events, a silent program's log) and take turns at reading."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
import trio.testing

from svctl import AsyncClient
from tests.daemon_harness import running

if TYPE_CHECKING:
    from pathlib import Path

QUIET = '[programs.quiet]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def test_a_call_is_answered_while_two_quiet_streams_share_its_connection(
    tmp_path: Path,
) -> None:
    with running(tmp_path, QUIET) as daemon:
        async with (
            AsyncClient(daemon.socket, timeout=5) as client,
            client.events() as events,
            client.logs("quiet", lines=1, follow=True) as logs,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(_drain, events)
            nursery.start_soon(_drain, logs)
            # One follower reads (and nothing comes), the other waits for its turn; the call
            # below comes after both, and its reply arrives in the first one's read.
            await trio.testing.wait_all_tasks_blocked(cushion=0.2)
            with trio.fail_after(20):
                for _ in range(3):
                    [status] = await client.status("quiet")
                    assert status.name == "quiet"
            nursery.cancel_scope.cancel()
