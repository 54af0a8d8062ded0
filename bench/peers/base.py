"""What every peer adapter offers, so a scenario is written once for every peer.

A ``Peer`` owns one daemon in one fresh temp dir: it writes the config for a list of
``Program`` specs, launches the daemon (marked with the trial's marker), drives it through the
peer's own client (a library over its socket, a helper process, or its tools), and normalises
what the client answers into ``Proc`` records. What a peer cannot do raises ``Unsupported``
with the reason, which the report prints instead of a blank.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from bench import procs

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class Unsupported(Exception):
    """The peer cannot do what the scenario asks; ``str(exc)`` says why."""


class BenchTimeout(Exception):
    """A bounded wait ran out."""


@dataclass(frozen=True)
class Program:
    """One supervised program, in terms every peer can express."""

    name: str
    argv: tuple[str, ...]
    autostart: bool = True
    startsecs: float = 0.0
    stop_timeout: float = 10.0
    autorestart: bool = False
    group_kill: bool = True
    env: dict[str, str] = field(default_factory=dict)
    stdout: str | None = None  # None: the peer's default output handling


@dataclass(frozen=True)
class Proc:
    """One program's status as the client reported it, normalised."""

    name: str
    state: str  # RUNNING, STOPPED, STARTING, STOPPING, EXITED, BACKOFF, FATAL, or the native word
    pid: int | None = None
    exit_code: int | None = None


#: States in which a program is down for good (for "all stopped" and "it exited").
DOWN = frozenset({"STOPPED", "EXITED", "FATAL"})


@dataclass
class Event:
    """A state change pushed to a subscriber, stamped when the harness received it."""

    received: float
    program: str
    state: str
    exit_code: int | None


class Peer(ABC):
    """One daemon of one peer, in ``workdir``; see the module docstring."""

    name: ClassVar[str]
    #: feature -> why the peer cannot do it (checked by scenarios before they try).
    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, workdir: Path, marker: str, peers_bin: Path | None) -> None:
        self.workdir = workdir
        self.marker = marker
        self.peers_bin = peers_bin
        self.process: subprocess.Popen[bytes] | None = None
        self.launched_at = 0.0
        self.programs: list[Program] = []

    # -- set-up -----------------------------------------------------------------------------

    @abstractmethod
    def write_config(self, programs: list[Program]) -> None: ...

    @abstractmethod
    def daemon_argv(self) -> list[str]: ...

    @abstractmethod
    def connect(self, timeout: float) -> None:
        """Wait (bounded) until the daemon answers its client; keep that client open."""

    def daemon_env(self) -> dict[str, str]:
        """Variables the daemon needs beside the harness' environment and the marker."""
        return {}

    def launch(self) -> None:
        env = dict(os.environ)
        env.update(self.daemon_env())
        env[procs.MARKER_VAR] = self.marker
        env.pop("NOTIFY_SOCKET", None)
        log = open(self.workdir / "daemon.out", "wb")  # noqa: SIM115 - closed in close()
        self._daemon_log = log
        self.launched_at = time.monotonic()
        self.process = subprocess.Popen(
            self.daemon_argv(),
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def daemon_pids(self) -> list[int]:
        """The processes that make up the daemon (for CPU and memory)."""
        return [self.pid]

    # -- the client -------------------------------------------------------------------------

    @abstractmethod
    def status_all(self) -> dict[str, Proc]: ...

    @abstractmethod
    def status_one(self, name: str) -> Proc: ...

    @abstractmethod
    def start_all(self, wait: bool) -> None: ...

    @abstractmethod
    def stop_all(self, wait: bool) -> None: ...

    @abstractmethod
    def start(self, name: str, wait: bool) -> None: ...

    @abstractmethod
    def stop(self, name: str, wait: bool) -> None: ...

    @abstractmethod
    def request_shutdown(self) -> None:
        """Ask the daemon, through the client, to stop everything and exit."""

    @abstractmethod
    def cli_status_argv(self) -> list[str]:
        """The peer's own command line for ``status``, run as a whole process (S2)."""

    def cli_env(self) -> dict[str, str] | None:
        """The environment ``cli_status_argv`` runs in (None: the harness' own)."""
        return None

    def pids_of(self, name: str) -> list[int]:
        proc = self.status_one(name)
        return [proc.pid] if proc.pid else []

    def subscribe(self, on_event: Callable[[Event], None]) -> Callable[[], None]:
        """Receive pushed state changes in a thread; returns the function that ends it."""
        raise Unsupported(self.unsupported.get("push", "no pushed events"))

    def close_client(self) -> None:  # noqa: B027 - optional hook
        """Release the client's connection."""

    # -- waiting ----------------------------------------------------------------------------

    def wait_states(
        self,
        accept: Callable[[dict[str, Proc]], bool],
        timeout: float,
        interval: float = 0.02,
    ) -> dict[str, Proc]:
        """Poll status-all every ``interval`` until ``accept`` says yes; bounded."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.status_all()
            if accept(states):
                return states
            if time.monotonic() > deadline:
                counts: dict[str, int] = {}
                for p in states.values():
                    counts[p.state] = counts.get(p.state, 0) + 1
                raise BenchTimeout(f"{self.name}: still {counts} after {timeout:g}s")
            time.sleep(interval)

    def wait_all(self, state: str | frozenset[str], timeout: float, interval: float = 0.02) -> None:
        wanted = frozenset({state}) if isinstance(state, str) else state
        names = {p.name for p in self.programs}

        def accept(states: dict[str, Proc]) -> bool:
            return names <= states.keys() and all(states[n].state in wanted for n in names)

        self.wait_states(accept, timeout, interval)

    def wait_exit(self, timeout: float) -> float | None:
        """Wait (bounded) for the daemon process to exit; the monotonic time it was seen gone."""
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return time.monotonic()

    # -- tear-down --------------------------------------------------------------------------

    def shutdown(self, timeout: float = 90.0) -> bool:
        """Stop the programs and the daemon cleanly (bounded); False if it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return True
        try:
            self.prepare_shutdown()
            self.request_shutdown()
        except Exception:  # noqa: BLE001 - the daemon may already be gone; SIGTERM it then
            self.process.send_signal(signal.SIGTERM)
        clean = self.wait_exit(timeout) is not None
        if not clean:
            self.process.kill()
            self.process.wait(5)
        return clean

    def prepare_shutdown(self) -> None:  # noqa: B027 - optional hook
        """What the harness does before a shutdown it does not time (supervisord: stop all)."""

    def close(self) -> None:
        self.close_client()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        log = getattr(self, "_daemon_log", None)
        if log is not None:
            log.close()
