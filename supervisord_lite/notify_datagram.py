"""A program's notify datagram (the sd_notify protocol), parsed into what the daemon acts on.

A datagram is UTF-8 text of ``KEY=VALUE`` lines (systemd's ``sd_notify(3)``): ``READY=1``,
``STATUS=text``, ``MAINPID=N``, ``RELOADING=1``, ``STOPPING=1``, ``WATCHDOG=1`` (or
``WATCHDOG=trigger``), ``EXTEND_TIMEOUT_USEC=N``, and our own ``X_...`` keys (progress:
``X_PROGRESS_DONE``, ``X_PROGRESS_TOTAL``, ``X_PROGRESS_PHASE``, ``X_PROGRESS_UNIT``; any other
``X_`` key is a free field). Keys systemd knows and we do not act on (``ERRNO``, ``BUSERROR``,
``WATCHDOG_USEC``, ``FDSTORE``...) are skipped, as systemd skips what it does not know.

Nothing a program sends can make the daemon hold more than the bounds below: a datagram past
``MAX_DATAGRAM`` is refused whole; each bad line is named in ``problems`` and the rest applies.
Pure: bytes in, a frozen ``Notification`` out.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = [
    "MAX_DATAGRAM",
    "MAX_FREE_FIELDS",
    "MAX_KEY",
    "MAX_VALUE",
    "Notification",
    "parse",
]

MAX_DATAGRAM: Final = 4096
"""Largest datagram read (systemd reads at most a page too)."""
MAX_FREE_FIELDS: Final = 32
MAX_KEY: Final = 64
MAX_VALUE: Final = 1024

_FLAGS: Final = {"READY": "ready", "RELOADING": "reloading", "STOPPING": "stopping"}
_PROGRESS_NUMBERS: Final = {"X_PROGRESS_DONE": "done", "X_PROGRESS_TOTAL": "total"}
_PROGRESS_TEXTS: Final = {"X_PROGRESS_PHASE": "phase", "X_PROGRESS_UNIT": "unit"}


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """What one datagram said; None (or empty) for what it did not say."""

    ready: bool = False
    reloading: bool = False
    stopping: bool = False
    watchdog: bool = False
    watchdog_trigger: bool = False
    status: str | None = None
    main_pid: int | None = None
    extend_timeout: float | None = None
    """Seconds (``EXTEND_TIMEOUT_USEC`` / 1e6)."""
    done: float | None = None
    total: float | None = None
    phase: str | None = None
    unit: str | None = None
    fields: dict[str, str] = {}
    """Free ``X_`` fields, at most ``MAX_FREE_FIELDS``."""
    problems: tuple[str, ...] = ()

    @property
    def reports_progress(self) -> bool:
        return any(v is not None for v in (self.done, self.total, self.phase, self.unit)) or bool(
            self.fields
        )


def parse(data: bytes) -> Notification:
    """Parse one datagram; every problem is named, none raises."""
    if len(data) > MAX_DATAGRAM:
        return Notification(problems=(f"datagram of {len(data)} bytes > {MAX_DATAGRAM}",))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Notification(problems=(f"not UTF-8 text: {exc.reason} at byte {exc.start}",))
    values: dict[str, object] = {}
    fields: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key:
            problems.append(f"line {number}: expected KEY=VALUE")
            continue
        if len(key) > MAX_KEY or len(value) > MAX_VALUE:
            problems.append(f"line {number}: {key[:MAX_KEY]!r} too long")
            continue
        problem = _assign(key, value, values, fields)
        if problem:
            problems.append(f"line {number}: {problem}")
    values.update(fields=fields, problems=problems)
    return msgspec.convert(values, Notification)


def _assign(key: str, value: str, values: dict[str, object], fields: dict[str, str]) -> str:
    """Put one assignment into ``values``/``fields``; a problem's wording, or ''."""
    if key in _FLAGS:
        if value != "1":
            return f"{key} must be 1, got {value!r}"
        values[_FLAGS[key]] = True
    elif key == "WATCHDOG":
        if value not in ("1", "trigger"):
            return f"WATCHDOG must be 1 or trigger, got {value!r}"
        values["watchdog" if value == "1" else "watchdog_trigger"] = True
    elif key == "STATUS":
        values["status"] = value
    elif key == "MAINPID":
        if not value.isdigit() or int(value) < 1:
            return f"MAINPID must be a process id, got {value!r}"
        values["main_pid"] = int(value)
    elif key == "EXTEND_TIMEOUT_USEC":
        if not value.isdigit():
            return f"EXTEND_TIMEOUT_USEC must be microseconds, got {value!r}"
        values["extend_timeout"] = int(value) / 1e6
    elif key in _PROGRESS_NUMBERS:
        number = _number(value)
        if number is None:
            return f"{key} must be a number >= 0, got {value!r}"
        values[_PROGRESS_NUMBERS[key]] = number
    elif key in _PROGRESS_TEXTS:
        values[_PROGRESS_TEXTS[key]] = value
    elif key.startswith("X_"):
        if key not in fields and len(fields) >= MAX_FREE_FIELDS:
            return f"more than {MAX_FREE_FIELDS} X_ fields"
        fields[key] = value
    return ""


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number < 0 or number == float("inf"):
        return None
    return number
