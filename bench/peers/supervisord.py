"""supervisord 4.3, driven through XML-RPC on its Unix socket (supervisor's own transport)."""

from __future__ import annotations

import shlex
import time
import xmlrpc.client
from typing import TYPE_CHECKING, Any, ClassVar

from bench.peers.base import BenchTimeout, Peer, Proc, Program

if TYPE_CHECKING:
    from pathlib import Path

# supervisor.xmlrpc.Faults
_ALREADY_STARTED = 60
_NOT_RUNNING = 70


def _escape(text: str) -> str:
    return text.replace("%", "%%")


class Supervisord(Peer):
    name = "supervisord"
    unsupported: ClassVar[dict[str, str]] = {
        "push": (
            "no push over its client API: events go only to eventlistener programs it runs "
            "itself, over their stdin"
        ),
    }

    def __init__(self, workdir: Path, marker: str, peers_bin: Path | None) -> None:
        super().__init__(workdir, marker, peers_bin)
        self.config = workdir / "supervisord.conf"
        self.socket = str(workdir / "sv.sock")
        self.rpc: Any = None

    def write_config(self, programs: list[Program]) -> None:
        self.programs = programs
        w = self.workdir
        (w / "childlogs").mkdir(exist_ok=True)
        lines = [
            "[unix_http_server]",
            f"file={self.socket}",
            "chmod=0700",
            "[supervisord]",
            f"logfile={w / 'supervisord.log'}",
            f"pidfile={w / 'supervisord.pid'}",
            f"childlogdir={w / 'childlogs'}",
            "nodaemon=true",
            "loglevel=info",
            "minfds=1024",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]",
            f"serverurl=unix://{self.socket}",
        ]
        for p in programs:
            group = "true" if p.group_kill else "false"
            lines += [
                f"[program:{p.name}]",
                f"command={_escape(shlex.join(p.argv))}",
                f"autostart={'true' if p.autostart else 'false'}",
                f"autorestart={'true' if p.autorestart else 'false'}",
                # whole seconds only: supervisord's parser takes integers
                f"startsecs={round(p.startsecs)}",
                f"stopwaitsecs={max(1, round(p.stop_timeout))}",
                f"stopasgroup={group}",
                f"killasgroup={group}",
                "startretries=0",
            ]
            if p.env:
                pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in p.env.items())
                lines.append(f"environment={pairs}")
            if p.stdout is not None:
                lines += [f"stdout_logfile={p.stdout}", "stdout_logfile_maxbytes=0"]
        self.config.write_text("\n".join(lines) + "\n")

    def daemon_argv(self) -> list[str]:
        assert self.peers_bin is not None
        return [str(self.peers_bin / "supervisord"), "-n", "-c", str(self.config)]

    def _proxy(self) -> Any:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def connect(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            rpc = self._proxy()  # a transport that failed once stays out of step: a new one
            try:
                if rpc.supervisor.getState()["statecode"] == 1:
                    self.rpc = rpc
                    return
            except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
                pass
            if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                raise BenchTimeout("supervisord: not answering")
            time.sleep(0.005)

    @staticmethod
    def _proc(info: dict[str, Any]) -> Proc:
        state = info["statename"]
        return Proc(
            name=info["name"],
            state=state,
            pid=info["pid"] or None,
            exit_code=info["exitstatus"] if state in ("EXITED", "BACKOFF", "FATAL") else None,
        )

    def status_all(self) -> dict[str, Proc]:
        return {i["name"]: self._proc(i) for i in self.rpc.supervisor.getAllProcessInfo()}

    def status_one(self, name: str) -> Proc:
        return self._proc(self.rpc.supervisor.getProcessInfo(name))

    def start_all(self, wait: bool) -> None:
        self.rpc.supervisor.startAllProcesses(wait)

    def stop_all(self, wait: bool) -> None:
        self.rpc.supervisor.stopAllProcesses(wait)

    def start(self, name: str, wait: bool) -> None:
        try:
            self.rpc.supervisor.startProcess(name, wait)
        except xmlrpc.client.Fault as exc:
            if exc.faultCode != _ALREADY_STARTED:
                raise

    def stop(self, name: str, wait: bool) -> None:
        try:
            self.rpc.supervisor.stopProcess(name, wait)
        except xmlrpc.client.Fault as exc:
            if exc.faultCode != _NOT_RUNNING:
                raise

    def request_shutdown(self) -> None:
        self.rpc.supervisor.shutdown()

    def prepare_shutdown(self) -> None:
        # Its graceful shutdown stops one group per 1 s pass (peers.md): stop all first.
        self.rpc.supervisor.stopAllProcesses(True)

    def cli_status_argv(self) -> list[str]:
        assert self.peers_bin is not None
        return [str(self.peers_bin / "supervisorctl"), "-c", str(self.config), "status"]

    def close_client(self) -> None:
        self.rpc = None
