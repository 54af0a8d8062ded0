"""What the daemon answers: the base of every server message and each request's reply.

Replies are a tagged union on ``"kind"`` and echo the id of the request they answer; a failure
is an :class:`Error` with an :class:`ErrorCode` and one line of message, never a traceback. What
a stream pushes after its answer (events, log chunks, its end) is in ``_pushed.py``; the rows of
a status reply in ``_status_values.py``.

This module is pure: it imports the standard library, msgspec and the shared vocabulary.
"""

from __future__ import annotations

from msgspec import Struct

from supervisord_lite.protocol._fields import NonNegative
from supervisord_lite.protocol._status_values import ProgramStatus, StoreHealth
from supervisord_lite.protocol.errors import ErrorCode
from supervisord_lite.vocabulary import HistoryEntry, ProgramState

__all__ = [
    "ActionReply",
    "ActionResult",
    "Error",
    "HistoryReply",
    "Ok",
    "PlannedChange",
    "PlannedProgram",
    "Pong",
    "ReloadReply",
    "Reply",
    "ShutdownReply",
    "StatusReply",
    "WebhookStatus",
    "WebhooksReply",
    "Welcome",
]


class Reply(Struct, tag_field="kind", kw_only=True, frozen=True):
    """Base of every server message; ``id`` is the request it answers or the subscription."""

    id: int = 0


class Welcome(Reply, tag="welcome", kw_only=True, frozen=True):
    """The daemon's answer to :class:`Hello`; always the first message it sends."""

    version: int
    pid: int
    daemon_version: str


class Pong(Reply, tag="pong", kw_only=True, frozen=True):
    """The answer to :class:`Ping`."""


class Ok(Reply, tag="ok", kw_only=True, frozen=True):
    """A request with nothing to report succeeded (shutdown begun, cancel done, subscribed)."""

    message: str = ""


class StatusReply(Reply, tag="status", kw_only=True, frozen=True):
    """The answer to :class:`Status`, in config order."""

    programs: tuple[ProgramStatus, ...]
    store: StoreHealth | None = None


class ActionResult(Struct, kw_only=True, frozen=True):
    """The outcome of a start, stop, restart or wait for one program."""

    name: str
    ok: bool
    state: ProgramState
    message: str = ""


class ActionReply(Reply, tag="action", kw_only=True, frozen=True):
    """The answer to :class:`Start`, :class:`Stop`, :class:`Restart` and :class:`Wait`."""

    results: tuple[ActionResult, ...]


class HistoryReply(Reply, tag="history", kw_only=True, frozen=True):
    """The answer to :class:`History`, oldest first."""

    entries: tuple[HistoryEntry, ...]


class PlannedChange(Struct, kw_only=True, frozen=True):
    """One setting a reload changes: its dotted name, old and new values as text (``env``
    values masked as ``***``), and its effect: for a program ``hot`` (applied to the running
    process), ``restart`` or ``scale`` (``replicas``: instances added or stopped); for
    ``[daemon]`` ``live`` or ``daemon-restart`` (the running value stays until the daemon
    restarts)."""

    field: str
    old: str
    new: str
    effect: str


class PlannedProgram(Struct, kw_only=True, frozen=True):
    """What a reload does to one program: ``fate`` is ``added``, ``removed``, ``changed`` or
    ``unchanged``; ``restart`` when a change needs a new process."""

    name: str
    fate: str
    restart: bool = False
    changes: tuple[PlannedChange, ...] = ()


class ReloadReply(Reply, tag="reload", kw_only=True, frozen=True):
    """The answer to :class:`Reload`: program names by what the new config did to them, and
    the plan in full (``programs``, ``daemon``); ``dry_run`` when nothing was applied."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    dry_run: bool = False
    programs: tuple[PlannedProgram, ...] = ()
    daemon: tuple[PlannedChange, ...] = ()


class ShutdownReply(Reply, tag="shutdown", kw_only=True, frozen=True):
    """The answer to :class:`Shutdown` with ``report``: the programs that had to be SIGKILLed at
    ``shutdown_timeout`` and the bytes of their output that could not reach the log files
    (what makes the daemon exit 4 or 5)."""

    killed: tuple[str, ...] = ()
    output_lost: NonNegative = 0


class WebhookStatus(Struct, kw_only=True, frozen=True):
    """One webhook's delivery (``svctl webhooks``): ``cursor`` is the last seq it dealt with
    (delivered, or not for it), ``lag`` how many logged events it has still to go through,
    ``delivered``/``failed`` the deliveries and failed attempts since the daemon started,
    ``failing`` whether the last attempt failed, and ``error`` why."""

    name: str
    url: str
    cursor: NonNegative = 0
    lag: NonNegative = 0
    delivered: NonNegative = 0
    failed: NonNegative = 0
    failing: bool = False
    error: str = ""


class WebhooksReply(Reply, tag="webhooks", kw_only=True, frozen=True):
    """The answer to :class:`Webhooks`, in config order."""

    hooks: tuple[WebhookStatus, ...] = ()


class Error(Reply, tag="error", kw_only=True, frozen=True):
    """A request failed; ``known`` lists the valid program names for ``no_such_program``."""

    code: ErrorCode
    message: str
    known: tuple[str, ...] = ()
