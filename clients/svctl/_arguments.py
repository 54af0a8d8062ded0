"""The options of every ``svctl`` subcommand but ``status`` and ``ok`` (those are in
:mod:`svctl.cli`), each parser bound to what runs it in :mod:`svctl._commands`.

Built only for the command typed (the others are :class:`svctl.cli.Unbuilt`), or all of them
for ``--help``, a mistyped command and the completion scripts and manual page.
"""

from __future__ import annotations

import argparse
import datetime
import time
from typing import TYPE_CHECKING

from svctl import ProgramState, _shell
from svctl._commands import (
    run_action,
    run_analyze,
    run_completion,
    run_events,
    run_graph,
    run_history,
    run_logs,
    run_progress,
    run_reload,
    run_scale,
    run_shutdown,
    run_signal,
    run_top,
    run_wait,
    run_web,
    run_webhooks,
)
from svctl.cli import Unbuilt, json_option, run_ok, seconds, subcommand

if TYPE_CHECKING:
    from svctl.cli import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Add the subcommands after ``status`` and ``ok``, in ``--help`` order."""
    progress = subcommand(
        subparsers,
        "progress",
        run_progress,
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

    action_parser(subparsers, "start", "start programs and wait until they run or fail")
    action_parser(subparsers, "stop", "stop programs and wait until their process groups are gone")
    action_parser(subparsers, "restart", "stop then start programs, and wait for the outcome")

    signal = subcommand(
        subparsers,
        "signal",
        run_signal,
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
    json_option(signal)
    signal.add_argument("--all", action="store_true", help="every program in the config")
    signal.add_argument(
        "--main", action="store_true", help="only the main process, not its whole process group"
    )

    scale = subcommand(
        subparsers,
        "scale",
        run_scale,
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
    json_option(scale)

    logs = subcommand(
        subparsers,
        "logs",
        run_logs,
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

    analyze = subcommand(
        subparsers,
        "analyze",
        run_analyze,
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

    graph = subcommand(
        subparsers,
        "graph",
        run_graph,
        "print the dependency graph for Mermaid, Graphviz or as JSON",
        "svctl graph\nsvctl graph --format dot | dot -Tsvg > deps.svg\nsvctl graph --format json",
    )
    if not isinstance(graph, Unbuilt):
        from svctl.graph import FORMATS  # here: only the parsers that hold it pay for it

        graph.add_argument("--format", choices=FORMATS, default="mermaid", help="(mermaid)")

    history = subcommand(
        subparsers,
        "history",
        run_history,
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

    wait = subcommand(
        subparsers,
        "wait",
        run_wait,
        "block until every named program is in a state (the daemon tells, nobody polls)",
        "svctl wait web --ready --timeout 60\nsvctl wait web --state running\n"
        "svctl wait web worker --state stopped --timeout 30",
        timeout=False,
    )
    _shell.mark_program_names(
        wait.add_argument("names", nargs="+", metavar="NAME", help="programs to wait for")
    )
    json_option(wait)
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
        type=seconds,
        metavar="SECONDS",
        help="fail (exit 1) if not there after this long (default: wait forever)",
    )

    events = subcommand(
        subparsers,
        "events",
        run_events,
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

    webhooks = subcommand(
        subparsers,
        "webhooks",
        run_webhooks,
        "show each webhook's delivery: cursor, lag, delivered, failed (docs/events.md)",
        "svctl webhooks\nsvctl webhooks --json",
    )
    webhooks.add_argument("--json", action="store_true", help="one JSON array of the hooks")

    reload = subcommand(
        subparsers,
        "reload",
        run_reload,
        "re-read the daemon's config and apply the difference (the plan it prints)",
        "svctl reload\nsvctl reload --dry-run\nsvctl reload --dry-run --json",
    )
    reload.add_argument(
        "--dry-run",
        action="store_true",
        help="only print the plan: what would change, what would restart; change nothing",
    )
    reload.add_argument("--json", action="store_true", help="the plan as one JSON document")
    shutdown = subcommand(
        subparsers,
        "shutdown",
        run_shutdown,
        "stop every program and end the daemon",
        "svctl shutdown\nsvctl shutdown --no-wait\nsvctl shutdown --json",
    )
    shutdown.add_argument(
        "--no-wait", action="store_true", help="return once the shutdown has begun"
    )
    json_option(shutdown)
    web = subcommand(
        subparsers,
        "web",
        run_web,
        "serve a live page of the programs, with start/stop buttons (docs/web.md)",
        "svctl web\nsvctl web --listen 127.0.0.1:8080",
    )
    if not isinstance(web, Unbuilt):
        from svctl.web import add_arguments  # light: the server loads in run()

        add_arguments(web)
    subcommand(
        subparsers,
        "top",
        run_top,
        "a live full-screen view: programs, CPU, memory, progress, the output of one; act on them",
        "svctl top\nNO_COLOR=1 svctl -c /etc/supervisord-lite.toml top",
    )
    completion = subcommand(
        subparsers,
        "completion",
        run_ok,
        "print a shell completion script (bash, zsh or fish) made from these commands",
        "svctl completion bash > /etc/bash_completion.d/svctl\n"
        "svctl completion zsh > ~/.zsh/completions/_svctl\n"
        "svctl completion fish > ~/.config/fish/completions/svctl.fish\n"
        "svctl completion --programs   (the running daemon's program names)",
    )
    completion.set_defaults(offline=run_completion)
    completion.add_argument("shell", nargs="?", choices=_shell.SHELLS, help="the shell")
    completion.add_argument(
        "--programs",
        action="store_true",
        help="print the running daemon's program names, one a line (what the scripts complete"
        " names from; nothing when no daemon answers)",
    )


def action_parser(subparsers: Subparsers, op: str, summary: str) -> None:
    parser = subcommand(
        subparsers,
        op,
        run_action(op),
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
    json_option(parser)
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


_AGO = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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
