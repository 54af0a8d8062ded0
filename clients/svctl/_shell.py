"""Shell completion (bash, zsh, fish) and the manual page, from the parser ``--help`` uses.

Both are generated from :func:`svctl.cli.build_parser`, so a new option or subcommand shows
up in ``--help``, the completions and ``man svctl`` alike, and none can go stale:

- completion scripts by shtab (https://github.com/iterative/shtab), which walks an argparse
  parser and writes bash, zsh and fish scripts, with hooks for dynamic values;
- the manual page by argparse-manpage (https://github.com/praiskup/argparse-manpage), which
  formats the same parser as roff (every subcommand, option and the epilog).

Arguments that name programs complete from the running daemon: the scripts run
``svctl --timeout 0.5 completion --programs`` (the socket from ``$SVCTL_SOCKET`` or the
default), which prints one name a line, and nothing, quickly, when no daemon answers.

Both libraries are imported only by the commands that print these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import argparse

__all__ = ["PROGRAM_NAMES", "SHELLS", "completion_script", "man_page", "mark_program_names"]

SHELLS: Final = ("bash", "zsh", "fish")
#: How long completion waits for the daemon, in seconds: a Tab must not hang.
NAMES_TIMEOUT: Final = 0.5
_NAMES_COMMAND: Final = f"svctl --timeout {NAMES_TIMEOUT} completion --programs 2>/dev/null"
#: The attribute shtab reads on an argparse action: how to complete its value, per shell.
PROGRAM_NAMES: Final[dict[str, str | dict[str, str]]] = {
    "bash": "_svctl_program_names",
    "zsh": f"($({_NAMES_COMMAND}))",
    "fish": f"({_NAMES_COMMAND})",
    "preamble": {
        "bash": f'_svctl_program_names() {{\n  compgen -W "$({_NAMES_COMMAND})" -- "$1"\n}}\n',
    },
}


def mark_program_names(action: argparse.Action) -> argparse.Action:
    """Have the completion scripts complete ``action``'s values from the daemon's programs."""
    action.complete = PROGRAM_NAMES  # type: ignore[attr-defined]
    return action


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`)."""
    import shtab

    return shtab.complete(parser, shell=shell)


def man_page(parser: argparse.ArgumentParser, version: str) -> str:
    """``svctl(1)`` in roff, for ``man``."""
    from argparse_manpage.manpage import Manpage  # type: ignore[import-untyped]

    page = Manpage(parser)
    page.source = f"supervisord-lite {version}"
    page.manual = "supervisord-lite manual"
    page.description = "control a supervisord-lite daemon"
    text: str = str(page)
    return text
