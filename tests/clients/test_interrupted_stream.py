"""Ctrl-C in the middle of reading a stream (``svctl events``, ``logs -f``).

A KeyboardInterrupt is raised between two bytecodes, wherever the blocking client happens to be:
after ``recv`` returned bytes and before the session read them all, say. The connection's byte
stream is then out of step, so leaving the stream's ``with`` block must give the connection up
rather than ask the daemon to end the stream and wait for an answer that cannot be read; the
interrupt goes on at once, and the client's next call opens a new connection.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from svctl import Client

if TYPE_CHECKING:
    from tests.daemon_harness import Daemon


def test_ctrl_c_halfway_through_a_read_gives_the_connection_up(running_daemon: Daemon) -> None:
    with Client(running_daemon.socket, timeout=3) as client, Client(running_daemon.socket) as other:
        client.wait("web", timeout=10)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt), client.events() as events:  # noqa: PT012
            session = client._session
            assert session is not None
            receive = session.receive_data

            def interrupted(data: bytes) -> None:
                session.receive_data = receive  # type: ignore[method-assign]
                receive(data[: max(1, len(data) // 2)])  # half read, then Ctrl-C
                raise KeyboardInterrupt

            session.receive_data = interrupted  # type: ignore[method-assign]
            other.restart("web", wait=False)  # some events to read
            started = time.monotonic()
            for _ in events:
                pass
        assert time.monotonic() - started < 2.5, "the interrupt waited on the daemon"
        assert client.status("web")[0].name == "web"  # on a new connection


def test_ctrl_c_halfway_through_an_answer_leaves_the_next_call_a_sound_connection(
    running_daemon: Daemon,
) -> None:
    with Client(running_daemon.socket, timeout=3) as client:
        client.ping()
        session = client._session
        assert session is not None
        receive = session.receive_data

        def interrupted(data: bytes) -> None:
            session.receive_data = receive  # type: ignore[method-assign]
            receive(data[: max(1, len(data) // 2)])
            raise KeyboardInterrupt

        session.receive_data = interrupted  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            client.status()
        assert {p.name for p in client.status()} >= {"web", "worker"}
