"""The signals the daemon answers: SIGTERM and SIGINT stop it, SIGHUP reloads, SIGUSR1 reopens.

A reload runs in its own task, so a SIGTERM during a long reload is still heard at once; a
refused reload is logged, never fatal. SIGUSR1 is logrotate's postrotate: every log file is
reopened before its next bytes.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import trio

from supervisord_lite.errors import ConfigError, SupervisorLiteError
from supervisord_lite.runtime.daemon_report import summary
from supervisord_lite.runtime.daemonlog import log

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from supervisord_lite.runtime.sdnotify import Notifier
    from supervisord_lite.runtime.supervisor import Supervisor

__all__ = ["watch_signals"]


async def watch_signals(
    signals: AsyncIterator[int],
    stop: trio.Event,
    supervisor: Supervisor,
    notifier: Notifier,
) -> None:
    """SIGTERM and SIGINT stop the daemon (once); SIGHUP reloads; SIGUSR1 reopens the logs."""
    async with trio.open_nursery() as nursery:
        async for signum in signals:
            if signum == signal.SIGHUP:
                # In its own task: a SIGTERM during a long reload is still heard at once.
                nursery.start_soon(reload_on_hup, supervisor, notifier)
            elif signum == signal.SIGUSR1:
                # logrotate's postrotate: every file is reopened before its next bytes.
                count = sum(runner.logs.reopen() for runner in supervisor.runners.values())
                log.info("SIGUSR1 received: reopening %d log files", count)
            elif stop.is_set():
                log.info("already shutting down (%s ignored)", signal.Signals(signum).name)
            else:
                log.info("%s received", signal.Signals(signum).name)
                stop.set()


async def reload_on_hup(supervisor: Supervisor, notifier: Notifier) -> None:
    """SIGHUP: reload; a refused reload (bad file, shutting down) is logged, never fatal
    (``Supervisor.reload`` logs a refused file itself, however the reload was asked for)."""
    notifier.reloading("reloading the config")
    try:
        await supervisor.reload()
    except ConfigError:
        pass
    except SupervisorLiteError as exc:
        log.error("reload refused: %s", exc)
    notifier.ready(summary(supervisor))
