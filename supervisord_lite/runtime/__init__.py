"""The daemon at run time: the only package of supervisord_lite that imports trio, psutil and
signal handling.

``run(config)`` owns the root nursery. Start-up order: the store's lock is taken, the store
opens (a corrupt one is refused, or moved aside with ``reset_store``; the runs a crashed
predecessor left are closed as lost), the control socket is bound, then the programs'
handed-over sockets (runtime/listeners.py), programs are started, and only then does systemd
hear READY=1. Shutdown runs the other way: programs stop in priority order, the
control server and the program tasks end, and the store writer drains last, so every stop is on
disk before the daemon exits; records it could not write by then make the exit an error
(``RecordsUnwritten``, exit 6), never a clean one, unless the daemon ended on its own by an exit
rule (a critical program, ``exit_when``: daemon_exit.py), whose status is the exit status then.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING

import trio

from supervisord_lite import __version__
from supervisord_lite.errors import RecordsUnwritten, StoreError
from supervisord_lite.protocol.messages import DaemonEvent
from supervisord_lite.runtime.control import ControlServer
from supervisord_lite.runtime.control_socket import bind_control_socket
from supervisord_lite.runtime.daemon_report import (
    output_lost,
    report_timeout,
    stopped_event,
    summary,
)
from supervisord_lite.runtime.daemon_signals import reset_inherited, watch_signals
from supervisord_lite.runtime.daemonlog import configure, log
from supervisord_lite.runtime.deadlines import Deadlines
from supervisord_lite.runtime.eventlog import EventLog
from supervisord_lite.runtime.handlers import Handlers
from supervisord_lite.runtime.listeners import Listeners
from supervisord_lite.runtime.logs.streams import CLOSE_GRACE
from supervisord_lite.runtime.metrics import open_metrics
from supervisord_lite.runtime.recovery import recover
from supervisord_lite.runtime.sdnotify import Notifier, follow_status
from supervisord_lite.runtime.startup import lock_state, open_containment, open_store, record_trees
from supervisord_lite.runtime.storewriter import StoreWriter
from supervisord_lite.runtime.supervisor import Supervisor
from supervisord_lite.runtime.webhooks import Webhooks
from supervisord_lite.store_file import make_folder

if TYPE_CHECKING:
    import socket
    from collections.abc import Awaitable, Callable

    from supervisord_lite.config import Config
    from supervisord_lite.daemon_exit import Ending
    from supervisord_lite.runtime.containment import Containment
    from supervisord_lite.runtime.metrics.endpoint import Metrics
    from supervisord_lite.store import Store

__all__ = ["EXIT_KILLED_AT_SHUTDOWN", "EXIT_OUTPUT_LOST", "run"]

#: How long followers may take to be sent their End at shutdown.
STREAM_END_GRACE = 1.0

#: The exit status of a shutdown that had to SIGKILL programs at ``shutdown_timeout``: the
#: daemon did stop (so an init system need not restart it), but not cleanly.
EXIT_KILLED_AT_SHUTDOWN = 4
#: The exit status of a shutdown after which programs' output could not all be written to the
#: log files (a log target that stalled or failed): nothing was left running, but bytes were
#: lost, and the daemon's log says which stream, which file and how many bytes.
EXIT_OUTPUT_LOST = 5


def run(config: Config, *, reset_store: bool = False) -> int:
    """Run the daemon in the foreground until it is told to stop; the process' exit status.

    0 after a clean shutdown, 4 (``EXIT_KILLED_AT_SHUTDOWN``) when programs had to be
    SIGKILLed at the shutdown timeout, 5 (``EXIT_OUTPUT_LOST``) when, with no program left to
    kill, some of their output could not be written to the log files. When the daemon ended
    on its own (a critical program ended, or every program exited: daemon_exit.py), the status
    that rule gave, whatever the shutdown met (which the log says).
    ``reset_store`` moves a corrupt state store aside and starts a fresh one (a sound store is
    kept).

    Raises:
        StoreCorrupt: the state store is damaged and ``reset_store`` was not given.
        RecordsUnwritten: the daemon stopped, but records never reached the state store.
        SupervisorLiteError: the daemon could not start (socket in use, store unreadable...).
    """
    configure()
    ignored = reset_inherited()
    if ignored:
        log.info("started with %s ignored: the programs get their default", ", ".join(ignored))
    return trio.run(_main, config, reset_store)


async def _main(config: Config, reset_store: bool) -> int:
    try:
        make_folder(config.daemon.state_db)
    except OSError as exc:
        raise StoreError(f"{config.daemon.state_db}: cannot create its folder: {exc}") from exc
    lock, crashed_trees = lock_state(config.daemon.state_db)
    store: Store | None = None
    try:
        store = open_store(config, reset_store)
        sock = bind_control_socket(config.daemon.socket, config.daemon.socket_mode)
        try:
            with open_metrics(config.daemon.metrics) as metrics:
                containment = open_containment(config)
                try:
                    own = [containment.tree.root] if containment.tree is not None else []
                    record_trees(lock, own + crashed_trees)
                    left = await recover(store, config, containment, crashed_trees)
                    record_trees(lock, own + left)
                    listeners = Listeners()
                    try:
                        listeners.bind(config)  # a socket that cannot be bound: exit 2
                        return await _serve(config, store, sock, containment, metrics, listeners)
                    finally:
                        listeners.close()
                finally:
                    if containment.tree is not None:
                        containment.tree.close()
        finally:
            sock.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(config.daemon.socket)
    finally:
        if store is not None:
            store.close()
        os.close(lock)


async def _serve(
    config: Config,
    store: Store,
    sock: socket.socket,
    containment: Containment,
    metrics: Metrics | None,
    listeners: Listeners,
) -> int:
    notifier = Notifier()
    writer = StoreWriter(store)
    newest = store.event_bounds()[1]
    events = EventLog(writer, newest=newest)
    events.publish(
        DaemonEvent(
            change="started",
            at=time.time(),
            message=f"supervisord-lite {__version__} started (pid {os.getpid()})",
        )
    )
    killed: list[str] = []
    lost = 0
    ending: Ending | None = None
    reaping = trio.CancelScope()
    timing = trio.CancelScope()
    with trio.open_signal_receiver(
        signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1
    ) as signals:
        async with trio.open_nursery() as outer:
            outer.start_soon(writer.run, name="store writer")
            outer.start_soon(_run_until_cancelled, reaping, containment.reaper.run)
            deadlines = Deadlines()
            outer.start_soon(_run_until_cancelled, timing, deadlines.run)
            try:
                async with trio.open_nursery() as nursery:
                    supervisor = Supervisor(
                        config,
                        store=writer,
                        events=events,
                        containment=containment,
                        nursery=nursery,
                        deadlines=deadlines,
                        listeners=listeners,
                    )
                    stop = trio.Event()
                    supervisor.on_ending = stop.set
                    handlers = Handlers(supervisor, stop.set)
                    hooks = Webhooks(events, writer, nursery)
                    hooks.apply(config.webhooks, start=newest)
                    supervisor.config_appliers.append(lambda new: hooks.apply(new.webhooks))
                    handlers.webhooks = hooks
                    server = ControlServer(sock, handlers, config.daemon)
                    supervisor.daemon_appliers.append(server.apply)
                    await supervisor.load_state()
                    nursery.start_soon(server.serve, name="control server")
                    if metrics is not None:
                        metrics.start(nursery, supervisor, writer, server, handlers)
                    nursery.start_soon(watch_signals, signals, stop, supervisor, notifier)
                    nursery.start_soon(follow_status, notifier, events, lambda: summary(supervisor))
                    log.info("supervisord-lite %d serving %s", os.getpid(), config.daemon.socket)
                    await supervisor.boot()
                    notifier.ready(summary(supervisor))
                    log.info("ready: %s", summary(supervisor))
                    await stop.wait()
                    log.info("shutting down")
                    events.publish(
                        DaemonEvent(change="stopping", at=time.time(), message="shutting down")
                    )
                    notifier.stopping("stopping programs")
                    timeout = supervisor.config.daemon.shutdown_timeout  # a reload may set it
                    with trio.move_on_after(timeout) as stopping:
                        await supervisor.stop_all()
                    if stopping.cancelled_caught:
                        killed = await supervisor.kill_survivors()
                        report_timeout(supervisor, timeout, killed)
                    with trio.move_on_after(CLOSE_GRACE + 1.0):
                        await supervisor.wait_retired()  # the log queues drain to their files
                    lost = output_lost(supervisor)
                    ending = supervisor.ending
                    handlers.shutdown_finished(killed, lost)
                    supervisor.log_fanout.close()
                    with trio.move_on_after(STREAM_END_GRACE):
                        await writer.wait_settled()  # followers hear the programs' last events
                    events.close()
                    with trio.move_on_after(STREAM_END_GRACE):
                        await handlers.wait_streams_closed()  # each follower gets its End
                    nursery.cancel_scope.cancel()
            finally:
                events.publish(stopped_event(killed, lost))
                writer.close()
                reaping.cancel()
                timing.cancel()
    stats = writer.statistics()
    if killed:
        log.info("exited after SIGKILLing survivors")
    if lost:
        log.error("exited; %d bytes of programs' output could not be written (see above)", lost)
    if ending is not None:
        # The exit rule's status wins: a container's fate is its critical program's.
        if stats.unwritten:
            error = RecordsUnwritten(stats.unwritten, stats.error or "the writer was closed")
            log.error("%s", error)
        log.info("exited: %s; exit status %d", ending.reason, ending.status)
        return ending.status
    if stats.unwritten:
        raise RecordsUnwritten(stats.unwritten, stats.error or "the writer was closed")
    if killed:
        return EXIT_KILLED_AT_SHUTDOWN
    if lost:
        return EXIT_OUTPUT_LOST
    log.info("exited cleanly")
    return 0


async def _run_until_cancelled(scope: trio.CancelScope, fn: Callable[[], Awaitable[None]]) -> None:
    with scope:
        await fn()
