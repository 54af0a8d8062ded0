"""Replies tell the truth under concurrent requests.

Fifty clients send start, stop and restart to one program at once, round after round, to an
in-process supervisor running a real process. The test records the order in which the requests
are sent and which were sent before each reply came; each reply is then held to what happened:

- a start or restart that succeeded is RUNNING, and a stop that succeeded is STOPPED;
- a start or restart told "stopped before it was running" had a stop sent after it;
- a stop told "started again before it stopped" had a start or restart sent after it;
- once every reply is in, the program is in the state the last request asked for.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import trio

from supervisord_lite.protocol.messages import ActionResult, ProgramState
from tests.supervisor_harness import supervising

if TYPE_CHECKING:
    from pathlib import Path

    from supervisord_lite.runtime.supervisor import Supervisor

CLIENTS = 50
ROUNDS = 12

PROGRAM = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0.02
stop_timeout = 5
log = { stdout = "none", stderr = "none" }
"""

UP = {"start", "restart"}


async def _round(supervisor: Supervisor, rng: random.Random) -> None:
    sent: list[str] = []
    #: For each request: how many requests had been sent when its reply came.
    seen: dict[int, int] = {}
    replies: dict[int, ActionResult] = {}

    async def client(op: str, delay: float) -> None:
        await trio.sleep(delay)
        index = len(sent)
        sent.append(op)  # the request is sent before this task next yields
        (replies[index],) = await getattr(supervisor, op)(["web"])
        seen[index] = len(sent)

    async with trio.open_nursery() as nursery:
        for _ in range(CLIENTS):
            op = rng.choice(["start", "stop", "restart"])
            nursery.start_soon(client, op, rng.choice([0, 0, 0.001, 0.005, 0.02, 0.05]))

    for index, op in enumerate(sent):
        reply = replies[index]
        later = sent[index + 1 : seen[index]]
        context = f"request {index} ({op}) of {sent}: {reply}"
        if op in UP:
            if reply.ok:
                assert reply.state is ProgramState.RUNNING, context
            else:
                assert reply.message == "stopped before it was running", context
                assert "stop" in later, context
        elif reply.ok:
            assert reply.state is ProgramState.STOPPED, context
        else:
            assert reply.message == "started again before it stopped", context
            assert UP & set(later), context
    wanted = ProgramState.RUNNING if sent[-1] in UP else ProgramState.STOPPED
    assert supervisor.runners["web"].snapshot.state is wanted, sent


async def test_fifty_clients_get_true_replies(tmp_path: Path) -> None:
    rng = random.Random(1)
    with trio.fail_after(50):
        async with supervising(tmp_path, PROGRAM) as supervisor:
            for _ in range(ROUNDS):
                await _round(supervisor, rng)
