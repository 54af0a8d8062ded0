"""circus 0.19, driven through its own client (``circus.client.CircusClient``, zmq ipc://)."""

from __future__ import annotations

import json
import shlex
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from bench.peers.base import BenchTimeout, Event, Peer, Proc, Program

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_STATES = {
    "active": "RUNNING",
    "stopped": "STOPPED",
    "starting": "STARTING",
    "stopping": "STOPPING",
}


class CircusCallError(RuntimeError):
    pass


class Circus(Peer):
    name = "circus"
    unsupported: ClassVar[dict[str, str]] = {
        "exit_code_in_status": (
            "a status reply has no exit code: it is only published on the pub/sub stream "
            "(watcher.NAME.reap)"
        ),
    }

    def __init__(self, workdir: Path, marker: str, peers_bin: Path | None) -> None:
        super().__init__(workdir, marker, peers_bin)
        self.config = workdir / "circus.ini"
        self.endpoint = f"ipc://{workdir / 'c.sock'}"
        self.pubsub = f"ipc://{workdir / 'p.sock'}"
        self.client: Any = None

    def write_config(self, programs: list[Program]) -> None:
        self.programs = programs
        lines = [
            "[circus]",
            f"endpoint = {self.endpoint}",
            f"pubsub_endpoint = {self.pubsub}",
            "statsd = False",
            f"logoutput = {self.workdir / 'circus.log'}",
            "loglevel = info",
        ]
        for p in programs:
            lines += [
                f"[watcher:{p.name}]",
                f"cmd = {shlex.join(p.argv)}",
                "numprocesses = 1",
                f"autostart = {'true' if p.autostart else 'false'}",
                f"respawn = {'true' if p.autorestart else 'false'}",
                f"graceful_timeout = {p.stop_timeout:g}",
                f"stop_children = {'true' if p.group_kill else 'false'}",
                "copy_env = true",
                "warmup_delay = 0",
            ]
            if p.stdout is not None:
                lines += [
                    "stdout_stream.class = FileStream",
                    f"stdout_stream.filename = {p.stdout}",
                    "stdout_stream.max_bytes = 0",
                ]
            if p.env:
                lines.append(f"[env:{p.name}]")
                lines += [f"{k} = {v}" for k, v in p.env.items()]
        self.config.write_text("\n".join(lines) + "\n")

    def daemon_argv(self) -> list[str]:
        assert self.peers_bin is not None
        return [str(self.peers_bin / "circusd"), str(self.config)]

    def _call(self, command: str, timeout: float | None = None, **props: Any) -> dict[str, Any]:
        from circus.client import make_message

        client = self.client
        if timeout is not None:
            client.timeout = timeout * 1000
        try:
            reply: dict[str, Any] = client.call(make_message(command, **props))
        finally:
            client.timeout = client._timeout * 1000
        if reply.get("status") == "error":
            raise CircusCallError(f"circus {command}: {reply.get('reason')}")
        return reply

    def connect(self, timeout: float) -> None:
        from circus.client import CircusClient
        from circus.exc import CallError

        deadline = time.monotonic() + timeout
        self.client = CircusClient(endpoint=self.endpoint, timeout=60.0)
        while True:
            try:
                self._call("status", timeout=0.2)
                return
            except CallError:
                pass
            if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                raise BenchTimeout("circus: not answering")
            time.sleep(0.005)

    def status_all(self) -> dict[str, Proc]:
        statuses = self._call("status")["statuses"]
        return {n: Proc(name=n, state=_STATES.get(s, s)) for n, s in statuses.items()}

    def status_one(self, name: str) -> Proc:
        s = self._call("status", name=name)["status"]
        return Proc(name=name, state=_STATES.get(s, s))

    def start_all(self, wait: bool) -> None:
        self._call("start", waiting=wait)

    def stop_all(self, wait: bool) -> None:
        self._call("stop", waiting=wait)

    def start(self, name: str, wait: bool) -> None:
        self._call("start", name=name, waiting=wait)

    def stop(self, name: str, wait: bool) -> None:
        self._call("stop", name=name, waiting=wait)

    def request_shutdown(self) -> None:
        self._call("quit", waiting=False)

    def pids_of(self, name: str) -> list[int]:
        return [int(p) for p in self._call("list", name=name).get("pids", [])]

    def cli_status_argv(self) -> list[str]:
        assert self.peers_bin is not None
        return [str(self.peers_bin / "circusctl"), "--endpoint", self.endpoint, "status"]

    def subscribe(self, on_event: Callable[[Event], None]) -> Callable[[], None]:
        import zmq

        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(self.pubsub)
        sub.setsockopt(zmq.SUBSCRIBE, b"watcher.")
        stopping = threading.Event()

        def pump() -> None:
            poller = zmq.Poller()
            poller.register(sub, zmq.POLLIN)
            while not stopping.is_set():
                if not poller.poll(100):
                    continue
                topic, body = sub.recv_multipart()
                now = time.monotonic()
                parts = topic.decode().split(".")
                if len(parts) == 3 and parts[2] == "reap":
                    code = json.loads(body).get("exit_code")
                    on_event(Event(now, parts[1], "EXITED", code))
            sub.close()

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        time.sleep(0.2)  # a zmq SUB misses what is published before it has connected

        def stop() -> None:
            stopping.set()
            thread.join(2.0)
            ctx.term()

        return stop

    def close_client(self) -> None:
        if self.client is not None:
            self.client.stop()
            self.client = None
