"""Colours for a terminal: program states painted as ``systemctl`` paints unit states.

A state is green when it is where it should be (RUNNING), red when it failed for good (FATAL),
yellow while it is on its way or waiting to retry (STARTING, STOPPING, BACKOFF), and plain at
rest (STOPPED, EXITED). Colour is for people only: :func:`wants_colour` turns it off when the
output is not a terminal, when ``NO_COLOR`` is set (https://no-color.org), or for
``TERM=dumb``, unless ``--color always`` asks for it.

Pure: the caller says whether the stream is a terminal and hands in the environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["STATE_COLOURS", "paint", "paint_state", "wants_colour"]

GREEN: Final = "\x1b[0;1;32m"
RED: Final = "\x1b[0;1;31m"
YELLOW: Final = "\x1b[0;1;33m"
RESET: Final = "\x1b[0m"

#: The escape that starts each state's colour ("" for plain).
STATE_COLOURS: Final[dict[str, str]] = {
    "RUNNING": GREEN,
    "STARTING": YELLOW,
    "BACKOFF": YELLOW,
    "STOPPING": YELLOW,
    "FATAL": RED,
    "STOPPED": "",
    "EXITED": "",
}


def wants_colour(choice: str, isatty: bool, environ: Mapping[str, str]) -> bool:
    """Whether to colour a stream: ``choice`` is ``--color`` (``auto``, ``always``, ``never``);
    ``auto`` colours a terminal unless ``NO_COLOR`` is set (to anything but "") or
    ``TERM=dumb``."""
    if choice != "auto":
        return choice == "always"
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def paint(text: str, colour: str) -> str:
    """``text`` in ``colour`` (an escape from this module); as it is for ""."""
    return f"{colour}{text}{RESET}" if colour and text else text


def paint_state(text: str, state: str) -> str:
    """``text`` in the colour of the program state ``state`` (``RUNNING``...)."""
    return paint(text, STATE_COLOURS.get(state.upper(), ""))
