"""What ``svctl`` prints, as pure functions of the daemon's answers: text in, no I/O.

Kept apart from the CLI so the formats are tested without a daemon and read in one place:
the status table, ``--json`` lines (one msgspec-encoded object per line, the protocol's field
names), action outcomes, history and event lines. Times are wall-clock epoch seconds from the
daemon, shown in ``tz`` (the local zone when None); nothing here reads a clock.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Final

import msgspec

from supervisord_lite.protocol.messages import PlannedProgram
from svctl._colour import paint_state
from svctl._results import DaemonEvent

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from supervisord_lite.protocol.messages import (
        ActionResult,
        HistoryEntry,
        ProgramStatus,
        Progress,
        StoreHealth,
        WebhookStatus,
    )
    from svctl._results import Lagged, Missed, ReloadReply, StateChanged

__all__ = [
    "STATUS_COLUMNS",
    "WEBHOOK_COLUMNS",
    "action_line",
    "attempt_line",
    "did_you_mean",
    "event_line",
    "history_line",
    "json_document",
    "json_line",
    "lagged_line",
    "last_exit",
    "missed_line",
    "progress_text",
    "reload_lines",
    "shutdown_line",
    "status_table",
    "uptime",
    "webhook_table",
]

STATUS_COLUMNS = ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT", "MESSAGE")
_STATE_COLUMN = STATUS_COLUMNS.index("STATE")
_NONE = "-"
_json = msgspec.json.Encoder()


def uptime(seconds: float | None) -> str:
    """A duration in its two largest units: ``12s``, ``4m03s``, ``2h05m``, ``3d04h``."""
    if seconds is None:
        return _NONE
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def last_exit(exit_code: int | None, exit_signal: str | None) -> str:
    """How a process ended: ``exit 3``, ``SIGKILL``, or ``-`` when it has not."""
    if exit_signal:
        return exit_signal if exit_signal.startswith("SIG") else f"SIG{exit_signal}"
    if exit_code is not None:
        return f"exit {exit_code}"
    return _NONE


def _message(p: ProgramStatus, now: float | None) -> str:
    """What the MESSAGE column says: why it waits, or why it is in its state; and its own
    ``STATUS=`` text, or its progress, if it sent any."""
    said = p.waiting_for or p.message
    if p.intent is not None and p.intent.want == "down":
        stopped = f"stopped by operator at {_when(p.intent.at, None)}"
        said = f"{said}; {stopped}" if said else stopped
    if p.reload_check is not None and not p.reload_check.ok:
        failed = f"reload check failed: {p.reload_check.detail}"
        said = f"{said}; {failed}" if said else failed
    if p.next_run is not None:
        due = f"next run {_when(p.next_run, None)}"
        said = f"{said}; {due}" if said else due
    own = progress_text(p.progress, now) if p.progress is not None else p.notify_status
    if own:
        said = f"{said}; {own}" if said else own
    return said


def progress_text(progress: Progress, now: float | None = None, *, bar: int = 0) -> str:
    """``index 30% (3/10 files) 4s ago: reading``: phase, percent (or done/total), the age of
    the report when ``now`` is given, and its message; a ``bar`` of that many cells before the
    percent when asked for."""
    parts = []
    if progress.phase:
        parts.append(progress.phase)
    done, total, unit = progress.done, progress.total, progress.unit
    counted = f"{_count(done)}/{_count(total)}" if done is not None and total else _count(done)
    if unit and counted:
        counted = f"{counted} {unit}"
    if done is not None and total:
        share = min(max(done / total, 0.0), 1.0)
        if bar > 0:
            filled = round(share * bar)
            parts.append("[" + "#" * filled + "." * (bar - filled) + "]")
        parts.append(f"{share * 100:.0f}% ({counted})")
    elif counted:
        parts.append(counted)
    if now is not None:
        parts.append(f"{uptime(now - progress.at)} ago")
    text = " ".join(parts)
    if progress.message:
        text = f"{text}: {progress.message}" if text else progress.message
    return text


def _count(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def store_warning(store: StoreHealth) -> str:
    """What ``svctl status`` says about a state store in trouble ("" when it is well: records
    queued for the next write are not trouble while writes succeed)."""
    lost = store.dropped + store.refused
    if not (store.failing or lost):
        return ""
    parts = []
    if store.pending:
        parts.append(f"{store.pending} records held back, not yet written")
    if lost:
        parts.append(f"{lost} records lost ({store.dropped} dropped, {store.refused} refused)")
    if store.error:
        parts.append(f"last error: {store.error}")
    return f"state store {store.path}: " + "; ".join(parts)


def status_table(
    programs: Sequence[ProgramStatus], now: float | None = None, *, colour: bool = False
) -> str:
    """The ``svctl status`` table: a header, then one aligned row per program; ``now`` (wall
    clock) dates progress reports; ``colour`` paints each state (see :mod:`svctl._colour`)."""
    rows = [STATUS_COLUMNS]
    rows.extend(
        (
            p.name,
            p.state.value,
            str(p.pid) if p.pid is not None else _NONE,
            uptime(p.uptime),
            str(p.restarts),
            last_exit(p.exit_code, p.exit_signal),
            _message(p, now),
        )
        for p in programs
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(STATUS_COLUMNS) - 1)]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        if colour and number:  # padded first, so the escapes do not count as width
            cells[_STATE_COLUMN] = paint_state(cells[_STATE_COLUMN], row[_STATE_COLUMN])
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


WEBHOOK_COLUMNS = ("NAME", "CURSOR", "LAG", "DELIVERED", "FAILED", "STATE")


def webhook_table(hooks: Sequence[WebhookStatus]) -> str:
    """The ``svctl webhooks`` table: per hook its cursor in the event log, the events it has
    still to go through, its deliveries and failed attempts, and ``ok`` or why it fails."""
    if not hooks:
        return "no webhooks configured"
    rows = [WEBHOOK_COLUMNS]
    rows.extend(
        (
            h.name,
            str(h.cursor),
            str(h.lag),
            str(h.delivered),
            str(h.failed),
            f"failing: {h.error}" if h.failing else "ok",
        )
        for h in hooks
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(WEBHOOK_COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


def json_document(items: Sequence[msgspec.Struct]) -> str:
    """Several objects as one JSON array (``--json`` of a command that answers a list)."""
    return _json.encode(list(items)).decode()


def json_line(item: msgspec.Struct) -> str:
    """One object as a line of JSON (``--json``); bytes fields come out as base64."""
    return _json.encode(item).decode()


def action_line(result: ActionResult, *, colour: bool = False) -> str:
    """``web: running``, or for a failure ``crasher: FATAL: exited too quickly``; ``colour``
    paints the state."""
    if result.ok:
        state = result.state.value.lower()
        shown = paint_state(state, result.state.value) if colour else state
        line = f"{result.name}: {shown}"
        return f"{line} ({result.message})" if result.message not in ("", state) else line
    state = result.state.value
    shown = paint_state(state, state) if colour else state
    return f"{result.name}: {shown}: {result.message or 'failed'}"


def attempt_line(event: StateChanged, attempt: int) -> str:
    """What a start shows of each step of its program on a terminal: ``web: attempt 2:
    starting (pid 4242)`` when a try begins, ``web: attempt 2 failed (exit 1): backoff, will
    retry`` when one fails and the daemon will try again (with its reason when it gives one),
    and the state otherwise."""
    new = event.new.value.lower()
    if event.new.value == "STARTING":
        pid = f" (pid {event.pid})" if event.pid is not None else ""
        return f"{event.program}: attempt {attempt}: starting{pid}"
    ended = last_exit(event.exit_code, event.exit_signal)
    why = f" ({ended})" if ended != _NONE else ""
    said = f": {event.message}" if event.message else ""
    if event.new.value == "BACKOFF":
        return f"{event.program}: attempt {attempt} failed{why}{said or '; will retry'}"
    return f"{event.program}: {new}{why}{said}"


def did_you_mean(names: Iterable[str], known: Sequence[str]) -> str:
    """``did you mean 'web'?`` for the unknown ``names`` that look like a known one ("" when
    none does), by :func:`difflib.get_close_matches`."""
    import difflib  # only a mistyped name pays for it

    guesses = []
    for name in names:
        if name not in known:
            guesses.extend(difflib.get_close_matches(name, known, n=1))
    if not guesses:
        return ""
    return "did you mean " + " or ".join(repr(g) for g in dict.fromkeys(guesses)) + "?"


def shutdown_line(killed: Sequence[str], output_lost: int) -> str:
    """What ``svctl shutdown`` says of a shutdown that was not clean ("" for a clean one)."""
    parts = []
    if killed:
        parts.append(
            f"the daemon had to SIGKILL {', '.join(killed)} at its shutdown_timeout"
            "; they did not stop in time"
        )
    if output_lost:
        parts.append(f"{output_lost} bytes of output could not be written to the log files")
    return "; ".join(parts)


def _when(at: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M:%S")


def _join(parts: Iterable[str]) -> str:
    return "  ".join(part for part in parts if part)


def history_line(entry: HistoryEntry, tz: tzinfo | None = None) -> str:
    """``2024-05-01 12:00:03  crasher  failed  pid 4243  exit 3  exited too quickly``."""
    ended = last_exit(entry.exit_code, entry.exit_signal)
    return _join(
        (
            _when(entry.at, tz),
            entry.program,
            entry.kind,
            f"pid {entry.pid}" if entry.pid is not None else "",
            ended if ended != _NONE else "",
            entry.reason if entry.reason != entry.kind else "",
        )
    )


def event_line(event: StateChanged | DaemonEvent, tz: tzinfo | None = None) -> str:
    """``#12  2024-05-01 12:00:03  web  STARTING -> RUNNING  pid 4242`` (``#seq`` first when
    the event has one); a daemon event as ``#3  2024-05-01 12:00:00  daemon  reload: ...``."""
    seq = f"#{event.seq}" if event.seq else ""
    if isinstance(event, DaemonEvent):
        return _join((seq, _when(event.at, tz), "daemon", f"{event.change}:", event.message))
    ended = last_exit(event.exit_code, event.exit_signal)
    if event.change != "state":
        said = (seq, _when(event.at, tz), event.program, f"{event.change}:", event.message)
        return _join(said)
    return _join(
        (
            seq,
            _when(event.at, tz),
            event.program,
            f"{event.old.value} -> {event.new.value}",
            f"pid {event.pid}" if event.pid is not None else "",
            ended if ended != _NONE else "",
            event.message if event.message != ended else "",
        )
    )


def missed_line(missed: Missed) -> str:
    """What a replay could not give: ``events 5 to 119 are no longer kept (the oldest is 120)``."""
    last = missed.oldest - 1
    span = f"event {last}" if missed.first == last else f"events {missed.first} to {last}"
    return f"{span} no longer kept (the oldest kept is {missed.oldest})"


def reload_lines(reply: ReloadReply) -> list[str]:
    """The plan a reload carried out (or, dry run, would carry out), one program a line and
    each changed field below it (``web: changed, restarted`` then ``  command: [...] -> [...]
    (restart)``), then the ``[daemon]`` changes; ``no changes`` when there are none."""
    lines = ["dry run: nothing applied"] if reply.dry_run else []
    planned: Sequence[PlannedProgram] = reply.programs or (
        *(PlannedProgram(name=n, fate="added") for n in reply.added),
        *(PlannedProgram(name=n, fate="removed") for n in reply.removed),
        *(PlannedProgram(name=n, fate="changed") for n in reply.changed),
    )
    for program in planned:
        if program.fate == "unchanged":
            continue
        if program.fate != "changed" or not reply.programs:  # a daemon that sent no plan
            lines.append(f"{program.name}: {program.fate}")
            continue
        verb = _RESTART_VERB[reply.dry_run] if program.restart else _HOT_VERB[reply.dry_run]
        if any(c.effect == "scale" for c in program.changes):
            verb += _SCALE_VERB[reply.dry_run]
        lines.append(f"{program.name}: changed, {verb}")
        lines.extend(f"  {c.field}: {c.old} -> {c.new} ({c.effect})" for c in program.changes)
    if not any(p.fate != "unchanged" for p in planned) and not reply.daemon:
        return [*lines, "no changes"]
    unchanged = [p.name for p in reply.programs if p.fate == "unchanged"] or reply.unchanged
    if unchanged:
        lines.append(f"unchanged: {', '.join(unchanged)}")
    for change in reply.daemon:
        line = f"[daemon] {change.field}: {change.old} -> {change.new} ({change.effect})"
        if change.effect != "live":
            line += f"; {change.old} stays until the daemon restarts"
        lines.append(line)
    return lines


#: What a changed program's line says, by ``dry_run``.
_RESTART_VERB: Final = {False: "restarted", True: "would restart"}
_HOT_VERB: Final = {False: "applied without a restart", True: "would apply without a restart"}
_SCALE_VERB: Final = {False: ", scaled", True: ", would scale"}


def lagged_line(item: Lagged) -> str:
    """What a log reader that fell behind missed."""
    return f"{item.program} {item.stream}: {item.dropped} bytes dropped (this reader fell behind)"


class LinePrefixer:
    """Interleaves output line by line, each line led by ``name | `` (``program``), its stream
    ``stderr | `` (``stream``), or both, ``name stderr | ``.

    Chunks arrive cut anywhere; a partial line is held per program and stream until its end
    arrives (or ``flush`` at the end), so lines of two programs or streams never mix.
    """

    def __init__(self, *, program: bool = True, stream: bool = False) -> None:
        self._partial: dict[tuple[str, str], bytes] = {}
        self._program = program
        self._stream = stream

    def _prefix(self, program: str, stream: str) -> bytes:
        label = " ".join(
            part for part, on in ((program, self._program), (stream, self._stream)) if on
        )
        return f"{label} | ".encode()

    def feed(self, program: str, stream: str, data: bytes) -> bytes:
        """The complete lines ``data`` finishes, prefixed; the rest is kept for later."""
        key = (program, stream)
        text = self._partial.pop(key, b"") + data
        complete, newline, rest = text.rpartition(b"\n")
        if rest:
            self._partial[key] = rest
        if not newline:
            return b""
        prefix = self._prefix(program, stream)
        return b"".join(prefix + line + b"\n" for line in complete.split(b"\n"))

    def flush(self) -> list[tuple[str, bytes]]:
        """Each stream's unfinished last line, prefixed and ended: (stream, bytes)."""
        out = [
            (stream, self._prefix(program, stream) + rest + b"\n")
            for (program, stream), rest in self._partial.items()
        ]
        self._partial.clear()
        return out
