"""The daemon's command line: ``supervisord-lite -c CONFIG.toml [--check | --reset-store]``.

Maps every outcome to an exit code (0 ok, 2 usage or config error, an error's own ``exit_code``
otherwise: docs/install.md has the table) and prints errors as lines, never as a traceback. The
runtime (and trio with it) is imported only when the daemon really runs, so ``--check`` stays
fast.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.print_unit or args.print_config:
        sys.stdout.write(_shipped("unit" if args.print_unit else "config", args.config))
        return 0
    if args.config is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: -c CONFIG.toml is required", file=sys.stderr)
        return 2
    try:
        config = _user_socket(load_path(args.config))
        if args.check:
            print(_summary(config))
            return 0
        from supervisord_lite import runtime

        return runtime.run(config, reset_store=args.reset_store)
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


def _user_socket(config: Config) -> Config:
    """``config`` with the socket a daemon not run by root uses for the default path: in
    ``$XDG_RUNTIME_DIR`` (``protocol/socket_path.py``), where ``svctl`` looks for it too."""
    from msgspec import structs

    from supervisord_lite.protocol.socket_path import daemon_socket

    socket = daemon_socket(config.daemon.socket, os.geteuid(), os.environ)
    if socket == config.daemon.socket:
        return config
    return structs.replace(config, daemon=structs.replace(config.daemon, socket=socket))


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


#: Where the shipped unit expects things; --print-unit puts this installation's paths there.
UNIT_BINARY = "/usr/local/bin/supervisord-lite"
UNIT_CONFIG = "/etc/supervisord-lite/supervisord-lite.toml"


def _shipped(what: str, config: str | None) -> str:
    """The systemd unit (with this installation's entry point, and ``config`` when given) or
    the config it runs, as shipped inside the package."""
    from importlib import resources

    files = resources.files("supervisord_lite.packaging")
    if what == "config":
        return (files / "supervisord-lite.toml").read_text()
    text = (files / "supervisord-lite.service").read_text()
    # This installation's entry point: the one running, else the one beside this interpreter
    # (python -m supervisord_lite), else the one on PATH.
    candidates = [os.path.abspath(sys.argv[0]), os.path.join(os.path.dirname(sys.executable), PROG)]
    found = [c for c in candidates if os.path.basename(c) == PROG and os.access(c, os.X_OK)]
    binary = found[0] if found else (shutil.which(PROG) or UNIT_BINARY)
    text = text.replace(UNIT_BINARY, binary)
    return text.replace(UNIT_CONFIG, os.path.abspath(config)) if config else text


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
    parser.add_argument("-c", "--config", metavar="CONFIG.toml", help="the config file")
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the config, print every problem, exit 0 (valid) or 2 (not)",
    )
    parser.add_argument(
        "--reset-store",
        action="store_true",
        help="if the state store is corrupt, move it aside (renamed with a timestamp, kept)"
        " and start a fresh one; a sound store is kept",
    )
    shipped = parser.add_mutually_exclusive_group()
    shipped.add_argument(
        "--print-unit",
        action="store_true",
        help="print the systemd unit, set to run this installation (with -c: that config)",
    )
    shipped.add_argument(
        "--print-config",
        action="store_true",
        help="print the config file the systemd unit runs, to start from",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser
