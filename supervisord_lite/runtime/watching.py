"""``watch``: a change of a program's watched files restarts it, once per burst; ``watch_config``
reloads the daemon's config when its file changes.

One task per watching program, asleep on its ``TreeWatch`` (inotify, filewatch.py) until a
file below the globs' folders changes. A change the globs match (watchglob.py) opens a quiet
window of ``watch_debounce`` seconds, which every further change starts again; when it passes,
the program is restarted once, if the operator wants it up (a stopped program stays stopped).

With ``reload_check``, the command runs first, as an ``exec`` probe does (the program's user,
environment and folder, its own process group, registered with the subreaper, at most
``CHECK_TIMEOUT`` seconds): if it fails, nothing restarts, and its exit status and the last of
its output are in ``svctl status`` (``reload_check``), the history (``reload_check_failed``)
and the events (``change = "watch"``). A passing check is shown too, until the next one.

The config watch follows the config file and the ``env_file`` files it names; a change reloads
through the same plan as ``svctl reload`` (a refused file is logged and changes nothing).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

import trio

from supervisord_lite import lifecycle as lc
from supervisord_lite.config_probes import Probe
from supervisord_lite.errors import ConfigError, SupervisorLiteError
from supervisord_lite.protocol.messages import ProbeReport
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.filewatch import TreeWatch
from supervisord_lite.runtime.probes import check
from supervisord_lite.runtime.reports import noted, run_event
from supervisord_lite.watchglob import PathFilter, roots

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection

    from supervisord_lite.config import Config, ProgramConfig
    from supervisord_lite.runtime.program import ProgramRunner
    from supervisord_lite.runtime.services import RunnerServices

__all__ = ["CHECK_FAILED", "CHECK_TIMEOUT", "CONFIG_DEBOUNCE", "RESTARTED", "Watches"]

CHECK_TIMEOUT: Final = 60.0
"""The longest a ``reload_check`` may run; longer is a failed check."""
CONFIG_DEBOUNCE: Final = 0.5
"""The quiet window after a change of the config file before the reload."""
CHECK_FAILED: Final = "reload_check_failed"
RESTARTED: Final = "watch_restart"
"""The history's event kinds: a failed check (nothing restarted), a restart for a change."""
_SHOWN: Final = 3


def _key(program: ProgramConfig) -> tuple[object, ...]:
    return (program.watch, program.watch_ignore, program.watch_debounce, program.cwd)


class Watches:
    """The watching programs' tasks and the config watch; see the module docstring."""

    def __init__(
        self,
        runners: dict[str, ProgramRunner],
        services: RunnerServices,
        config: Callable[[], Config],
        reload: Callable[[], Awaitable[object]],
    ) -> None:
        self._runners = runners
        self._services = services
        self._config = config
        self._reload = reload
        self._tasks: dict[str, tuple[tuple[object, ...], trio.CancelScope]] = {}
        self._config_watch: tuple[tuple[str, ...], trio.CancelScope] | None = None
        self._checks: dict[str, ProbeReport] = {}

    def refresh(self) -> None:
        """Start, restart (changed settings) or stop each program's watch, and the config's."""
        for name in list(self._tasks):
            runner = self._runners.get(name)
            if (
                runner is None
                or not runner.program.watch
                or _key(runner.program) != self._tasks[name][0]
            ):
                self._tasks.pop(name)[1].cancel()
        for name, runner in self._runners.items():
            if runner.program.watch and name not in self._tasks:
                scope = trio.CancelScope()
                self._tasks[name] = (_key(runner.program), scope)
                self._services.nursery.start_soon(self._watch_program, name, runner.program, scope)
        self._checks = {n: c for n, c in self._checks.items() if n in self._runners}
        self._refresh_config()

    def last_check(self, name: str) -> ProbeReport | None:
        """The last ``reload_check`` of ``name`` (None before the first)."""
        return self._checks.get(name)

    def close(self) -> None:
        for _, scope in self._tasks.values():
            scope.cancel()
        self._tasks.clear()
        if self._config_watch is not None:
            self._config_watch[1].cancel()
            self._config_watch = None

    # -- programs -----------------------------------------------------------------------------

    async def _watch_program(
        self, name: str, program: ProgramConfig, scope: trio.CancelScope
    ) -> None:
        with scope:
            wanted = PathFilter(program.watch, program.watch_ignore)
            try:
                tree = TreeWatch(roots(program.watch))
            except OSError as exc:
                log.error("%s: cannot watch its files: %s", name, exc)
                return
            with tree:
                log.info(
                    "%s: watching %d folders for %s", name, tree.folders, ", ".join(program.watch)
                )
                while True:
                    changed = [p for p in await tree.changes() if wanted(p)]
                    if not changed:
                        continue
                    changed += await _quiet(tree, wanted, program.watch_debounce)
                    await self._changed(name, sorted(set(changed)))

    async def _changed(self, name: str, paths: list[str]) -> None:
        runner = self._runners.get(name)
        if runner is None:
            return
        shown = ", ".join(paths[:_SHOWN]) + (
            f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
        )
        if runner.snapshot.want is not lc.Want.UP:
            log.info("%s: changed %s; not restarted: it is not wanted up", name, shown)
            return
        program = runner.program
        if program.reload_check is not None:
            report = await self._check(runner, program)
            if not report.ok:
                self._report(
                    runner,
                    CHECK_FAILED,
                    f"reload_check failed ({report.detail}); not restarted: {shown}",
                )
                return
        self._report(runner, RESTARTED, f"restarting: changed {shown}")
        runner.send(lc.Restart())

    async def _check(self, runner: ProgramRunner, program: ProgramConfig) -> ProbeReport:
        assert program.reload_check is not None
        probe = Probe(exec=program.reload_check, timeout=CHECK_TIMEOUT)
        result = await check(
            probe,
            program,
            cwd=self._services.base_dir,
            reaper=self._services.containment.reaper,
        )
        report = ProbeReport(
            ok=result.ok,
            detail=_one_line(result.detail),
            latency=result.latency,
            at=self._services.wall_clock(),
        )
        self._checks[runner.name] = report
        return report

    def _report(self, runner: ProgramRunner, kind: str, reason: str) -> None:
        """Say it in the daemon's log, the history and the events."""
        (log.warning if kind == CHECK_FAILED else log.info)("%s: %s", runner.name, reason)
        snap = runner.snapshot
        at = self._services.wall_clock()
        self._services.store.submit(run_event(runner.name, snap, kind, at=at, reason=reason))
        self._services.events.publish(noted(runner.name, snap, "watch", reason, at=at))

    # -- the config file ----------------------------------------------------------------------

    def _refresh_config(self) -> None:
        config = self._config()
        files: tuple[str, ...] = ()
        if config.daemon.watch_config:
            named = {config.source, *(f for p in config.programs.values() for f in p.env_file)}
            files = tuple(sorted(os.path.abspath(f) for f in named))
        if self._config_watch is not None and self._config_watch[0] == files:
            return
        if self._config_watch is not None:
            self._config_watch[1].cancel()
            self._config_watch = None
        if files:
            scope = trio.CancelScope()
            self._config_watch = (files, scope)
            self._services.nursery.start_soon(self._watch_config, files, scope)

    async def _watch_config(self, files: Collection[str], scope: trio.CancelScope) -> None:
        with scope:
            wanted = set(files)
            try:
                # Only the folders' own entries: the store and logs often live below them.
                tree = TreeWatch(sorted({os.path.dirname(f) for f in files}), recursive=False)
            except OSError as exc:
                log.error("watch_config: cannot watch the config: %s", exc)
                return
            with tree:
                while True:
                    changed = [p for p in await tree.changes() if p in wanted]
                    if not changed:
                        continue
                    await _quiet(tree, wanted.__contains__, CONFIG_DEBOUNCE)
                    log.info("watch_config: %s changed: reloading", ", ".join(sorted(set(changed))))
                    try:
                        await self._reload()
                    except ConfigError:
                        pass  # refused and logged by the reload itself; the config stays
                    except SupervisorLiteError as exc:
                        log.error("watch_config: reload refused: %s", exc)


async def _quiet(tree: TreeWatch, wanted: Callable[[str], bool], seconds: float) -> list[str]:
    """Wait until the watched paths have been quiet for ``seconds``; the wanted paths that
    changed meanwhile."""
    more: list[str] = []
    while True:
        with trio.move_on_after(seconds) as window:
            found = [p for p in await tree.changes() if wanted(p)]
        if window.cancelled_caught:
            return more
        more.extend(found)


def _one_line(text: str) -> str:
    """A command's output tail on one line (a status column, a history row): its lines,
    stripped, joined by `` | ``."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())
