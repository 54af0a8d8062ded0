"""The ``svctl`` command: one subcommand per request, printed by :mod:`svctl.render`.

It talks to the daemon only through the public ``svctl`` API (:class:`svctl.Client`) and never
imports trio or anyio. ``--timeout`` bounds every command: a query or the handshake, a
blocking start/stop/restart/shutdown (which otherwise waits as long as the daemon says it may
take), ``wait`` (the daemon's wait, and the call), and how long ``events`` and ``logs -f``
listen (they end with 0 then). Every outcome is an exit code (0 done, 1 refused or failed,
2 usage or config error, 3 daemon unreachable) and every error one line on stderr, never a
traceback: ``SvctlError`` is caught here and printed as ``svctl: <message>``; Ctrl-C exits
130 without a word. ``shutdown`` exits 4 (or 5) as the daemon does when it had to SIGKILL
programs (or lost output).

This module is the dispatch, and ``status`` and ``ok``, the commands run most often (by people,
scripts and probes): the other commands and their options are in :mod:`svctl._commands` and
:mod:`svctl._arguments`, loaded only when one of them is typed. What is printed is built
elsewhere: text in :mod:`svctl.render` (colours in :mod:`svctl._colour`), ``--json`` documents
in :mod:`svctl._json_out`, a start's attempts in :mod:`svctl._attempts`, completion scripts and
the manual page in :mod:`svctl._shell`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Final, TypeAlias, cast

import supervisord_lite
from svctl import (
    DEFAULT_SOCKET,
    SOCKET_ENV,
    Client,
    NoSuchProgram,
    SvctlError,
    _shell,
    render,
    socket_from_config,
)
from svctl._colour import wants_colour
from svctl._session import resolve_socket

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


PROG: Final = "svctl"
QUICK_TIMEOUT: Final = 10.0
"""Seconds a query may take when ``--timeout`` is not given."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``svctl`` with ``argv`` (``sys.argv[1:]`` when None); the exit status.

    Also the console-script entry point.
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(typed_command(arguments))
    try:
        args = parser.parse_args(arguments)
        _check_names(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        path = socket_path(args.socket, args.config, os.environ)
        args.socket_path = path
        args.colour = wants_colour(args.color, sys.stdout.isatty(), os.environ)
        timeout = args.timeout if args.timeout is not None else QUICK_TIMEOUT
        if getattr(args, "offline", None) is not None:
            offline: int = args.offline(args)
            return offline
        with Client(path, timeout=timeout, read_only=args.read_only) as client:
            code: int = args.handler(client, args)
        return code
    except NoSuchProgram as exc:
        hint = render.did_you_mean(_named(args), exc.known)
        print(f"{PROG}: {exc}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return exc.exit_code
    except SvctlError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``svctl events | head -1``): stop quietly, as a shell tool does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def socket_path(socket: str | None, config: str | None, environ: Mapping[str, str]) -> str:
    """``--socket``, else ``$SVCTL_SOCKET``, else ``-c CONFIG``'s ``[daemon].socket``, else
    the default.

    Only ``[daemon].socket`` is read of the config (:func:`svctl.socket_from_config`, as
    ``Client.from_config`` does), so a file being edited does not lock the operator out: what
    cannot be read of it is a warning on stderr.

    Raises:
        UsageError: the config cannot be read at all.
    """
    if socket:
        return socket
    if environ.get(SOCKET_ENV):
        return environ[SOCKET_ENV]
    if config:
        path = socket_from_config(config, warn=_warn)
        if path != DEFAULT_SOCKET:
            return path
    return resolve_socket(None, environ, os.getuid(), os.path.exists)


def _named(args: argparse.Namespace) -> list[str]:
    """The program names the command line gave."""
    names = getattr(args, "names", None) or []
    name = getattr(args, "name", None)
    return [*names, *([name] if name else [])]


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _check_names(args: argparse.Namespace) -> None:
    if getattr(args, "offline", None) is not None and not (args.shell or args.programs):
        args.parser.error("name a shell (bash, zsh or fish), or give --programs")
    if hasattr(args, "targets"):  # svctl signal NAME... SIG: the signal comes last
        args.names, args.signal = tuple(args.targets[:-1]), args.targets[-1]
    if getattr(args, "all", None) is None or getattr(args, "reopen", False):
        return
    named = bool(args.names) if hasattr(args, "names") else args.name is not None
    if named == args.all:
        args.parser.error("name the programs, or give --all (not both)")


# -- the commands run most often -------------------------------------------------------------------


def run_ok(client: Client, args: argparse.Namespace) -> int:
    client.ping()
    return 0


def run_status(client: Client, args: argparse.Namespace) -> int:
    programs, store = client.status_and_store(*args.names, stats=args.json)
    if args.json:
        from svctl import _json_out

        print(_json_out.status_document(programs, store))
    else:
        print(render.status_table(programs, now=time.time(), colour=args.colour))
        if store is not None and (said := render.store_warning(store)):
            _warn(said)
    return 0


# -- the parser --------------------------------------------------------------------------------


_DESCRIPTION = f"""\
Control a supervisord-lite daemon through its control socket.

The socket is found from --socket PATH, else $SVCTL_SOCKET, else -c CONFIG ([daemon].socket),
else {DEFAULT_SOCKET}."""


_EPILOG = """\
exit codes:
  0  done
  1  the daemon refused or the command failed (no such program, spawn failed, timed out)
  2  usage or config error
  3  daemon unreachable (or it speaks another protocol version)
  4  shutdown: the daemon had to SIGKILL programs (5: their output could not all be written)

examples:
  svctl -c /etc/supervisord-lite.toml status
  svctl status web --json
  svctl restart web worker
  svctl stop --all --no-wait
  svctl wait web --state running --timeout 30
  svctl logs web -f --stream stderr
  SVCTL_SOCKET=/tmp/ctl.sock svctl ok && echo up"""


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _global_options(parser: argparse.ArgumentParser, *, top: bool, timeout: bool = True) -> None:
    """The connection options, accepted before the subcommand and (except wait's --timeout)
    after it; a subcommand's copy never overrides what was given before it."""
    default = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--socket", metavar="PATH", default=default, help="the daemon's control socket"
    )
    group.add_argument(
        "-c",
        "--config",
        metavar="CONFIG.toml",
        default=default,
        help="read the socket path from this config's [daemon].socket",
    )
    group.add_argument(
        "--read-only",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="look only: the daemon refuses this connection anything that acts (a dashboard's"
        " mode)",
    )
    group.add_argument(
        "--color",
        "--colour",
        dest="color",
        choices=("auto", "always", "never"),
        default="auto" if top else argparse.SUPPRESS,
        help="colour program states: auto (on a terminal, unless NO_COLOR is set), always or never",
    )
    if timeout:
        group.add_argument(
            "--timeout",
            type=seconds,
            metavar="SECONDS",
            default=default,
            help=(
                f"give up waiting for the daemon after this long (default: {QUICK_TIMEOUT:g}"
                " for queries; for start/stop/restart/shutdown, as long as the daemon may"
                " take); wait gives up after it, events and logs -f listen this long"
            ),
        )


#: Every subcommand, in ``--help`` order (a test holds it to :func:`build_parser`).
COMMANDS: Final = (
    "status", "ok", "progress", "start", "stop", "restart", "signal", "scale", "logs", "analyze",
    "graph", "history", "wait", "events", "webhooks", "reload", "shutdown", "web", "top",
    "completion",
)  # fmt: skip
#: The options before the subcommand that take a value: the token after one is not a command.
_VALUED: Final = frozenset({"--socket", "-c", "--config", "--color", "--colour", "--timeout"})
_ONLY = "_svctl_only"


def typed_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, where that is plain before parsing; None otherwise (no
    command, a mistyped one, ``--``), and then every subcommand's parser is built."""
    value_next = False
    for token in argv:
        if value_next:
            value_next = False
        elif token == "--":
            return None
        elif token.startswith("-"):
            value_next = token in _VALUED  # "--socket=PATH" carries its own
        else:
            return token if token in COMMANDS else None
    return None


class Unbuilt:
    """Stands in for the parser of a subcommand that was not typed: what is added to it is
    dropped, so svctl builds the one parser it runs and not twenty (a cold start's worth)."""

    def add_argument(self, *args: object, **kwargs: object) -> argparse.Action:
        return argparse.Action(option_strings=[], dest="unbuilt")

    def add_argument_group(self, *args: object, **kwargs: object) -> Unbuilt:
        return self

    def set_defaults(self, **kwargs: object) -> None:
        pass


def subcommand(
    subparsers: Subparsers,
    name: str,
    handler: Callable[[Client, argparse.Namespace], int],
    summary: str,
    examples: str,
    *,
    timeout: bool = True,
) -> argparse.ArgumentParser:
    only = getattr(subparsers, _ONLY, None)
    if only is not None and name != only:
        return cast("argparse.ArgumentParser", Unbuilt())
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples.splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, top=False, timeout=timeout)
    parser.set_defaults(handler=handler, parser=parser)
    return parser


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the outcome as one JSON document (docs/json.md)",
    )


class _PrintMan(argparse.Action):
    """``--print-man``: print the manual page made from this parser, and exit."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(_shell.man_page(parser, supervisord_lite.__version__))
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``svctl`` argument parser, with every subcommand, or with ``only`` that one (what
    ``main`` runs when :func:`typed_command` knows it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"{PROG} {supervisord_lite.__version__}"
    )
    parser.add_argument(
        "--print-man", action=_PrintMan, help="print the manual page svctl(1) (roff) and exit"
    )
    _global_options(parser, top=True)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    setattr(subparsers, _ONLY, only)

    status = subcommand(
        subparsers,
        "status",
        run_status,
        "show programs: name, state, pid, uptime, last exit, message",
        "svctl status\nsvctl status web worker\n"
        "svctl status --json | jq -r '.programs[] | .name + \" \" + .state'",
    )
    _shell.mark_program_names(
        status.add_argument(
            "names", nargs="*", metavar="NAME", help="programs to show (default: all)"
        )
    )
    status.add_argument(
        "--json",
        action="store_true",
        help="one JSON document: the programs, with their log counters, and the state store's"
        " health (docs/json.md)",
    )

    subcommand(
        subparsers,
        "ok",
        run_ok,
        "exit 0 if the daemon answers, 3 if it cannot be reached",
        "svctl ok && echo up",
    )
    if only not in ("status", "ok"):
        from svctl._arguments import add_commands  # here: only their commands pay for them

        add_commands(subparsers)
    return parser


if __name__ == "__main__":
    sys.exit(main())
