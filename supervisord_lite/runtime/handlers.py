"""Request -> Supervisor call -> reply: the one place that picks an ErrorCode.

Each one-shot request is answered by exactly one reply with its id. Streams (``subscribe``)
answer ``Ok`` and then push items carrying the request's id until cancelled, ended by ``End``.
Errors the daemon raises on purpose become an ``Error`` with their code; anything else is a bug,
logged here with its traceback and answered ``internal`` with a one-line message, so no
traceback ever crosses the socket.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec
import trio

from supervisord_lite import __version__
from supervisord_lite.errors import (
    ConfigError,
    NoSuchProgram,
    SupervisorLiteError,
    WaitTimeout,
)
from supervisord_lite.program_groups import expand
from supervisord_lite.protocol import messages as m
from supervisord_lite.protocol.errors import BadRequest, ProtocolError
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.eventstream import stream_events
from supervisord_lite.runtime.logs.tail import send_logs
from supervisord_lite.runtime.metrics.usage import with_usage
from supervisord_lite.runtime.signalling import send_signal, signal_name
from supervisord_lite.store import Store

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from supervisord_lite.reloadplan import DaemonChange, FieldChange, ReloadPlan
    from supervisord_lite.runtime.metrics.requests import RequestMeter
    from supervisord_lite.runtime.storewriter import StoreWriter
    from supervisord_lite.runtime.supervisor import Supervisor
    from supervisord_lite.runtime.webhooks import Webhooks

Send = Callable[[m.ServerMessage], Awaitable[None]]


def welcome() -> m.Welcome:
    return m.Welcome(version=m.PROTOCOL_VERSION, pid=os.getpid(), daemon_version=__version__)


def error_for(request_id: int, exc: SupervisorLiteError | ProtocolError) -> m.Error:
    """The wire error for a daemon or protocol error: its code, its one-line message, and for
    an unknown program the names that would have worked."""
    if isinstance(exc, ProtocolError):
        code = exc.code
    else:
        try:
            code = m.ErrorCode(exc.code)
        except ValueError:
            code = m.ErrorCode.INTERNAL
    if isinstance(exc, ConfigError):
        code = m.ErrorCode.CONFIG_INVALID
    known = exc.known if isinstance(exc, NoSuchProgram) else ()
    return m.Error(id=request_id, code=code, message=str(exc), known=known)


def store_health(writer: StoreWriter) -> m.StoreHealth:
    """The store writer's counters as the status reply carries them."""
    stats = writer.statistics()
    return m.StoreHealth(
        path=stats.path,
        pending=stats.pending,
        written=stats.written,
        dropped=stats.dropped,
        refused=stats.refused,
        write_errors=stats.write_errors,
        failing=stats.failing,
        error=stats.error,
        error_at=stats.error_at,
    )


def reload_reply(request_id: int, todo: ReloadPlan, *, dry_run: bool) -> m.ReloadReply:
    """A reload's plan as the wire carries it: the names by fate, and the plan in full."""
    return m.ReloadReply(
        id=request_id,
        added=todo.names("added"),
        removed=todo.names("removed"),
        changed=todo.names("changed"),
        unchanged=todo.names("unchanged"),
        dry_run=dry_run,
        programs=tuple(
            m.PlannedProgram(
                name=p.name,
                fate=p.fate,
                restart=p.restart,
                changes=tuple(_planned(c) for c in p.changes),
            )
            for p in todo.programs
        ),
        daemon=tuple(_planned(c) for c in todo.daemon),
    )


def _planned(change: FieldChange | DaemonChange) -> m.PlannedChange:
    return m.PlannedChange(field=change.field, old=change.old, new=change.new, effect=change.effect)


class Handlers:
    """Answers requests from any connection; ``request_shutdown`` ends the daemon."""

    def __init__(self, supervisor: Supervisor, request_shutdown: Callable[[], None]) -> None:
        self.supervisor = supervisor
        self._request_shutdown = request_shutdown
        self._open_streams = 0
        self._streams_closed = trio.Event()
        self._streams_closed.set()
        self._shut_down = trio.Event()
        self._shutdown_report = m.ShutdownReply()
        #: Counts requests and times their first reply (the metrics endpoint's), when set.
        self.meter: RequestMeter | None = None
        #: The webhooks' deliveries (``svctl webhooks``), when set.
        self.webhooks: Webhooks | None = None

    @contextlib.contextmanager
    def _stream(self) -> Iterator[None]:
        """Count a stream (subscription, log follow) while it runs."""
        if not self._open_streams:
            self._streams_closed = trio.Event()
        self._open_streams += 1
        try:
            yield
        finally:
            self._open_streams -= 1
            if not self._open_streams:
                self._streams_closed.set()

    def shutdown_finished(self, killed: Sequence[str], output_lost: int) -> None:
        """The programs are stopped: answer every ``Shutdown(report=True)`` with what had to
        be SIGKILLed and what output was lost (before the streams are closed)."""
        self._shutdown_report = m.ShutdownReply(killed=tuple(killed), output_lost=output_lost)
        self._shut_down.set()

    async def wait_streams_closed(self) -> None:
        """Return once every stream has ended: at shutdown, after the fan-outs are closed, each
        stream still has to send its subscriber the End it is owed."""
        await self._streams_closed.wait()

    async def handle(self, request: m.Request, send: Send) -> None:
        """Answer one request (for a stream: until it is cancelled)."""
        if self.meter is None:
            await self._answer(request, send)
            return
        with self.meter.measure(request, send) as measured:
            await self._answer(request, measured)

    async def _answer(self, request: m.Request, send: Send) -> None:
        try:
            await self._dispatch(request, send)
        except (SupervisorLiteError, ProtocolError) as exc:
            await send(error_for(request.id, exc))
        except Exception as exc:  # noqa: BLE001 - a bug: logged in full here, one line to the peer
            log.exception("internal error answering %s", type(request).__name__)
            await send(
                m.Error(id=request.id, code=m.ErrorCode.INTERNAL, message=f"internal error: {exc}")
            )

    async def _dispatch(self, request: m.Request, send: Send) -> None:
        sup = self.supervisor
        rid = request.id
        match request:
            case m.Ping():
                await send(m.Pong(id=rid))
            case m.Status(names=names, stats=stats, usage=usage):
                programs = sup.status(self._members(names), stats=stats)
                if usage:
                    programs = await with_usage(sup, programs)
                await send(m.StatusReply(id=rid, programs=programs, store=store_health(sup.store)))
            case m.Start(names=names, all=every, wait=wait):
                self._need_names(names, every)
                names = self._members(names)
                await send(
                    m.ActionReply(id=rid, results=await sup.start(names, every=every, wait=wait))
                )
            case m.Stop(names=names, all=every, wait=wait, with_dependents=dependents):
                self._need_names(names, every)
                names = self._members(names)
                stopped = await sup.stop(
                    names, every=every, wait=wait, with_dependents=dependents or every
                )
                await send(m.ActionReply(id=rid, results=stopped))
            case m.Restart(
                names=names, all=every, wait=wait, rolling=rolling, max_unavailable=most
            ):
                self._need_names(names, every)
                names = self._members(names)
                restarted = await sup.restart(
                    names, every=every, wait=wait, rolling=rolling, max_unavailable=most
                )
                await send(m.ActionReply(id=rid, results=restarted))
            case m.Scale(name=name, count=count, wait=wait):
                scaled = await sup.scale(name, count, wait=wait)
                await send(m.ActionReply(id=rid, results=scaled))
            case m.Wait(names=names, state=state, timeout=timeout, ready=ready):
                self._need_names(names, False)
                results = None
                if ready:
                    state = m.ProgramState.RUNNING
                with trio.move_on_after(math.inf if timeout is None else timeout):
                    results = await (
                        sup.wait_ready(names) if ready else sup.wait_state(names, state)
                    )
                if results is None:
                    late = ", ".join(sup.not_in_state(names, state))
                    raise WaitTimeout(
                        f"timed out after {timeout}s waiting for {late} to be {state}"
                    )
                await send(m.ActionReply(id=rid, results=results))
            case m.History(name=name, limit=limit):
                every = name is not None and sup.has_instances(name)
                rows = await sup.store.query(
                    lambda store: Store.history(store, name, limit, instances=every)
                )
                if name is not None and not rows and name not in sup.known_names():
                    # A removed program keeps its history; a name never seen is a typo.
                    raise NoSuchProgram([name], sorted(sup.runners))
                await send(m.HistoryReply(id=rid, entries=tuple(rows)))
            case m.Subscribe():
                with self._stream():  # until its End is sent: shutdown waits for that
                    said = await stream_events(request, sup.events, send)
                    await send(m.End(id=rid, message=said))
            case m.Logs(name=name):
                runners = sup.lookup([name]) if name is not None else sup.runners.values()
                with self._stream():
                    await send_logs(request, [r.logs for r in runners], sup.log_fanout, send)
            case m.Reload(dry_run=dry_run):
                todo = await sup.reload(dry_run=dry_run)
                await send(reload_reply(rid, todo, dry_run=dry_run))
            case m.ReopenLogs(names=names):
                runners = sup.lookup(names, every=not names)
                count = sum(r.logs.reopen() for r in runners)
                await send(m.Ok(id=rid, message=f"reopening {count} log files"))
            case m.Signal(names=names, all=every, signal=text, main=main):
                self._need_names(names, every)
                signame = signal_name(text)
                results = send_signal(
                    sup.lookup(self._members(names), every=every),
                    signame,
                    main=main,
                    store=sup.store,
                    wall_clock=sup.services.wall_clock,
                )
                await send(m.ActionReply(id=rid, results=results))
            case m.Webhooks():
                hooks = self.webhooks.statuses() if self.webhooks is not None else ()
                await send(m.WebhooksReply(id=rid, hooks=hooks))
            case m.Shutdown(report=False):
                await send(m.Ok(id=rid, message="shutting down"))
                self._request_shutdown()
            case m.Shutdown():
                with self._stream():  # the shutdown waits for this answer, as for an End
                    self._request_shutdown()
                    await self._shut_down.wait()
                    report = msgspec.structs.replace(self._shutdown_report, id=rid)
                    await send(report)
            case _:
                await send(
                    m.Error(
                        id=rid,
                        code=m.ErrorCode.BAD_REQUEST,
                        message=f"{type(request).__name__.lower()} is not served on this daemon",
                    )
                )

    def _members(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """``names`` with each ``GROUP:`` replaced by its programs (program_groups.py)."""
        return expand(names, self.supervisor.config.programs)

    def _need_names(self, names: tuple[str, ...], every: bool) -> None:
        if not names and not every:
            raise BadRequest("name at least one program, or ask for all")
