"""What a translation gives back: the config table and the notes on what was not carried over."""

from __future__ import annotations

from typing import NamedTuple


class Note(NamedTuple):
    """Something the translation could not carry over as it was: where, and why."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class Conversion(NamedTuple):
    """The translated config (a TOML-ready table) and what could not be translated."""

    config: dict[str, object]
    notes: list[Note]


class ConvertError(Exception):
    """The supervisord config cannot be read at all (a file is missing, the INI is broken)."""

    exit_code = 2


# Each supervisord [program:x] option -> our field (a dotted path), or None with the reason it
# has no counterpart. Options handled by hand (their value changes shape) are named in _SPECIAL.
