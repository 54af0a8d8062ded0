"""``[programs.NAME.progress]``: how progress reports are read from the lines a program prints.

The pattern of ``format = "regex"`` is compiled here and must name a group the runtime reads, so
a pattern that could never report anything is a config error, not a silent nothing at run time
(docs/progress.md). Pure.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import msgspec

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, convert, table
from supervisord_lite.errors import Problem

__all__ = ["ProgressConfig", "progress"]


class ProgressConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[programs.NAME.progress]``: read progress reports from lines the program prints.

    ``format = "json"``: a line that is a JSON object with a ``progress`` object in it;
    ``format = "regex"``: a line ``pattern`` matches, its named groups ``done``, ``total``,
    ``phase``, ``message`` giving what they hold (docs/progress.md)."""

    source: Literal["stdout", "stderr"] = msgspec.field(name="from", default="stdout")
    format: Literal["json", "regex"]
    pattern: str | None = None


_PROGRESS_GROUPS: Final = ("done", "total", "phase", "message")


def progress(raw: object, where: str, problems: list[Problem]) -> object:
    """A ``progress`` table: ``from`` a captured stream, a known format, a usable pattern."""
    before = len(problems)
    given = {k: v for k, v in raw.items() if k != "from"} if isinstance(raw, dict) else raw
    values = table(given, ProgressConfig, where, problems, forbidden={"source": "unknown field"})
    if isinstance(raw, dict) and "from" in raw:
        values["source"] = convert(
            raw["from"], Literal["stdout", "stderr"], wording.join(where, "from"), problems
        )
    if len(problems) > before:
        return INVALID
    pattern = values.get("pattern")
    if values.get("format") == "regex":
        if pattern is None:
            problems.append(Problem(wording.join(where, "pattern"), "required with format = regex"))
            return INVALID
        try:
            groups = re.compile(pattern).groupindex
        except re.error as exc:
            problems.append(Problem(wording.join(where, "pattern"), f"not a valid regex: {exc}"))
            return INVALID
        if not any(g in groups for g in _PROGRESS_GROUPS):
            named = ", ".join(f"(?P<{g}>...)" for g in _PROGRESS_GROUPS)
            problems.append(Problem(wording.join(where, "pattern"), f"needs a group of {named}"))
            return INVALID
    elif pattern is not None:
        problems.append(Problem(wording.join(where, "pattern"), "only with format = regex"))
        return INVALID
    return ProgressConfig(**values)
