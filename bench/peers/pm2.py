"""PM2 7 (npm's ``pm2``), driven through its own API by a long-lived Node helper.

The daemon is PM2's God daemon (``lib/Daemon.js``) run in the foreground with its own
``PM2_HOME`` in the trial's dir. The client is ``pm2_helper.js``: one Node process, started
beside the daemon, that calls ``require('pm2')``'s API and answers JSON lines on a pipe; a
request costs a pipe round trip to it on top of PM2's RPC. PM2 keeps its apps in the daemon's
memory, not in a config it reads: a boot is the daemon plus the client registering the
autostart apps from ``ecosystem.json``; an app that is not autostart is registered on its first
start (PM2 cannot start an app registered with ``autostart: false``: Unitech/pm2#5831).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

from bench import procs
from bench.peers.base import BenchTimeout, Peer, Proc, Program
from bench.system_peers import node, pm2_bin, pm2_package

HELPER = Path(__file__).resolve().parent / "pm2_helper.js"
_STATES = {
    "online": "RUNNING",
    "launching": "STARTING",
    "stopping": "STOPPING",
    "stopped": "STOPPED",
    "errored": "FATAL",
    "waiting restart": "BACKOFF",
    "one-launch-status": "EXITED",
}
NOT_REGISTERED = "not registered (autostart=false, never started)"


class PM2CallError(RuntimeError):
    pass


class PM2(Peer):
    name = "pm2"
    unsupported: ClassVar[dict[str, str]] = {
        "push": (
            "not measured: PM2 publishes process events on its bus (launchBus, "
            "'process:event'); the bench's helper does not subscribe to it"
        ),
    }

    def __init__(self, workdir: Path, marker: str, peers_bin: Path | None) -> None:
        super().__init__(workdir, marker, peers_bin)
        self.home = workdir / "pm2"
        self.ecosystem = workdir / "ecosystem.json"
        self.node = node() or "node"
        self.helper: subprocess.Popen[bytes] | None = None
        self._replies = -1
        self._buffer = b""
        self._next_id = 0
        self._connected = False
        self._registered: set[str] = set()
        self._booted = False

    # -- set-up -----------------------------------------------------------------------------

    def _app(self, p: Program) -> dict[str, Any]:
        app: dict[str, Any] = {
            "name": p.name,
            "script": p.argv[0],
            "args": list(p.argv[1:]),
            "interpreter": "none",
            "exec_mode": "fork",
            "instances": 1,
            "cwd": str(self.workdir),
            "autorestart": p.autorestart,
            "kill_timeout": round(p.stop_timeout * 1000),
            "treekill": p.group_kill,
            "env": dict(p.env),
        }
        if p.stdout is not None:
            app.update(out_file=p.stdout, error_file="/dev/null", merge_logs=True)
        return app

    def write_config(self, programs: list[Program]) -> None:
        self.programs = programs
        for sub in ("", "logs", "pids", "modules"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.ecosystem.write_text(json.dumps({"apps": [self._app(p) for p in programs]}))

    def daemon_env(self) -> dict[str, str]:
        # PM2 7.0 stops with the daemon-wide PM2_KILL_SIGNAL (default SIGINT), not the app's
        # kill_signal; every other peer sends SIGTERM
        return {"PM2_HOME": str(self.home), "PM2_KILL_SIGNAL": "SIGTERM"}

    def daemon_argv(self) -> list[str]:
        return [self.node, str(pm2_package() / "lib" / "Daemon.js")]

    def launch(self) -> None:
        super().launch()
        self._start_helper()  # beside the daemon: a cold boot includes the client's start-up

    def _start_helper(self) -> None:
        r, w = os.pipe()
        env = {**os.environ, **self.daemon_env(), procs.MARKER_VAR: self.marker}
        with open(self.workdir / "helper.out", "ab") as log:
            self.helper = subprocess.Popen(
                [
                    self.node,
                    str(HELPER),
                    str(pm2_package()),
                    str(self.home),
                    str(self.ecosystem),
                    str(w),
                ],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(w,),
            )
        os.close(w)
        self._replies = r
        self._buffer = b""
        self._connected = False

    def connect(self, timeout: float) -> None:
        if self.helper is None:
            self._start_helper()
        if not self._connected:
            self._call("connect", timeout=timeout + 5, wait_timeout=timeout)
            self._connected = True
        if not self._booted:
            boot = [p.name for p in self.programs if p.autostart]
            if boot:
                # PM2 registers apps 2 at a time: 1,000 of them take a while on 2 cores
                self._call("register", timeout=600.0, names=boot)
            self._registered.update(boot)
            self._booted = True

    # -- the helper -------------------------------------------------------------------------

    def _call(self, op: str, timeout: float = 120.0, **fields: Any) -> Any:
        if self.helper is None or self.helper.stdin is None:
            raise PM2CallError("pm2: no helper")
        if "wait_timeout" in fields:
            fields["timeout"] = fields.pop("wait_timeout")
        self._next_id += 1
        request = {"id": self._next_id, "op": op, **fields}
        self.helper.stdin.write(json.dumps(request).encode() + b"\n")
        self.helper.stdin.flush()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise BenchTimeout(f"pm2: no answer to {op} within {timeout:g}s")
            chunk = os.read(self._replies, 65536)
            if not chunk:
                raise PM2CallError(f"pm2: the helper exited during {op} (see helper.out)")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply = json.loads(line)
        if reply.get("id") != self._next_id:
            raise PM2CallError(f"pm2: answer {reply.get('id')} to request {self._next_id}")
        if not reply["ok"]:
            raise PM2CallError(f"pm2 {op}: {reply['error']}")
        return reply["result"]

    @staticmethod
    def _proc(raw: dict[str, Any]) -> Proc:
        state = _STATES.get(raw["status"], raw["status"])
        down = state in ("STOPPED", "EXITED", "FATAL")
        return Proc(
            name=raw["name"],
            state=state,
            pid=(raw["pid"] or None) if state == "RUNNING" else None,
            exit_code=raw["exit_code"] if down else None,
        )

    # -- the client -------------------------------------------------------------------------

    def status_all(self) -> dict[str, Proc]:
        found = {raw["name"]: self._proc(raw) for raw in self._call("list")}
        for p in self.programs:
            found.setdefault(p.name, Proc(name=p.name, state="STOPPED"))
        return found

    def status_one(self, name: str) -> Proc:
        found = self._call("describe", name=name)
        return self._proc(found[0]) if found else Proc(name=name, state="STOPPED")

    def start(self, name: str, wait: bool) -> None:
        if name in self._registered:
            self._call("start", name=name, wait=wait)
        else:
            self._call("register", names=[name], wait=wait)
            self._registered.add(name)

    def stop(self, name: str, wait: bool) -> None:
        if name in self._registered:
            self._call("stop", name=name, wait=wait)

    def start_all(self, wait: bool) -> None:
        if self._registered:
            self._call("start", name="all", wait=wait)
        others = [p.name for p in self.programs if p.name not in self._registered]
        if others:
            self._call("register", names=others, wait=wait)
            self._registered.update(others)

    def stop_all(self, wait: bool) -> None:
        if self._registered:
            self._call("stop", name="all", wait=wait)

    def request_shutdown(self) -> None:
        # PM2's killDaemon: delete every app (stopping it), then end the daemon
        self._call("kill", wait=False)

    def cli_status_argv(self) -> list[str]:
        return [str(pm2_bin()), "ls"]

    def cli_env(self) -> dict[str, str]:
        return {**os.environ, **self.daemon_env()}

    def close_client(self) -> None:
        helper, self.helper = self.helper, None
        if helper is None:
            return
        assert helper.stdin is not None
        helper.stdin.close()  # the helper disconnects and exits
        try:
            helper.wait(5)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait(5)
        os.close(self._replies)
        self._replies = -1
        self._connected = False
