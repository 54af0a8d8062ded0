"""The signals the daemon answers: SIGTERM and SIGINT stop it, SIGHUP reloads, SIGUSR1 reopens;
and the signal state its programs start with.

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

__all__ = ["reset_inherited", "watch_signals"]

#: Signals left as the daemon found them: Python's own (it ignores SIGPIPE and SIGXFSZ, and
#: ``subprocess`` gives children the default), those nobody can catch, and the terminal's job
#: control ones, which a daemon in a terminal's background must keep ignoring (a handler would
#: turn a write to that terminal into an endless SIGTTOU).
_LEFT_ALONE = frozenset(
    {
        signal.SIGPIPE,
        signal.SIGXFSZ,
        signal.SIGKILL,
        signal.SIGSTOP,
        signal.SIGTTIN,
        signal.SIGTTOU,
        signal.SIGTSTP,
    }
)


def reset_inherited() -> list[str]:
    """Give the programs the default action of every signal and an empty signal mask,
    whatever the daemon inherited; the names of the signals it found ignored.

    A shell starts ``cmd &`` with SIGINT and SIGQUIT ignored, and an ignored signal stays
    ignored across fork and exec: every program would ignore them too, and one whose
    ``stop_signal`` is among them could only be SIGKILLed. So the daemon catches each signal it
    inherited as ignored with a handler that does nothing (it still ignores it in effect), and
    exec resets a caught signal to its default in the program; blocked signals are unblocked,
    since a mask survives exec too. Call it in the main thread, before any thread starts.
    """
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    found = []
    for signum in signal.valid_signals():
        if signum in _LEFT_ALONE or signal.getsignal(signum) is not signal.SIG_IGN:
            continue
        signal.signal(signum, _ignore)
        found.append(signal.Signals(signum).name)
    return found


def _ignore(signum: int, frame: object) -> None:
    """A signal the daemon was started ignoring: still nothing to do (see reset_inherited)."""


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
