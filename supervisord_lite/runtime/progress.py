"""A program's progress: the latest report of its current run, from its notify socket or its output.

A program reports how far it is with ``X_PROGRESS_*`` and ``STATUS=`` on its notify socket, or,
when it can only print, in lines of its output (``progress = { from, format, pattern }``); both
are described in docs/progress.md. A program may report thousands of times a second: each report
only overwrites the few values kept here (a part it does not send keeps its last value in the
run), so memory stays the same however many come. Reading the output looks only at lines that can
be reports (a JSON line holding ``"progress"``, a line the pattern matches); the lines go to the
log file all the same. The event log gets the latest report at most once a second per program,
and a new phase at once (a milestone; ``ProgressPusher``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, TypeAlias

import msgspec
import trio

from supervisord_lite.notify_datagram import MAX_VALUE
from supervisord_lite.protocol.messages import Progress
from supervisord_lite.regex_literals import required_bytes
from supervisord_lite.runtime.reports import noted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from supervisord_lite import lifecycle as lc
    from supervisord_lite.config import ProgressConfig
    from supervisord_lite.notify_datagram import Notification
    from supervisord_lite.runtime.services import RunnerServices

__all__ = [
    "MAX_PARTIAL_LINE",
    "PUSH_INTERVAL",
    "ProgressKeeper",
    "ProgressPusher",
    "Report",
    "line_reader",
]

Report: TypeAlias = "dict[str, float | str]"
"""One report's parts by name (``done``, ``total``, ``phase``, ``unit``, ``message``)."""

#: Progress is pushed to followers at most this often (seconds), per program.
PUSH_INTERVAL: Final = 1.0
#: The longest partial line kept between two chunks of output.
MAX_PARTIAL_LINE: Final = 64 * 1024
_TEXTS: Final = ("phase", "unit", "message")


class ProgressKeeper:
    """The latest progress of a program's current run; ``progress()`` for its status."""

    __slots__ = (
        "_at",
        "_done",
        "_fields",
        "_message",
        "_phase",
        "_reports",
        "_total",
        "_unit",
        "listener",
        "serial",
    )

    def __init__(self) -> None:
        #: Told after each report (the runtime pushes progress from there).
        self.listener: Callable[[], None] | None = None
        #: Counts every report ever kept, across runs (what was pushed is told by it).
        self.serial = 0
        self.reset()

    def reset(self) -> None:
        """A new run: nothing reported yet."""
        self._done: float | None = None
        self._total: float | None = None
        self._phase: str | None = None
        self._unit: str | None = None
        self._message: str | None = None
        self._fields: dict[str, str] = {}
        self._at = 0.0
        self._reports = 0

    def notified(self, note: Notification, at: float) -> bool:
        """Keep what a datagram said of progress (``STATUS=`` is the message); whether it did."""
        if not note.reports_progress and note.status is None:
            return False
        said = {"done": note.done, "total": note.total, "phase": note.phase, "unit": note.unit}
        report: Report = {k: v for k, v in said.items() if v is not None}
        if note.status is not None:
            report["message"] = note.status
        self.update(at, report)
        if note.fields:
            self._fields = note.fields
        return True

    def update(self, at: float, report: Report) -> None:
        """One report: what it gives replaces the last value, what it leaves out stays."""
        for key, value in report.items():
            if isinstance(value, float):
                if key == "done":
                    self._done = value
                elif key == "total":
                    self._total = value
            elif key == "phase":
                self._phase = value
            elif key == "unit":
                self._unit = value
            elif key == "message":
                self._message = value
        self._at = at
        self._reports += 1
        self.serial += 1
        if self.listener is not None:
            self.listener()

    @property
    def phase(self) -> str | None:
        return self._phase

    def progress(self) -> Progress | None:
        if not self._reports:
            return None
        return Progress(
            done=self._done,
            total=self._total,
            phase=self._phase,
            unit=self._unit,
            message=self._message,
            at=self._at,
            fields=dict(self._fields),
            reports=self._reports,
        )


class ProgressPusher:
    """Logs a program's progress as events (a ``StateChanged`` with ``change = "progress"``):
    a report that starts a new phase is a milestone, logged at once; another report is logged
    at once, or, within ``PUSH_INTERVAL`` of the last, once that interval is over (the latest
    report then; those in between are never logged). A flood of reports in one phase costs one
    timer on the daemon's ``Deadlines`` a second, and no task."""

    __slots__ = (
        "_closed",
        "_due",
        "_keeper",
        "_name",
        "_pushed_at",
        "_pushed_phase",
        "_pushed_serial",
        "_services",
        "_snapshot",
    )

    def __init__(
        self,
        name: str,
        keeper: ProgressKeeper,
        services: RunnerServices,
        snapshot: Callable[[], lc.Snapshot],
    ) -> None:
        self._name = name
        self._keeper = keeper
        self._services = services
        self._snapshot = snapshot
        self._pushed_at = float("-inf")
        self._pushed_phase: str | None = None
        self._pushed_serial = 0
        self._due = False
        self._closed = False
        keeper.listener = self.reported

    def reported(self) -> None:
        if self._closed:
            return
        if self._keeper.phase != self._pushed_phase:
            self._push()  # a milestone
            return
        if self._due:
            return
        due = self._pushed_at + PUSH_INTERVAL
        if trio.current_time() >= due:
            self._push()
        else:
            self._due = True
            self._services.deadlines.at(due, self._timer)

    def close(self) -> None:
        """The program is gone: nothing more is pushed."""
        self._closed = True

    def _timer(self) -> None:
        self._due = False
        due = self._pushed_at + PUSH_INTERVAL
        if trio.current_time() < due:  # a milestone was pushed since the timer was armed
            if self._keeper.serial != self._pushed_serial:
                self._due = True
                self._services.deadlines.at(due, self._timer)
            return
        self._push()

    def _push(self) -> None:
        keeper = self._keeper
        progress = keeper.progress()
        if self._closed or progress is None or keeper.serial == self._pushed_serial:
            return
        self._pushed_at = trio.current_time()
        self._pushed_phase = progress.phase
        self._pushed_serial = keeper.serial
        snap = self._snapshot()
        self._services.events.publish(
            noted(
                self._name,
                snap,
                "progress",
                progress.message or "",
                at=self._services.wall_clock(),
                progress=progress,
            )
        )


def line_reader(
    config: ProgressConfig, keeper: ProgressKeeper, clock: Callable[[], float]
) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    """A watcher of chunks of output that keeps each report line in ``keeper``, and what
    forgets a partial line (a new run).

    The chunk is searched whole, in C (``bytes.find``, one regex scan), for where a report may
    be; only the lines found there are parsed one by one. Output with no report in it, which is
    most output, costs one scan and no Python per line.
    """
    reports = _json_reports if config.format == "json" else _regex_reports(config.pattern or "")
    partial = [b""]

    def watcher(data: bytes) -> None:
        end = data.rfind(b"\n")
        if end < 0:
            partial[0] = (partial[0] + data)[-MAX_PARTIAL_LINE:]
            return
        first = data.find(b"\n")
        head = partial[0] + data[:first]  # the line the last chunk began
        partial[0] = data[end + 1 :][-MAX_PARTIAL_LINE:]
        for found in reports(head, 0, len(head)):
            keeper.update(clock(), found)
        for found in reports(data, first + 1, end):  # searched in place: no copy
            keeper.update(clock(), found)

    def forget() -> None:
        partial[0] = b""

    return watcher, forget


def _line_around(buf: bytes, pos: int, start: int, end: int) -> tuple[int, int]:
    """The bounds of the line that holds ``pos``, within the whole lines ``buf[start:end]``."""
    stop = buf.find(b"\n", pos, end)
    return max(start, buf.rfind(b"\n", start, pos) + 1), end if stop < 0 else stop


def _json_reports(buf: bytes, start: int, end: int) -> Iterator[Report]:
    """The reports of the whole lines ``buf[start:end]``: only lines holding ``"progress"``
    are parsed."""
    brace = buf.find(b"{", start, end)  # one byte: memchr, far faster than a word
    pos = -1 if brace < 0 else buf.find(b'"progress"', brace, end)
    while pos >= 0:
        first, stop = _line_around(buf, pos, start, end)
        found = _json_line(buf[first:stop])
        if found is not None:
            yield found
        pos = buf.find(b'"progress"', stop, end)


def _json_line(line: bytes) -> Report | None:
    if b'"progress"' not in line or not line.lstrip().startswith(b"{"):
        return None
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    report = obj.get("progress") if isinstance(obj, dict) else None
    if not isinstance(report, dict):
        return None
    found: Report = {}
    for key in ("done", "total"):
        value = report.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e308:
            found[key] = float(value)
    for key in _TEXTS:
        value = report.get(key)
        if isinstance(value, str):
            found[key] = value[:MAX_VALUE]
    return found or None


def _regex_reports(pattern: str) -> Callable[[bytes, int, int], Iterator[Report]]:
    """The reports of the whole lines ``buf[start:end]``: they are scanned once for where the
    pattern may match, and each line a hit begins in is matched on its own, so a report is
    what the pattern finds in one line.

    A chunk that lacks a byte every match holds (``regex_literals``) is passed over with a
    memchr per byte. Otherwise the scan drops a leading ``^`` (and reads ``$`` at each line's
    end): a pattern that begins with literal text is then found by the regex engine's literal
    search, not tried at every byte; the per-line match keeps the anchor.
    """
    regex = re.compile(pattern.encode())
    scan = re.compile(pattern.removeprefix("^").encode(), re.MULTILINE)
    needed = required_bytes(pattern)

    def reports(buf: bytes, start: int, end: int) -> Iterator[Report]:
        for byte in needed:
            if buf.find(byte, start, end) < 0:
                return  # a byte every match holds is not there (one memchr)
        done = start
        for hit in scan.finditer(buf, start, end):
            if hit.start() < done:
                continue  # a later match in a line already read
            first, stop = _line_around(buf, hit.start(), start, end)
            done = stop + 1
            match = regex.search(buf[first:stop])
            found = _from_groups(match) if match is not None else None
            if found is not None:
                yield found

    return reports


def _from_groups(match: re.Match[bytes]) -> Report | None:
    found: Report = {}
    for key, value in match.groupdict().items():
        if value is None:
            continue
        text = value.decode("utf-8", "replace")[:MAX_VALUE]
        if key in ("done", "total"):
            number = _number(text)
            if number is not None:
                found[key] = number
        elif key in ("phase", "message"):
            found[key] = text
    return found or None


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if 0 <= number < float("inf") else None
