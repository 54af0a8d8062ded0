"""Results, parameters and the trial: one peer, one fresh temp dir, one marker, then a sweep.

A scenario's ``run(trial)`` asks the trial for daemons (``trial.daemon(programs)``), measures,
and records samples (``trial.record(metric, value)``) or why the peer cannot do it
(``trial.unsupported(metric, reason)``). Whatever happens, the trial then shuts every daemon it
started down cleanly (bounded), counts the marked processes still alive as leftovers, kills them
by pid, and removes its temp dir.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import procs
from bench.peers.base import Peer, Program, Unsupported

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    better: str = "lower"  # lower | higher | none (counts and yes/no)
    ratio: bool = True  # report peer ÷ supervisord per round


@dataclass
class Params:
    quick: bool = False
    rounds: int = 3
    n: int = 100
    s1_reps: int = 1
    s2_calls: int = 300
    s2_cli: int = 10
    s3_window: float = 20.0
    s4_large: int = 1000
    s5_reps: int = 3
    s6_reps: int = 2
    s6_shutdowns: int = 1
    s7_reps: int = 4
    s8_mb: int = 200
    s10_n: int = 20

    @classmethod
    def make(cls, quick: bool, rounds: int | None) -> Params:
        p = (
            cls(
                quick=True,
                rounds=1,
                s2_calls=100,
                s2_cli=3,
                s3_window=3.0,
                s4_large=300,
                s5_reps=1,
                s6_reps=1,
                s7_reps=2,
                s8_mb=20,
            )
            if quick
            else cls()
        )
        if rounds is not None:
            p.rounds = rounds
        return p


@dataclass
class Results:
    """Everything the run produced; ``to_json`` is the machine-readable output."""

    params: Params
    scenarios: dict[str, dict[str, Any]] = field(default_factory=dict)
    leftovers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def declare(self, sid: str, title: str, family: str, metrics: list[Metric]) -> None:
        entry = self.scenarios.setdefault(
            sid, {"title": title, "family": family, "metrics": {}, "trials": []}
        )
        for m in metrics:
            entry["metrics"].setdefault(m.key, {**asdict(m), "samples": {}, "unsupported": {}})

    def metric(self, sid: str, key: str) -> dict[str, Any]:
        metric: dict[str, Any] = self.scenarios[sid]["metrics"][key]
        return metric

    def to_json(self) -> dict[str, Any]:
        return {
            **self.meta,
            "params": asdict(self.params),
            "peers": self.peers,
            "scenarios": self.scenarios,
            "leftovers": self.leftovers,
            "errors": self.errors,
            "notes": self.notes,
        }


class Trial:
    """One scenario, one peer, one round; see the module docstring."""

    def __init__(
        self,
        results: Results,
        sid: str,
        peer_cls: type[Peer],
        rnd: int,
        peers_bin: Path | None,
        log: Callable[[str], None],
    ) -> None:
        self.results = results
        self.sid = sid
        self.peer_cls = peer_cls
        self.peer_name = peer_cls.name
        self.round = rnd
        self.params = results.params
        self.peers_bin = peers_bin
        self.log = log
        self.marker = uuid.uuid4().hex
        self.dir = Path(tempfile.mkdtemp(prefix="svb-", dir="/tmp"))
        self.daemons: list[Peer] = []
        self.extra_pids: list[int] = []
        self.info: dict[str, Any] = {}

    # -- daemons ----------------------------------------------------------------------------

    def new_peer(self, sub: str = "") -> Peer:
        workdir = self.dir / sub if sub else self.dir
        workdir.mkdir(exist_ok=True)
        peer = self.peer_cls(workdir, self.marker, self.peers_bin)
        self.daemons.append(peer)
        return peer

    def daemon(self, programs: list[Program], *, timeout: float = 60.0, sub: str = "") -> Peer:
        """A daemon for ``programs``, launched and answering its client."""
        peer = self.new_peer(sub)
        peer.write_config(programs)
        peer.launch()
        peer.connect(timeout)
        return peer

    def stop_daemon(self, peer: Peer, timeout: float = 90.0) -> None:
        clean = peer.shutdown(timeout)
        if not clean:
            self.error(f"daemon did not exit within {timeout:g}s of a shutdown request; killed")
        peer.close()

    # -- recording --------------------------------------------------------------------------

    def record(self, key: str, value: float) -> None:
        m = self.results.metric(self.sid, key)
        m["samples"].setdefault(self.peer_name, []).append([self.round, float(value)])

    def unsupported(self, key: str, reason: str) -> None:
        self.results.metric(self.sid, key)["unsupported"][self.peer_name] = reason

    def error(self, message: str) -> None:
        self.log(f"  ! {self.sid} {self.peer_name} round {self.round}: {message}")
        self.results.errors.append(
            {"scenario": self.sid, "peer": self.peer_name, "round": self.round, "error": message}
        )

    # -- running ----------------------------------------------------------------------------

    def run(self, body: Callable[[Trial], None]) -> None:
        started = time.monotonic()
        try:
            body(self)
        except Unsupported as exc:
            self.info["unsupported"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one failed trial must not end the run
            self.error(f"{type(exc).__name__}: {exc}")
            self.info["traceback"] = traceback.format_exc(limit=6)
        finally:
            self._finish()
            self.info["seconds"] = round(time.monotonic() - started, 3)
            self.results.scenarios[self.sid]["trials"].append(
                {"peer": self.peer_name, "round": self.round, **self.info}
            )

    def _finish(self) -> None:
        for peer in self.daemons:
            try:
                self.stop_daemon(peer)
            except Exception as exc:  # noqa: BLE001
                self.error(f"shutdown failed: {type(exc).__name__}: {exc}")
                peer.close()
        left = procs.sweep(self.marker, self.extra_pids)
        if left.pids:
            self.log(f"  leftovers after shutdown: {len(left.pids)} ({left.cmdlines[:3]})")
            self.results.leftovers.append(
                {
                    "scenario": self.sid,
                    "peer": self.peer_name,
                    "round": self.round,
                    "count": len(left.pids),
                    "pids": left.pids,
                    "cmdlines": left.cmdlines,
                }
            )
        self.info["leftovers"] = len(left.pids)
        shutil.rmtree(self.dir, ignore_errors=True)
