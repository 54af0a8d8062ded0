"""Every request the clients send, defined once: the message, how to read its answer, and
whether the daemon itself bounds how long it takes.

Both clients read these specs (``AsyncClient`` in ``_async_client.py``, and ``Client``, which is
generated from it), so a new request is one function here and one method there. The checks
that need no daemon (names or ``all``, counts that must not be negative) happen here, before
anything is sent, and raise :class:`~svctl.UsageError`.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Final, Generic, Literal, NamedTuple, TypeVar

from supervisord_lite.protocol.messages import (
    ActionReply,
    DaemonEvent,
    History,
    HistoryReply,
    Lagged,
    LogChunk,
    Logs,
    Missed,
    Ok,
    Ping,
    Pong,
    Reload,
    ReloadReply,
    ReopenLogs,
    Restart,
    Scale,
    Shutdown,
    ShutdownReply,
    Signal,
    Start,
    StateChanged,
    Status,
    StatusReply,
    Stop,
    Subscribe,
    Wait,
    Webhooks,
    WebhooksReply,
    tag_of,
)
from svctl import _results
from svctl.errors import ProtocolMismatch, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from supervisord_lite.protocol.messages import (
        ActionResult,
        ClientMessage,
        HistoryEntry,
        ProgramState,
        ProgramStatus,
        Reply,
        ServerMessage,
        StoreHealth,
        Stream,
        WebhookStatus,
    )

__all__ = [
    "DEFAULT",
    "QUICK_TIMEOUT",
    "ItemT",
    "Request",
    "StreamRequest",
    "TimeoutArg",
    "action",
    "history",
    "logs",
    "ping",
    "reload",
    "restart",
    "scale",
    "shutdown",
    "signal",
    "status",
    "subscribe",
    "wait",
    "webhooks",
]

QUICK_TIMEOUT: Final = 10.0
"""The clients' default ``timeout``: seconds a quick request, and connecting, may take."""

T = TypeVar("T")
ItemT = TypeVar(
    "ItemT",
    bound="_results.StateChanged | _results.DaemonEvent | _results.Missed"
    " | _results.LogChunk | _results.Lagged",
)
EventItem = _results.StateChanged | _results.DaemonEvent | _results.Missed


class _Default(Enum):
    DEFAULT = "default"


DEFAULT: Final = _Default.DEFAULT
"""A method's ``timeout`` when not given: the client's own, or none for a blocking request."""
TimeoutArg = float | None | Literal[_Default.DEFAULT]


class Request(NamedTuple, Generic[T]):
    """A one-shot request: the message for a request id, and how to read its answer.

    ``blocking`` requests take as long as the daemon's work does (a stop waits out
    ``stop_timeout`` and ``kill_timeout``); the daemon bounds them, so the clients put no
    deadline of their own on the answer unless the caller gives one.
    """

    message: Callable[[int], ClientMessage]
    answer: Callable[[ServerMessage], T]
    blocking: bool = False


class StreamRequest(NamedTuple, Generic[ItemT]):
    """A request that opens a stream of pushed items, each read by ``item``.

    ``acknowledged``: the daemon answers it with ``Ok`` once the stream is live.
    """

    message: Callable[[int], ClientMessage]
    accepts: tuple[type[Reply], ...]
    item: Callable[[Reply], ItemT]
    acknowledged: bool


def ping() -> Request[None]:
    """``Ping``, answered with ``Pong``."""
    return Request(lambda i: Ping(id=i), _none_from(Pong))


def status(
    names: tuple[str, ...], stats: bool, usage: bool = False
) -> Request[list[ProgramStatus]]:
    """``Status`` of the named programs (every program when ``names`` is empty)."""
    return Request(lambda i: Status(id=i, names=names, stats=stats, usage=usage), _status)


def store() -> Request[StoreHealth | None]:
    """The state store's health, from a ``Status`` of no program in particular."""
    return Request(lambda i: Status(id=i, names=(), stats=False), _store)


def status_and_store(
    names: tuple[str, ...], stats: bool
) -> Request[tuple[list[ProgramStatus], StoreHealth | None]]:
    """``Status`` of the named programs and the state store's health, in one round trip."""
    return Request(lambda i: Status(id=i, names=names, stats=stats), _status_and_store)


def action(
    kind: type[Start | Stop | Restart], names: tuple[str, ...], every: bool, wait: bool
) -> Request[list[ActionResult]]:
    """``Start``, ``Stop`` or ``Restart`` the named programs, or all of them.

    Raises:
        UsageError: neither names nor ``every``, or both.
    """
    if bool(names) == every:
        raise UsageError(f"{tag_of(kind)}: name the programs, or ask for all (not both)")
    return Request(lambda i: kind(id=i, names=names, all=every, wait=wait), _results_of, wait)


def stop(
    names: tuple[str, ...], every: bool, wait: bool, with_dependents: bool
) -> Request[list[ActionResult]]:
    """``Stop`` the named programs, or all of them; ``with_dependents`` stops first the
    programs that depend on them (else the daemon refuses to stop a needed program).

    Raises:
        UsageError: neither names nor ``every``, or both.
    """
    if bool(names) == every:
        raise UsageError("stop: name the programs, or ask for all (not both)")
    return Request(
        lambda i: Stop(id=i, names=names, all=every, wait=wait, with_dependents=with_dependents),
        _results_of,
        wait,
    )


def signal(
    names: tuple[str, ...], every: bool, signame: str, main: bool
) -> Request[list[ActionResult]]:
    """``Signal`` the named programs, or all of them, with ``signame`` (a bare name).

    Raises:
        UsageError: neither names nor ``every``, or both.
    """
    if bool(names) == every:
        raise UsageError("signal: name the programs, or ask for all (not both)")
    return Request(
        lambda i: Signal(id=i, names=names, all=every, signal=signame, main=main), _results_of
    )


def restart(
    names: tuple[str, ...],
    every: bool,
    wait: bool,
    rolling: bool = False,
    max_unavailable: int | None = None,
) -> Request[list[ActionResult]]:
    """``Restart`` the named programs, or all of them; ``rolling``: a few instances at a time,
    each batch ready before the next.

    Raises:
        UsageError: neither names nor ``every``, or both; ``rolling`` without ``wait``;
            ``max_unavailable`` without ``rolling``, or below 1.
    """
    if bool(names) == every:
        raise UsageError("restart: name the programs, or ask for all (not both)")
    if rolling and not wait:
        raise UsageError("restart: --rolling waits for each batch to be ready (no --no-wait)")
    if max_unavailable is not None and (not rolling or max_unavailable < 1):
        raise UsageError("restart: --max-unavailable is 1 or more, with --rolling")
    return Request(
        lambda i: Restart(
            id=i,
            names=names,
            all=every,
            wait=wait,
            rolling=rolling,
            max_unavailable=max_unavailable,
        ),
        _results_of,
        wait,
    )


def scale(name: str, count: int, wait: bool) -> Request[list[ActionResult]]:
    """``Scale`` a replicated program to ``count`` instances.

    Raises:
        UsageError: no name, or a negative count.
    """
    if not name:
        raise UsageError("scale: name the program")
    if count < 0:
        raise UsageError(f"scale: the count must be 0 or more, not {count}")
    return Request(lambda i: Scale(id=i, name=name, count=count, wait=wait), _results_of, wait)


def history(name: str | None, limit: int) -> Request[list[HistoryEntry]]:
    """``History`` of one program (of every program when ``name`` is None), oldest first."""
    if limit < 0:
        raise UsageError(f"history: the limit must be 0 or more, not {limit}")
    return Request(lambda i: History(id=i, name=name, limit=limit), _history)


def wait(
    names: tuple[str, ...], state: ProgramState, timeout: float | None, ready: bool = False
) -> Request[list[ActionResult]]:
    """``Wait`` until every named program is in ``state`` (with ``ready``: ready, or unable
    to get there); the daemon times it."""
    if not names:
        raise UsageError("wait: name at least one program")
    if timeout is not None and timeout < 0:
        raise UsageError(f"wait: the timeout must be 0 or more, not {timeout:g}")
    return Request(
        lambda i: Wait(id=i, names=names, state=state, timeout=timeout, ready=ready),
        _results_of,
        True,
    )


def reload(dry_run: bool = False) -> Request[_results.ReloadReply]:
    """``Reload`` the daemon's config file (with ``dry_run``, only plan it)."""
    return Request(lambda i: Reload(id=i, dry_run=dry_run), _reload)


def reopen_logs(names: tuple[str, ...]) -> Request[str]:
    """``ReopenLogs`` of the named programs (every program's when none): the daemon's word."""
    return Request(lambda i: ReopenLogs(id=i, names=names), _ok_message)


def shutdown(wait: bool) -> Request[_results.ShutdownReport | None]:
    """``Shutdown``, answered with ``Ok`` as it begins, or with ``wait`` by the report of how
    it went once the programs are stopped (None from a daemon that only says ``Ok``); the
    caller then waits for the daemon to close the connection. The daemon's
    ``shutdown_timeout`` bounds it."""
    return Request(lambda i: Shutdown(id=i, report=wait), _shutdown, wait)


def subscribe(since: int | None = None, follow: bool = True) -> StreamRequest[EventItem]:
    """The stream of events, live once its ``Ok`` is in: from now on (``since`` None), or the
    logged ones from seq ``since`` (the last ``-since`` when negative), then, with ``follow``,
    the live ones."""
    if since is None and not follow:
        raise UsageError("events: without since there is nothing to replay: follow them")
    return StreamRequest(
        lambda i: Subscribe(id=i, since=since, follow=follow),
        (StateChanged, DaemonEvent, Missed),
        _event,
        acknowledged=True,
    )


def webhooks() -> Request[list[WebhookStatus]]:
    """``Webhooks``: each configured webhook's delivery."""
    return Request(lambda i: Webhooks(id=i), _webhooks)


def logs(
    name: str | None,
    stream: Stream | None,
    lines: int,
    follow: bool,
    since: float | None = None,
) -> StreamRequest[_results.LogChunk | _results.Lagged]:
    """A program's last ``lines`` of output (those written at or after ``since``, epoch
    seconds, when given), then more as it comes with ``follow``."""
    if lines < 0:
        raise UsageError(f"logs: the line count must be 0 or more, not {lines}")
    if since is not None and since < 0:
        raise UsageError(f"logs: since must be a time, not {since:g}")
    return StreamRequest(
        lambda i: Logs(id=i, name=name, stream=stream, lines=lines, follow=follow, since=since),
        (LogChunk, Lagged),
        _log_item,
        acknowledged=False,
    )


# -- reading answers ---------------------------------------------------------------------------


def _kind(msg: ServerMessage | Reply) -> str:
    return repr(tag_of(type(msg)))


def _expect(reply: ServerMessage, cls: type[T]) -> T:
    if not isinstance(reply, cls):
        raise ProtocolMismatch(f"the daemon answered with an unexpected {_kind(reply)}")
    return reply


def _none_from(cls: type[ServerMessage]) -> Callable[[ServerMessage], None]:
    def answer(reply: ServerMessage) -> None:
        _expect(reply, cls)

    return answer


def _ok_message(reply: ServerMessage) -> str:
    return _expect(reply, Ok).message


def _status(reply: ServerMessage) -> list[ProgramStatus]:
    return list(_expect(reply, StatusReply).programs)


def _store(reply: ServerMessage) -> StoreHealth | None:
    return _expect(reply, StatusReply).store


def _status_and_store(reply: ServerMessage) -> tuple[list[ProgramStatus], StoreHealth | None]:
    status = _expect(reply, StatusReply)
    return list(status.programs), status.store


def _results_of(reply: ServerMessage) -> list[ActionResult]:
    return list(_expect(reply, ActionReply).results)


def _history(reply: ServerMessage) -> list[HistoryEntry]:
    return list(_expect(reply, HistoryReply).entries)


def _reload(reply: ServerMessage) -> _results.ReloadReply:
    return _results.without_id(_results.ReloadReply, _expect(reply, ReloadReply))


def _shutdown(reply: ServerMessage) -> _results.ShutdownReport | None:
    if isinstance(reply, ShutdownReply):
        return _results.without_id(_results.ShutdownReport, reply)
    _expect(reply, Ok)
    return None


def _event(item: Reply) -> EventItem:
    if isinstance(item, DaemonEvent):
        return _results.without_id(_results.DaemonEvent, item)
    if isinstance(item, Missed):
        return _results.without_id(_results.Missed, item)
    return _results.without_id(_results.StateChanged, item)


def _webhooks(reply: ServerMessage) -> list[WebhookStatus]:
    return list(_expect(reply, WebhooksReply).hooks)


def _log_item(item: Reply) -> _results.LogChunk | _results.Lagged:
    if isinstance(item, LogChunk):
        return _results.without_id(_results.LogChunk, item)
    return _results.without_id(_results.Lagged, item)
