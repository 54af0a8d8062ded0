"""supervisord-lite, run from the repo's own environment, driven through ``svctl.Client``."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bench.peers.base import BenchTimeout, Event, Peer, Proc, Program

if TYPE_CHECKING:
    from collections.abc import Callable

    import svctl


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


class Lite(Peer):
    name = "lite"
    unsupported: ClassVar[dict[str, str]] = {
        "group_kill_off": (
            "no option to turn it off: a stop always signals the program's whole process group"
        ),
    }

    def __init__(self, workdir: Path, marker: str, peers_bin: Path | None) -> None:
        super().__init__(workdir, marker, peers_bin)
        self.config = workdir / "lite.toml"
        self.socket = str(workdir / "lite.sock")
        self.client: svctl.Client | None = None

    def write_config(self, programs: list[Program]) -> None:
        self.programs = programs
        lines = [
            "[daemon]",
            f"socket = {_toml_str(self.socket)}",
            'state_db = "state/lite.db"',
            'log_dir = "logs"',
            "shutdown_timeout = 60.0",
            "",
        ]
        for p in programs:
            lines += [
                f"[programs.{p.name}]",
                f"command = [{', '.join(_toml_str(a) for a in p.argv)}]",
                f"autostart = {'true' if p.autostart else 'false'}",
                f"autorestart = {_toml_str('always' if p.autorestart else 'never')}",
                f"start_seconds = {float(p.startsecs)}",
                f"stop_timeout = {float(p.stop_timeout)}",
            ]
            if p.env:
                pairs = ", ".join(f"{_toml_str(k)} = {_toml_str(v)}" for k, v in p.env.items())
                lines.append(f"env = {{ {pairs} }}")
            if p.stdout is not None:
                out = _toml_str(p.stdout)
                lines.append(f'log = {{ stdout = {out}, stderr = "none", max_bytes = 0 }}')
            lines.append("")
        self.config.write_text("\n".join(lines))

    def daemon_argv(self) -> list[str]:
        return [sys.executable, "-m", "supervisord_lite", "-c", str(self.config)]

    def _new_client(self, timeout: float) -> svctl.Client:
        import svctl

        return svctl.Client(self.socket, timeout=timeout)

    def connect(self, timeout: float) -> None:
        import svctl

        deadline = time.monotonic() + timeout
        while True:
            client = self._new_client(60.0)
            try:
                client.connect(timeout=max(0.05, deadline - time.monotonic()))
            except svctl.DaemonUnavailable as exc:
                client.close()
                gone = self.process is not None and self.process.poll() is not None
                if time.monotonic() > deadline or gone:
                    raise BenchTimeout(f"lite: daemon not answering: {exc}") from exc
                time.sleep(0.005)
                continue
            self.client = client
            return

    @property
    def c(self) -> svctl.Client:
        assert self.client is not None
        return self.client

    @staticmethod
    def _proc(s: svctl.ProgramStatus) -> Proc:
        return Proc(name=s.name, state=str(s.state.value), pid=s.pid, exit_code=s.exit_code)

    def status_all(self) -> dict[str, Proc]:
        return {s.name: self._proc(s) for s in self.c.status()}

    def status_one(self, name: str) -> Proc:
        return self._proc(self.c.status(name)[0])

    def start_all(self, wait: bool) -> None:
        self.c.start(all=True, wait=wait)

    def stop_all(self, wait: bool) -> None:
        self.c.stop(all=True, wait=wait)

    def start(self, name: str, wait: bool) -> None:
        self.c.start(name, wait=wait)

    def stop(self, name: str, wait: bool) -> None:
        self.c.stop(name, wait=wait)

    def request_shutdown(self) -> None:
        self.c.shutdown(wait=False)

    def cli_status_argv(self) -> list[str]:
        svctl_bin = Path(sys.executable).parent / "svctl"
        head = [str(svctl_bin)] if svctl_bin.exists() else [sys.executable, "-m", "svctl.cli"]
        return [*head, "--socket", self.socket, "status"]

    def subscribe(self, on_event: Callable[[Event], None]) -> Callable[[], None]:
        client = self._new_client(10.0)
        stream = client.events()

        def pump() -> None:
            try:
                for ev in stream:
                    on_event(Event(time.monotonic(), ev.program, str(ev.new.value), ev.exit_code))
            except Exception:  # noqa: BLE001 - the stream ends when the daemon goes
                return

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()

        def stop() -> None:
            # The stream ends with the daemon's End at shutdown; a blocked reader cannot be
            # cancelled from another thread, so the thread is a daemon and joined with a bound.
            thread.join(0.0)

        self._subscriber = client
        return stop

    def close_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
