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

What is printed is built elsewhere, so this module stays the dispatch: text in
:mod:`svctl.render` (colours in :mod:`svctl._colour`), ``--json`` documents in
:mod:`svctl._json_out`, a start's attempts in :mod:`svctl._attempts`, completion scripts and
the manual page in :mod:`svctl._shell`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
import time
from typing import TYPE_CHECKING, Final, cast

import supervisord_lite
from svctl import (
    DEFAULT_SOCKET,
    SOCKET_ENV,
    Client,
    LogChunk,
    Missed,
    NoSuchProgram,
    ProgramState,
    StateChanged,
    SvctlError,
    _shell,
    render,
    socket_from_config,
)
from svctl._colour import wants_colour
from svctl._session import resolve_socket

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from svctl import ActionResult, SyncPushStream

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
    if getattr(args, "offline", None) is _completion and not (args.shell or args.programs):
        args.parser.error("name a shell (bash, zsh or fish), or give --programs")
    if hasattr(args, "targets"):  # svctl signal NAME... SIG: the signal comes last
        args.names, args.signal = tuple(args.targets[:-1]), args.targets[-1]
    if getattr(args, "all", None) is None or getattr(args, "reopen", False):
        return
    named = bool(args.names) if hasattr(args, "names") else args.name is not None
    if named == args.all:
        args.parser.error("name the programs, or give --all (not both)")


# -- subcommands -------------------------------------------------------------------------------


def _limit(args: argparse.Namespace) -> dict[str, Any]:
    """``timeout=`` for a call when ``--timeout`` was given; else the client's default, which
    leaves the daemon to bound a blocking request and gives a quick one :data:`QUICK_TIMEOUT`."""
    return {} if args.timeout is None else {"timeout": float(args.timeout)}


def _listen_limit(args: argparse.Namespace, stream: SyncPushStream[Any]) -> threading.Timer | None:
    """With ``--timeout``, close ``stream`` from a timer thread once the time is up (which
    ends the iteration in this one); None without."""
    if args.timeout is None:
        return None
    import threading  # only a time-limited stream needs a second thread

    timer = threading.Timer(float(args.timeout), stream.close)
    timer.daemon = True
    timer.start()
    return timer


def _stop_timer(timer: threading.Timer | None) -> None:
    if timer is not None:
        timer.cancel()
        timer.join()


def _print_results(results: list[ActionResult], args: argparse.Namespace) -> int:
    """Each program's outcome, a line each or one JSON document; 0 when all got there."""
    if getattr(args, "json", False):
        from svctl import _json_out

        print(_json_out.action_document(results))
    else:
        for result in results:
            print(render.action_line(result, colour=args.colour))
    return 0 if all(result.ok for result in results) else 1


def _ok(client: Client, args: argparse.Namespace) -> int:
    client.ping()
    return 0


def _status(client: Client, args: argparse.Namespace) -> int:
    programs, store = client.status_and_store(*args.names, stats=args.json)
    if args.json:
        from svctl import _json_out

        print(_json_out.status_document(programs, store))
    else:
        print(render.status_table(programs, now=time.time(), colour=args.colour))
        if store is not None and (said := render.store_warning(store)):
            _warn(said)
    return 0


def _progress(client: Client, args: argparse.Namespace) -> int:
    if args.follow:
        return _follow_progress(client, args)
    [program] = client.status(args.name)
    if program.progress is None:
        print(f"{program.name}: no progress reported ({program.state.value.lower()})")
        return 1
    print(f"{program.name}: {render.progress_text(program.progress, time.time(), bar=20)}")
    return 0


def _follow_progress(client: Client, args: argparse.Namespace) -> int:
    """Each progress event of the program as it comes (the daemon pushes at most one a
    second), redrawn in place on a terminal; until its run ends or ``--timeout``."""
    redraw = sys.stdout.isatty()
    with client.events() as events:
        [program] = client.status(args.name)
        name = program.name
        if program.progress is not None:
            _progress_line(name, render.progress_text(program.progress, bar=20), redraw)
        timer = _listen_limit(args, events)
        try:
            while program.state not in _RUN_OVER:
                event = next(events, None)
                if event is None:
                    return 0
                if not isinstance(event, StateChanged) or event.program != name:
                    continue
                if event.change == "progress" and event.progress is not None:
                    _progress_line(name, render.progress_text(event.progress, bar=20), redraw)
                elif event.change == "state" and event.new in _RUN_OVER:
                    # The last report may be pushed after the run ended: ask for it.
                    [program] = client.status(name)
                    if program.progress is not None:
                        said = render.progress_text(program.progress, bar=20)
                        _progress_line(name, said, redraw)
        finally:
            _stop_timer(timer)
    if redraw:
        print()
    print(f"{name}: {program.state.value.lower()}", flush=True)
    return 0


_RUN_OVER: Final = frozenset(
    {ProgramState.EXITED, ProgramState.STOPPED, ProgramState.FATAL, ProgramState.BACKOFF}
)


def _progress_line(name: str, said: str, redraw: bool) -> None:
    if redraw:
        print(f"\r\x1b[2K{name}: {said}", end="", flush=True)
    else:
        print(f"{name}: {said}", flush=True)


def _action(op: str) -> Callable[[Client, argparse.Namespace], int]:
    def run(client: Client, args: argparse.Namespace) -> int:
        if op == "stop":
            return _print_results(
                client.stop(
                    *args.names,
                    all=args.all,
                    wait=not args.no_wait,
                    with_dependents=args.with_dependents,
                    **_limit(args),
                ),
                args,
            )
        with _attempts_shown(args):
            if op == "restart":
                results = client.restart(
                    *args.names,
                    all=args.all,
                    wait=not args.no_wait,
                    rolling=args.rolling,
                    max_unavailable=args.max_unavailable,
                    **_limit(args),
                )
            else:
                results = client.start(
                    *args.names, all=args.all, wait=not args.no_wait, **_limit(args)
                )
        return _print_results(results, args)

    return run


def _signal(client: Client, args: argparse.Namespace) -> int:
    return _print_results(
        client.signal(
            *args.names, signal=args.signal, all=args.all, main=args.main, **_limit(args)
        ),
        args,
    )


def _scale(client: Client, args: argparse.Namespace) -> int:
    results = client.scale(args.name, args.count, wait=not args.no_wait, **_limit(args))
    if not results and not args.json:
        print(f"{args.name}: already {args.count} instances")
        return 0
    return _print_results(results, args)


def _attempts_shown(args: argparse.Namespace) -> contextlib.AbstractContextManager[object]:
    """Show each attempt of a blocking start on stderr, on a terminal or with ``--verbose``
    (never with ``--json`` or ``--no-wait``); see :mod:`svctl._attempts`."""
    shown = args.verbose or (sys.stderr.isatty() and not args.json)
    if not shown or args.no_wait:
        return contextlib.nullcontext()
    from svctl._attempts import AttemptWatcher

    timeout = args.timeout if args.timeout is not None else QUICK_TIMEOUT
    return AttemptWatcher(args.socket_path, args.names, timeout=timeout)


def _history(client: Client, args: argparse.Namespace) -> int:
    for entry in client.history(args.name, args.lines):
        print(render.json_line(entry) if args.json else render.history_line(entry))
    return 0


def _analyze(client: Client, args: argparse.Namespace) -> int:
    import json

    from svctl import analyze

    _, rows = analyze.start_times(client.status())
    if args.name is not None and args.name not in {r.name for r in rows}:
        client.status(args.name)  # the daemon's no_such_program, with the known names
    found = analyze.chain(rows, args.name)
    if args.json:
        print(json.dumps({"programs": [r.as_json() for r in rows],
                          "critical_chain": [r.name for r in found]}))  # fmt: skip
        return 0
    print("\n".join(analyze.render_table(rows)))
    if found:
        print("\nThe critical chain (ready @ since the first ask, + its own startup):")
        print("\n".join(analyze.render_chain(found)))
    return 0


def _graph(client: Client, args: argparse.Namespace) -> int:
    from svctl import graph

    print(graph.render({p.name: p.depends_on for p in client.status()}, args.format))
    return 0


def _wait(client: Client, args: argparse.Namespace) -> int:
    """The daemon waits ``wait --timeout`` or the global ``--timeout``, the shorter."""
    limits = [t for t in (args.wait_timeout, args.timeout) if t is not None]
    timeout = min(limits) if limits else None
    return _print_results(
        client.wait(*args.names, state=args.state, ready=args.ready, timeout=timeout), args
    )


def _events(client: Client, args: argparse.Namespace) -> int:
    """The live events; with ``--since``, the logged ones first, and the live ones only with
    ``-f``. What the log no longer keeps is said on stderr."""
    follow = args.since is None or args.follow
    with client.events(since=args.since, follow=follow) as events:
        timer = _listen_limit(args, events)
        try:
            for event in events:
                if isinstance(event, Missed):
                    print(f"{PROG}: {render.missed_line(event)}", file=sys.stderr, flush=True)
                    continue
                line = render.json_line(event) if args.json else render.event_line(event)
                print(line, flush=True)
        finally:
            _stop_timer(timer)
    return 0


def _webhooks(client: Client, args: argparse.Namespace) -> int:
    hooks = client.webhooks(**_limit(args))
    print(render.json_document(hooks) if args.json else render.webhook_table(hooks))
    return 0


def _logs(client: Client, args: argparse.Namespace) -> int:
    if args.reopen:
        names = (args.name,) if args.name else ()
        print(client.reopen_logs(*names, **_limit(args)))
        return 0
    marked = args.all or args.mark_stream
    prefixer = render.LinePrefixer(program=args.all, stream=args.mark_stream) if marked else None
    lines = args.lines
    if args.since is not None and lines is None:
        lines = ALL_LINES  # every line since then, not only the last ten
    with client.logs(
        args.name,
        stream=args.stream,
        lines=10 if lines is None else lines,
        follow=args.follow,
        since=args.since,
    ) as items:
        timer = _listen_limit(args, items)
        try:
            for item in items:
                if isinstance(item, LogChunk):
                    data = item.data
                    if prefixer is None and item.program != args.name:
                        prefixer = render.LinePrefixer()  # a replicated program's instances
                    if prefixer is not None:
                        data = prefixer.feed(item.program, item.stream, data)
                    _write(item.stream, data)
                else:
                    print(render.lagged_line(item), file=sys.stderr, flush=True)
        finally:
            _stop_timer(timer)
        end = items.end
    for stream, rest in prefixer.flush() if prefixer is not None else []:
        _write(stream, rest)
    if end is not None and end.message:
        print(f"{PROG}: {end.message}", file=sys.stderr, flush=True)
    return 0


def _write(stream: str, data: bytes) -> None:
    """A program's bytes, of either stream, to our stdout as they came (no decoding), so the
    output pipes whole into ``grep``; ``--mark-stream`` says which stream a line came from."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _reload(client: Client, args: argparse.Namespace) -> int:
    reply = client.reload(dry_run=args.dry_run)
    if args.json:
        print(render.json_line(reply))
        return 0
    for line in render.reload_lines(reply):
        print(line)
    return 0


def _web(client: Client, args: argparse.Namespace) -> int:
    client.close()
    from svctl.web import run

    return run(client.socket_path, args.listen, allow_remote=args.allow_remote)


def _shutdown(client: Client, args: argparse.Namespace) -> int:
    """Exit 4 when the daemon had to SIGKILL programs, 5 when only output was lost (the
    daemon's own exit status), saying so on stderr; 0 for a clean one or with ``--no-wait``."""
    from svctl import _json_out

    waited = not args.no_wait
    report = client.shutdown(wait=waited, **_limit(args))
    if args.json:
        print(_json_out.shutdown_document(report, waited=waited))
    elif report is not None and not report.clean:
        print(f"{PROG}: {render.shutdown_line(report.killed, report.output_lost)}", file=sys.stderr)
    return _json_out.shutdown_exit_code(report)


def _completion(args: argparse.Namespace) -> int:
    """A completion script, or (``--programs``) the daemon's program names for one: nothing,
    and no complaint, when no daemon answers in time."""
    if args.programs:
        timeout = args.timeout if args.timeout is not None else _shell.NAMES_TIMEOUT
        try:
            with Client(args.socket_path, timeout=timeout) as client:
                names = [program.name for program in client.status()]
        except SvctlError as exc:
            return exc.exit_code
        for name in names:
            print(name)
        return 0
    sys.stdout.write(_shell.completion_script(build_parser(), args.shell))
    return 0


def _top(client: Client, args: argparse.Namespace) -> int:
    from svctl.top import run  # Textual is loaded in there, for this command only

    client.close()  # the view opens connections of its own
    return run(client.socket_path, read_only=client.read_only, timeout=client.timeout)


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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


_AGO = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The most lines a logs request may ask for (the protocol's bound): "all of them".
ALL_LINES: Final = 1_000_000


def _since(text: str) -> float:
    """A time: epoch seconds, an ISO 8601 date-time (local when it has no zone), or how long
    ago (``10m``, ``2h``, ``1d``)."""
    if text[:-1].isdigit() and text[-1:] in _AGO:
        return time.time() - int(text[:-1]) * _AGO[text[-1]]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (epoch seconds, 2026-12-06T15:00, or 10m / 2h / 1d ago)"
        ) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _state(text: str) -> ProgramState:
    try:
        return ProgramState(text.upper())
    except ValueError:
        names = ", ".join(state.value.lower() for state in ProgramState)
        raise argparse.ArgumentTypeError(f"unknown state {text!r} (one of: {names})") from None


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
            type=_seconds,
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
    "status", "progress", "start", "stop", "restart", "signal", "scale", "logs", "analyze",
    "graph", "history", "wait", "events", "webhooks", "reload", "shutdown", "web", "top", "ok",
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


class _Unbuilt:
    """Stands in for the parser of a subcommand that was not typed: what is added to it is
    dropped, so svctl builds the one parser it runs and not twenty (a cold start's worth)."""

    def add_argument(self, *args: object, **kwargs: object) -> argparse.Action:
        return argparse.Action(option_strings=[], dest="unbuilt")

    def add_argument_group(self, *args: object, **kwargs: object) -> _Unbuilt:
        return self

    def set_defaults(self, **kwargs: object) -> None:
        pass


def _subcommand(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Callable[[Client, argparse.Namespace], int],
    summary: str,
    examples: str,
    *,
    timeout: bool = True,
) -> argparse.ArgumentParser:
    only = getattr(subparsers, _ONLY, None)
    if only is not None and name != only:
        return cast("argparse.ArgumentParser", _Unbuilt())
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


def _action_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], op: str, summary: str
) -> None:
    parser = _subcommand(
        subparsers,
        op,
        _action(op),
        summary,
        f"svctl {op} web\nsvctl {op} web worker --no-wait\nsvctl {op} --all"
        + ("\nsvctl restart --rolling web --max-unavailable 2" if op == "restart" else ""),
    )
    _shell.mark_program_names(
        parser.add_argument("names", nargs="*", metavar="NAME", help="programs to act on")
    )
    parser.add_argument("--all", action="store_true", help="every program in the config")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the daemon took the request, without waiting for the outcome",
    )
    if op == "restart":
        parser.add_argument(
            "--rolling",
            action="store_true",
            help="restart a replicated program's instances a few at a time, each batch ready"
            " before the next; stop at the first that does not get ready",
        )
        parser.add_argument(
            "--max-unavailable",
            type=_count,
            metavar="K",
            help="with --rolling: instances down at once (default: the program's max_unavailable)",
        )
    _json_option(parser)
    if op != "stop":
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="show each attempt on stderr as it happens (the default when stderr is a"
            " terminal)",
        )
    if op == "stop":
        parser.add_argument(
            "--with-dependents",
            action="store_true",
            help="also stop, first, the programs that depend on these (without it, a program"
            " that running programs need is not stopped)",
        )


def _json_option(parser: argparse.ArgumentParser) -> None:
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

    status = _subcommand(
        subparsers,
        "status",
        _status,
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

    progress = _subcommand(
        subparsers,
        "progress",
        _progress,
        "show a program's latest progress report (docs/progress.md); with -f follow it",
        "svctl progress import\nsvctl progress import -f",
        timeout=True,
    )
    _shell.mark_program_names(progress.add_argument("name", metavar="NAME", help="the program"))
    progress.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="print each report as the daemon pushes it (at most one a second), until the run ends",
    )

    _action_parser(subparsers, "start", "start programs and wait until they run or fail")
    _action_parser(subparsers, "stop", "stop programs and wait until their process groups are gone")
    _action_parser(subparsers, "restart", "stop then start programs, and wait for the outcome")

    signal = _subcommand(
        subparsers,
        "signal",
        _signal,
        "send a signal to programs' process groups (or main processes), recorded in history",
        "svctl signal web HUP\nsvctl signal web worker USR1 --main\nsvctl signal --all USR2",
    )
    _shell.mark_program_names(
        signal.add_argument(
            "targets",
            nargs="+",
            metavar="NAME... SIG",
            help="the programs, then a signal name (HUP, SIGUSR1, usr2)",
        )
    )
    _json_option(signal)
    signal.add_argument("--all", action="store_true", help="every program in the config")
    signal.add_argument(
        "--main", action="store_true", help="only the main process, not its whole process group"
    )

    scale = _subcommand(
        subparsers,
        "scale",
        _scale,
        "run N instances of a replicated program: start new ones, stop the highest first",
        "svctl scale web 5\nsvctl scale web 0",
        timeout=True,
    )
    _shell.mark_program_names(
        scale.add_argument("name", metavar="NAME", help="a program with replicas")
    )
    scale.add_argument("count", type=_count, metavar="N", help="how many instances to run")
    scale.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the new instances are starting, without waiting for them to run",
    )
    _json_option(scale)

    logs = _subcommand(
        subparsers,
        "logs",
        _logs,
        "print a program's recent output; with -f keep following it",
        "svctl logs web\nsvctl logs web -n 100 --stream stderr\nsvctl logs web -f\n"
        "svctl logs web -n 20 --mark-stream | grep -i error\n"
        "svctl logs --all -f        (every program, each line led by its name)\n"
        "svctl logs --reopen        (after logrotate; or kill -USR1 the daemon)",
    )
    _shell.mark_program_names(
        logs.add_argument("name", nargs="?", metavar="NAME", help="the program")
    )
    logs.add_argument(
        "--all", action="store_true", help="every program, interleaved line by line with a prefix"
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    logs.add_argument(
        "-n",
        "--lines",
        type=_count,
        default=None,
        metavar="LINES",
        help="lines of the past, counted over both streams (10; every one since --since)",
    )
    logs.add_argument(
        "--since",
        type=_since,
        metavar="TIME",
        help="only lines written since TIME (epoch seconds, 2026-12-06T15:00, or 10m, 2h, 1d"
        " ago); for streams whose lines carry their time (timestamps = true or format = json)",
    )
    logs.add_argument("--stream", choices=("stdout", "stderr"), help="only this stream")
    logs.add_argument(
        "--mark-stream",
        action="store_true",
        help="lead each line with its stream (stdout | ..., stderr | ...); both streams are"
        " printed on stdout, interleaved as the program wrote them",
    )
    logs.add_argument(
        "--reopen",
        action="store_true",
        help="have the daemon reopen the log files (of NAME, or of every program) at their"
        " paths, after logrotate renamed them; the daemon does the same on SIGUSR1",
    )

    analyze = _subcommand(
        subparsers,
        "analyze",
        _analyze,
        "show how long each program took to start and the chain of dependencies that held"
        " the slowest back",
        "svctl analyze\nsvctl analyze web\nsvctl analyze --json",
    )
    _shell.mark_program_names(
        analyze.add_argument(
            "name",
            nargs="?",
            metavar="NAME",
            help="the chain to this program (default: ready last)",
        )
    )
    analyze.add_argument("--json", action="store_true", help="one JSON document")

    graph = _subcommand(
        subparsers,
        "graph",
        _graph,
        "print the dependency graph for Mermaid, Graphviz or as JSON",
        "svctl graph\nsvctl graph --format dot | dot -Tsvg > deps.svg\nsvctl graph --format json",
    )
    if not isinstance(graph, _Unbuilt):
        from svctl.graph import FORMATS  # here: only the parsers that hold it pay for it

        graph.add_argument("--format", choices=FORMATS, default="mermaid", help="(mermaid)")

    history = _subcommand(
        subparsers,
        "history",
        _history,
        "show recorded starts, exits, stops and restarts, oldest first",
        "svctl history web\nsvctl history web -n 100\nsvctl history --json",
    )
    _shell.mark_program_names(
        history.add_argument("name", nargs="?", metavar="NAME", help="the program (default: all)")
    )
    history.add_argument(
        "-n", "--lines", type=_count, default=20, metavar="N", help="at most N entries (20)"
    )
    history.add_argument("--json", action="store_true", help="one JSON object per line")

    wait = _subcommand(
        subparsers,
        "wait",
        _wait,
        "block until every named program is in a state (the daemon tells, nobody polls)",
        "svctl wait web --ready --timeout 60\nsvctl wait web --state running\n"
        "svctl wait web worker --state stopped --timeout 30",
        timeout=False,
    )
    _shell.mark_program_names(
        wait.add_argument("names", nargs="+", metavar="NAME", help="programs to wait for")
    )
    _json_option(wait)
    wait.add_argument(
        "--state",
        type=_state,
        default=ProgramState.RUNNING,
        metavar="STATE",
        help="the state to wait for (default: running)",
    )
    wait.add_argument(
        "--ready",
        action="store_true",
        help="wait until ready (RUNNING); exit 1 at once, with the reason, for a program that"
        " can no longer get there (FATAL, a dependency that failed)",
    )
    wait.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=_seconds,
        metavar="SECONDS",
        help="fail (exit 1) if not there after this long (default: wait forever)",
    )

    events = _subcommand(
        subparsers,
        "events",
        _events,
        "print the daemon's events as they happen, until Ctrl-C or the daemon stops; with"
        " --since, the logged ones from a seq first (docs/events.md)",
        "svctl events\nsvctl events --json\nsvctl events --since 120 -f\nsvctl events --since -50",
    )
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument(
        "--since",
        type=int,
        metavar="SEQ",
        help="replay the logged events from SEQ on (0: all kept; -N: the last N), then end"
        " (or follow with -f)",
    )
    events.add_argument(
        "-f", "--follow", action="store_true", help="after the replay, follow the live events"
    )

    webhooks = _subcommand(
        subparsers,
        "webhooks",
        _webhooks,
        "show each webhook's delivery: cursor, lag, delivered, failed (docs/events.md)",
        "svctl webhooks\nsvctl webhooks --json",
    )
    webhooks.add_argument("--json", action="store_true", help="one JSON array of the hooks")

    reload = _subcommand(
        subparsers,
        "reload",
        _reload,
        "re-read the daemon's config and apply the difference (the plan it prints)",
        "svctl reload\nsvctl reload --dry-run\nsvctl reload --dry-run --json",
    )
    reload.add_argument(
        "--dry-run",
        action="store_true",
        help="only print the plan: what would change, what would restart; change nothing",
    )
    reload.add_argument("--json", action="store_true", help="the plan as one JSON document")
    shutdown = _subcommand(
        subparsers,
        "shutdown",
        _shutdown,
        "stop every program and end the daemon",
        "svctl shutdown\nsvctl shutdown --no-wait\nsvctl shutdown --json",
    )
    shutdown.add_argument(
        "--no-wait", action="store_true", help="return once the shutdown has begun"
    )
    _json_option(shutdown)
    web = _subcommand(
        subparsers,
        "web",
        _web,
        "serve a live page of the programs, with start/stop buttons (docs/web.md)",
        "svctl web\nsvctl web --listen 127.0.0.1:8080",
    )
    if not isinstance(web, _Unbuilt):
        from svctl.web import add_arguments  # light: the server loads in run()

        add_arguments(web)
    _subcommand(
        subparsers,
        "top",
        _top,
        "a live full-screen view: programs, CPU, memory, progress, the output of one; act on them",
        "svctl top\nNO_COLOR=1 svctl -c /etc/supervisord-lite.toml top",
    )
    _subcommand(
        subparsers,
        "ok",
        _ok,
        "exit 0 if the daemon answers, 3 if it cannot be reached",
        "svctl ok && echo up",
    )
    completion = _subcommand(
        subparsers,
        "completion",
        _ok,
        "print a shell completion script (bash, zsh or fish) made from these commands",
        "svctl completion bash > /etc/bash_completion.d/svctl\n"
        "svctl completion zsh > ~/.zsh/completions/_svctl\n"
        "svctl completion fish > ~/.config/fish/completions/svctl.fish\n"
        "svctl completion --programs   (the running daemon's program names)",
    )
    completion.set_defaults(offline=_completion)
    completion.add_argument("shell", nargs="?", choices=_shell.SHELLS, help="the shell")
    completion.add_argument(
        "--programs",
        action="store_true",
        help="print the running daemon's program names, one a line (what the scripts complete"
        " names from; nothing when no daemon answers)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
