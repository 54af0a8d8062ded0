"""What a client asks the daemon: every request, a tagged union on ``"op"``.

Each request's docstring says what it does, the ``svctl`` command that sends it and what the
daemon answers (the replies are in ``_replies.py``, what a stream pushes in ``_pushed.py``). The
rules every message keeps are in ``messages.py``; ``access.py`` says which role each request
needs.

This module is pure: it imports the standard library, msgspec and the shared vocabulary.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from supervisord_lite.protocol._fields import (
    MAX_HISTORY,
    MAX_ID,
    MAX_LOG_LINES,
    MAX_REPLAY,
    MAX_REPLICAS,
    MAX_TIME,
    MAX_WAIT,
    RequestId,
    Stream,
)
from supervisord_lite.vocabulary import ProgramState

__all__ = [
    "Cancel",
    "Hello",
    "History",
    "Logs",
    "Ping",
    "Reload",
    "ReopenLogs",
    "Request",
    "Restart",
    "Scale",
    "Shutdown",
    "Signal",
    "Start",
    "Status",
    "Stop",
    "Subscribe",
    "Wait",
    "Webhooks",
]


class Request(Struct, tag_field="op", kw_only=True, frozen=True):
    """Base of every client message; ``id`` is chosen by the client and echoed in the reply."""

    id: RequestId = 0


class Hello(Request, tag="hello", kw_only=True, frozen=True):
    """Open the conversation; must be the first message on a connection.

    Answered with :class:`Welcome`, or ``Error(unsupported_version)`` and the connection
    closes. ``client`` names the client (``"svctl 0.1.0"``) for the daemon's log.
    ``read_only`` asks the daemon to refuse this connection every request that acts (a
    dashboard's ``svctl --read-only``), whatever the caller's uid may do.
    """

    version: Annotated[int, Meta(ge=0, le=MAX_ID)]
    client: str = ""
    read_only: bool = False


class Ping(Request, tag="ping", kw_only=True, frozen=True):
    """Check that the daemon answers (``svctl ok``). Answered with :class:`Pong`."""


class Status(Request, tag="status", kw_only=True, frozen=True):
    """Report programs' states (``svctl status [NAME...]``); empty ``names`` means all.

    Answered with :class:`StatusReply`, or ``Error(no_such_program, known=...)`` when a name
    is unknown. ``stats`` asks for each program's log counters too (``ProgramStatus.logs``);
    without it they are left out, which keeps the frequent plain status small and quick.
    ``usage`` asks for what each current run uses (``ProgramStatus.usage``): the daemon reads
    cgroup or /proc files for it, off its event loop (``svctl top`` asks every few seconds).
    """

    names: tuple[str, ...] = ()
    stats: bool = False
    usage: bool = False


class Start(Request, tag="start", kw_only=True, frozen=True):
    """Want programs up (``svctl start NAME... | --all [--no-wait]``).

    Give ``names`` or ``all=True``. With ``wait`` the reply comes once each program is
    RUNNING or has failed (FATAL, spawn error); without, as soon as the wish is recorded.
    Answered with :class:`ActionReply` (one result per program), or
    ``Error(no_such_program, known=...)`` before anything is done when a name is unknown.
    """

    names: tuple[str, ...] = ()
    all: bool = False
    wait: bool = True


class Stop(Request, tag="stop", kw_only=True, frozen=True):
    """Want programs down (``svctl stop NAME... | --all [--no-wait]``).

    Same fields and answers as :class:`Start`; with ``wait`` the reply comes once each
    program's process group is gone. A program that running programs depend on is refused
    (its result names them) unless ``with_dependents``, which stops them first.
    """

    names: tuple[str, ...] = ()
    all: bool = False
    wait: bool = True
    with_dependents: bool = False


class Restart(Request, tag="restart", kw_only=True, frozen=True):
    """Stop then start programs (``svctl restart NAME... | --all [--no-wait]``).

    Same fields and answers as :class:`Start`. With ``rolling`` (``svctl restart --rolling``)
    the instances are restarted ``max_unavailable`` at a time (None: each program's own
    setting), each batch ready before the next; the first that does not get ready stops the
    roll, and the instances not restarted are answered ``ok=False`` with why.
    """

    names: tuple[str, ...] = ()
    all: bool = False
    wait: bool = True
    rolling: bool = False
    max_unavailable: Annotated[int, Meta(ge=1, le=MAX_REPLICAS)] | None = None


class Scale(Request, tag="scale", kw_only=True, frozen=True):
    """Run ``count`` instances of a replicated program (``svctl scale NAME N``): new ones are
    started (with ``wait``, answered once each runs or failed), the highest indices stopped
    first; the count is kept across daemon restarts. Answered with :class:`ActionReply` (one
    result per instance added or removed), or ``Error(no_such_program)``, or
    ``Error(bad_request)`` for a program without ``replicas``.
    """

    name: Annotated[str, Meta(min_length=1)]
    count: Annotated[int, Meta(ge=0, le=MAX_REPLICAS)]
    wait: bool = True


class History(Request, tag="history", kw_only=True, frozen=True):
    """Read the recorded starts, exits, stops and restarts (``svctl history NAME [-n N]``).

    ``name`` None means every program; at most ``limit`` entries, newest last. Answered with
    :class:`HistoryReply`, or ``Error(no_such_program)``.
    """

    name: str | None = None
    limit: Annotated[int, Meta(ge=0, le=MAX_HISTORY)] = 20


class Logs(Request, tag="logs", kw_only=True, frozen=True):
    """Send a program's recent output, then optionally follow it (``svctl logs NAME [-f]``).

    ``name`` None means every program, ``stream`` None both streams. The daemon pushes
    :class:`LogChunk` messages (id = this request's id) for the last ``lines`` lines, then,
    without ``follow``, :class:`End`. For one program and both streams ``lines`` counts over
    both, sent in the order the lines were written (``runtime/logs/order.py``); else each
    stream gets its own ``lines``. With ``follow`` chunks keep coming, with
    :class:`Lagged` when this reader fell behind, until :class:`Cancel` or shutdown, which
    end it with :class:`End`. Answered with ``Error(no_such_program)`` for an unknown name.

    ``since`` (seconds since the epoch, UTC) keeps, of the last ``lines`` lines, only those
    written at or after that time (send ``lines = MAX_LOG_LINES`` for all of them); what is
    followed live is not filtered. It needs log files whose lines carry their time
    (``log.timestamps`` or ``log.format = "json"``): else ``Error(bad_request)`` says which
    streams lack it.
    """

    name: str | None = None
    stream: Stream | None = None
    lines: Annotated[int, Meta(ge=0, le=MAX_LOG_LINES)] = 10
    follow: bool = False
    since: Annotated[float, Meta(ge=0, le=MAX_TIME)] | None = None


class Wait(Request, tag="wait", kw_only=True, frozen=True):
    """Block until every named program is in ``state`` (``svctl wait NAME... --state S``).

    The daemon waits on its own state changes, never by polling. Answered with
    :class:`ActionReply` once all are there, ``Error(timeout)`` after ``timeout`` seconds
    (None waits forever), or ``Error(no_such_program)``. With ``ready`` the wait is for
    readiness (RUNNING) and ends at once for a program that can no longer get there (FATAL,
    or a dependency that failed): its result is ``ok=False`` with the reason.
    """

    names: tuple[str, ...]
    state: ProgramState
    timeout: Annotated[float, Meta(ge=0, le=MAX_WAIT)] | None = None
    ready: bool = False


class Subscribe(Request, tag="subscribe", kw_only=True, frozen=True):
    """Receive the daemon's events (``svctl events [--since SEQ] [-f]``), each with its ``seq``
    in the event log (docs/events.md).

    ``since`` None: only what happens from now on. ``since`` >= 0: first the logged events
    from seq ``since`` on (0: from the oldest kept), then, with ``follow``, what happens next,
    with no gap and no event twice at the seam. ``since`` = -N: the last N logged events, then
    the same. Answered with :class:`Ok`, then :class:`StateChanged` and :class:`DaemonEvent`
    messages carrying this request's id, in seq order; :class:`Missed` says which events are
    no longer kept (``since`` older than the retention). Without ``follow`` (and with a
    ``since``) the stream ends with :class:`End` after the replay; with it, at
    :class:`Cancel` or shutdown.
    """

    since: Annotated[int, Meta(ge=-MAX_REPLAY, le=MAX_ID)] | None = None
    follow: bool = True


class Webhooks(Request, tag="webhooks", kw_only=True, frozen=True):
    """Report each configured webhook's delivery (``svctl webhooks``). Answered with
    :class:`WebhooksReply`."""


class Cancel(Request, tag="cancel", kw_only=True, frozen=True):
    """End the log follow or subscription opened by request ``target``.

    The stream gets its :class:`End`; this request is answered with :class:`Ok` (also when
    ``target`` is already over, so a cancel never races with the stream's own end).
    """

    target: RequestId


class Reload(Request, tag="reload", kw_only=True, frozen=True):
    """Re-read the config file and apply the difference (``svctl reload``, or SIGHUP).

    With ``dry_run`` the daemon only works out the plan against the file as it is now and
    answers it, changing nothing. Answered with :class:`ReloadReply`, or
    ``Error(config_invalid)`` (the running config is kept).
    """

    dry_run: bool = False


class Shutdown(Request, tag="shutdown", kw_only=True, frozen=True):
    """Stop every program and exit the daemon (``svctl shutdown``).

    Answered with :class:`Ok` as soon as the shutdown begins; with ``report``, instead with
    :class:`ShutdownReply` once the programs are stopped, saying what had to be SIGKILLed.
    Open streams then get :class:`End` and the connection closes.
    """

    report: bool = False


class ReopenLogs(Request, tag="reopen_logs", kw_only=True, frozen=True):
    """Close the log files and open their paths afresh (``svctl logs --reopen``, or SIGUSR1):
    what logrotate's ``postrotate`` asks for after it renamed the files.

    ``names`` empty means every program. Answered with :class:`Ok` once the reopenings are
    under way (each file is reopened before the next bytes go to it), or
    ``Error(no_such_program)``.
    """

    names: tuple[str, ...] = ()


class Signal(Request, tag="signal", kw_only=True, frozen=True):
    """Send a signal to programs (``svctl signal NAME... SIG [--main] | --all``).

    ``signal`` is a Linux signal name (``HUP``, ``SIGUSR1``, ``usr2``); it goes to every
    process of each program's run (its process group, and its cgroup or escaped descendants),
    or with ``main`` to its main process alone. Each signal sent is recorded in the history
    (``signalled``). Answered with :class:`ActionReply`: a program with no run is a result
    with ``ok=False``. An unknown signal name is ``Error(bad_request)``; an unknown program
    ``Error(no_such_program)``, before anything is sent.
    """

    names: tuple[str, ...] = ()
    all: bool = False
    signal: str
    main: bool = False
