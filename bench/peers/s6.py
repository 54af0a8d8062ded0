"""s6 2.11 (Debian's ``s6`` and ``execline``), driven through its own tools, one process a call.

The daemon is ``s6-svscan SCANDIR``; each program is a service directory with an execline
``run`` script, a ``down`` file when it is not autostart, ``timeout-kill`` for the stop
timeout, a ``finish`` script that exits 125 (s6's "do not restart") when autorestart is off,
and a logger service (``log/run``: ``s6-log`` into a logdir) when its output goes to a file.
s6 has no control socket and no "status of everything": a request is a tool process
(``s6-svc``, ``s6-svstat``, ``s6-svwait``, ``s6-svscanctl``), and status-all or a bulk
start/stop is one ``sh`` loop of them. See ``../shared/peers.md`` for what that means for the
figures.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import ClassVar

from bench import procs
from bench.peers.base import BenchTimeout, Peer, Proc, Program
from bench.system_peers import s6_tool

#: s6-log's largest file size before it rotates (``s`` directive)
LOG_MAX = 268435455
_FIELDS = "up,wantedup,pid,exitcode"
_CALL_TIMEOUT = 120.0


def _execline_word(word: str) -> str:
    """One execline word, quoted (a quoted word is taken literally but for \\ and ")."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


class S6(Peer):
    name = "s6"
    unsupported: ClassVar[dict[str, str]] = {
        "group_kill_on": "no process-group kill: s6-supervise signals the program's pid only",
        "push": (
            "not measured: s6 pushes a service's transitions only to a process waiting on its "
            "event fifodir (s6-svwait, s6-ftrig-listen), one service at a time; the bench has "
            "no subscriber for them"
        ),
    }

    def __init__(self, workdir: Path, marker: str, peers_bin: Path | None) -> None:
        super().__init__(workdir, marker, peers_bin)
        self.scan = workdir / "scan"
        self.tools = {
            t: s6_tool(t)
            for t in ("s6-svscan", "s6-svc", "s6-svstat", "s6-svwait", "s6-svscanctl", "s6-log")
        }
        self.execlineb = s6_tool("execlineb")
        #: programs stopped without waiting for their finish script: a start sent while it runs
        #: is undone by its exit 125, so the next start waits for it first (not timed anywhere)
        self._finishing: set[str] = set()

    # -- set-up -----------------------------------------------------------------------------

    def _script(self, path: Path, words: list[list[str]]) -> None:
        lines = [f"#!{self.execlineb} -P"] + [" ".join(map(_execline_word, w)) for w in words]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o755)

    def write_config(self, programs: list[Program]) -> None:
        self.programs = programs
        self.scan.mkdir(exist_ok=True)
        for p in programs:
            service = self.scan / p.name
            # a restarted daemon (S10) gets the same scan dir: rewrite, keep supervise/
            service.mkdir(exist_ok=True)
            exports = [["export", k, v] for k, v in p.env.items()]
            # `export K V` execs into the rest of the command line, then the program
            body = [w for e in exports for w in e] + list(p.argv)
            self._script(service / "run", [body])
            if p.autostart and not p.autorestart:
                # started by s6-supervise at boot with no way to say "once": the finish
                # script's 125 tells it not to restart (the client starts others with -o)
                self._script(service / "finish", [["exit", "125"]])
            if not p.autostart:
                (service / "down").touch()
            (service / "timeout-kill").write_text(f"{round(p.stop_timeout * 1000)}\n")
            if p.stdout is not None:
                logdir = self.workdir / f"{p.name}.s6log"
                (service / "log").mkdir(exist_ok=True)
                self._script(
                    service / "log" / "run",
                    [[self.tools["s6-log"], "n2", f"s{LOG_MAX}", str(logdir)]],
                )
                # the scenario reads the file it named: s6-log writes LOGDIR/current
                Path(p.stdout).unlink(missing_ok=True)
                os.symlink(logdir / "current", p.stdout)

    def daemon_argv(self) -> list[str]:
        return [self.tools["s6-svscan"], str(self.scan)]

    def daemon_pids(self) -> list[int]:
        """s6-svscan, every s6-supervise (program and logger) and every s6-log."""
        keep = {"s6-supervise", "s6-log"}
        return [self.pid] + [p for p in procs.descendants(self.pid) if procs.comm(p) in keep]

    def connect(self, timeout: float) -> None:
        """Until every service's s6-supervise has written its status (bounded)."""
        deadline = time.monotonic() + timeout
        while not all(
            (self.scan / p.name / "supervise" / "status").exists() for p in self.programs
        ):
            if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                raise BenchTimeout("s6: no status from every s6-supervise")
            time.sleep(0.005)

    # -- the tools ----------------------------------------------------------------------------

    def _run(self, argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, timeout=_CALL_TIMEOUT, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"s6: {' '.join(argv[:3])}... exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace').strip()[-300:]}"
            )
        return done.stdout.decode(errors="replace")

    def _sh(self, script: str, *args: str) -> str:
        return self._run(["sh", "-c", script, "sh", *args])

    def _dirs(self) -> list[str]:
        return [str(self.scan / p.name) for p in self.programs]

    @staticmethod
    def _proc(name: str, fields: list[str]) -> Proc:
        if len(fields) < 4:
            return Proc(name=name, state="no status yet")
        up, wanted, pid, code = fields[:4]
        exit_code = int(code) if code.lstrip("-").isdigit() and int(code) >= 0 else None
        if up == "true":
            return Proc(name=name, state="RUNNING", pid=int(pid))
        if wanted == "true":
            # down but wanted up: not started yet, or its finish script has not said 125 yet
            return Proc(name=name, state="STARTING", exit_code=exit_code)
        return Proc(name=name, state="STOPPED", exit_code=exit_code)

    def status_all(self) -> dict[str, Proc]:
        out = self._sh(
            f'for d in "$1"/*/; do printf "%s " "$d"; {self.tools["s6-svstat"]} -o {_FIELDS} '
            '"$d"; done',
            str(self.scan),
        )
        found = {}
        for line in out.splitlines():
            words = line.split()
            if words:
                name = words[0].rstrip("/").rsplit("/", 1)[-1]
                found[name] = self._proc(name, words[1:])
        return found

    def status_one(self, name: str) -> Proc:
        out = self._run([self.tools["s6-svstat"], "-o", _FIELDS, str(self.scan / name)])
        return self._proc(name, out.split())

    def _settle(self, names: list[str]) -> None:
        waiting = [str(self.scan / n) for n in names if n in self._finishing]
        if waiting:
            self._run([self.tools["s6-svwait"], "-D", "-a", "-t", "60000", *waiting])
        self._finishing.difference_update(names)

    def _up(self, name: str) -> str:
        """``-o`` (up once: not restarted when it dies) unless the program restarts."""
        program = next(p for p in self.programs if p.name == name)
        return "-u" if program.autorestart else "-o"

    def start(self, name: str, wait: bool) -> None:
        self._settle([name])
        head = [self.tools["s6-svc"], *(["-wu", "-T", "60000"] if wait else [])]
        self._run([*head, self._up(name), str(self.scan / name)])

    def stop(self, name: str, wait: bool) -> None:
        # blocking: until down and its finish script done (-wD), as s6-rc waits on a down
        head = [self.tools["s6-svc"], *(["-wD", "-T", "60000"] if wait else [])]
        self._run([*head, "-d", str(self.scan / name)])
        if not wait:
            self._finishing.add(name)

    def _bulk(self, commands: list[str], wait_flag: str | None) -> None:
        """One sh loop of ``s6-svc COMMAND DIR``, one per program, then maybe ``s6-svwait``."""
        svc, svwait = self.tools["s6-svc"], self.tools["s6-svwait"]
        script = f'while [ "$1" != -- ]; do {svc} "$1" "$2"; shift 2; done; shift'
        if wait_flag is not None:
            script += f'; exec {svwait} {wait_flag} -a -t 60000 "$@"'
        pairs = [w for c, d in zip(commands, self._dirs(), strict=True) for w in (c, d)]
        self._sh(script, *pairs, "--", *self._dirs())

    def start_all(self, wait: bool) -> None:
        self._settle([p.name for p in self.programs])
        self._bulk([self._up(p.name) for p in self.programs], "-u" if wait else None)

    def stop_all(self, wait: bool) -> None:
        self._bulk(["-d"] * len(self.programs), "-D" if wait else None)
        if not wait:
            self._finishing.update(p.name for p in self.programs)

    def request_shutdown(self) -> None:
        self._run([self.tools["s6-svscanctl"], "-t", str(self.scan)])

    def cli_status_argv(self) -> list[str]:
        svstat = self.tools["s6-svstat"]
        loop = f'for d in "$1"/*/; do printf "%s " "$d"; {svstat} "$d"; done'
        return ["sh", "-c", loop, "sh", str(self.scan)]
