"""The daemon's command line: ``supervisord-lite -c CONFIG.toml [--check]``.

Maps every outcome to an exit code (0 ok, 2 usage or config error, an error's own ``exit_code``
otherwise) and prints errors as lines, never as a traceback. The runtime (and trio with it) is
imported only when the daemon really runs, so ``--check`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from supervisord_lite import __version__
from supervisord_lite.config import load_path
from supervisord_lite.errors import ConfigError, SupervisorLiteError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supervisord_lite.config import Config

PROG = "supervisord-lite"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (also the console-script entry point)."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["convert"]:
        return _convert(args_list[1:])
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = load_path(args.config)
        if args.check:
            print(_summary(config))
            return 0
        from supervisord_lite import runtime

        return runtime.run(config)
    except ConfigError as exc:
        for problem in exc.problems:
            where = "" if problem.path == "$" else f"{problem.path}: "
            print(f"{exc.source}: {where}{problem.message}", file=sys.stderr)
        return exc.exit_code
    except SupervisorLiteError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _convert(argv: Sequence[str]) -> int:
    """``supervisord-lite convert supervisord.conf``: TOML on stdout, notes on stderr."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} convert",
        description="Translate a supervisord config into a supervisord-lite config (TOML on"
        " stdout); say on stderr what could not be translated, and why.",
    )
    parser.add_argument("supervisord_conf", metavar="supervisord.conf")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    from supervisord_lite import convert

    try:
        conversion = convert.translate(convert.read_config(args.supervisord_conf))
    except convert.ConvertError as exc:
        print(f"{PROG} convert: {exc}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.write(convert.to_toml(conversion, args.supervisord_conf))
    for note in conversion.notes:
        print(f"{PROG} convert: {note}", file=sys.stderr)
    return 0


def _summary(config: Config) -> str:
    names = list(config.programs)
    noun = "program" if len(names) == 1 else "programs"
    listed = f" ({', '.join(names)})" if names else ""
    return f"ok: {config.source}: {len(names)} {noun}{listed}, socket {config.daemon.socket}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run the supervisor daemon in the foreground, or validate its config."
        f" '{PROG} convert supervisord.conf' translates a supervisord config.",
    )
    parser.add_argument(
        "-c", "--config", required=True, metavar="CONFIG.toml", help="the config file"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the config, print every problem, exit 0 (valid) or 2 (not)",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser
