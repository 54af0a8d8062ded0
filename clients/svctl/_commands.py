"""What each ``svctl`` subcommand but ``status`` and ``ok`` does, given its parsed arguments
and a connected :class:`svctl.Client`; what it prints is built in :mod:`svctl.render`.

:mod:`svctl.cli` loads this module (and :mod:`svctl._arguments`, their options) only when one
of these commands is run or every parser is built, so ``svctl status`` does not pay for them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TYPE_CHECKING, Final

from svctl import (
    Client,
    LogChunk,
    Missed,
    ProgramState,
    StateChanged,
    SvctlError,
    _shell,
    render,
)
from svctl.cli import PROG, QUICK_TIMEOUT, build_parser

if TYPE_CHECKING:
    import argparse
    import threading
    from collections.abc import Callable
    from typing import Any

    from svctl import ActionResult, SyncPushStream


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


def run_progress(client: Client, args: argparse.Namespace) -> int:
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


def run_action(op: str) -> Callable[[Client, argparse.Namespace], int]:
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


def run_signal(client: Client, args: argparse.Namespace) -> int:
    return _print_results(
        client.signal(
            *args.names, signal=args.signal, all=args.all, main=args.main, **_limit(args)
        ),
        args,
    )


def run_scale(client: Client, args: argparse.Namespace) -> int:
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


def run_history(client: Client, args: argparse.Namespace) -> int:
    for entry in client.history(args.name, args.lines):
        print(render.json_line(entry) if args.json else render.history_line(entry))
    return 0


def run_analyze(client: Client, args: argparse.Namespace) -> int:
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


def run_graph(client: Client, args: argparse.Namespace) -> int:
    from svctl import graph

    print(graph.render({p.name: p.depends_on for p in client.status()}, args.format))
    return 0


def run_wait(client: Client, args: argparse.Namespace) -> int:
    """The daemon waits ``wait --timeout`` or the global ``--timeout``, the shorter."""
    limits = [t for t in (args.wait_timeout, args.timeout) if t is not None]
    timeout = min(limits) if limits else None
    return _print_results(
        client.wait(*args.names, state=args.state, ready=args.ready, timeout=timeout), args
    )


def run_events(client: Client, args: argparse.Namespace) -> int:
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


def run_webhooks(client: Client, args: argparse.Namespace) -> int:
    hooks = client.webhooks(**_limit(args))
    print(render.json_document(hooks) if args.json else render.webhook_table(hooks))
    return 0


#: The most lines a logs request may ask for (the protocol's bound): "all of them".
ALL_LINES: Final = 1_000_000


def run_logs(client: Client, args: argparse.Namespace) -> int:
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


def run_reload(client: Client, args: argparse.Namespace) -> int:
    reply = client.reload(dry_run=args.dry_run)
    if args.json:
        print(render.json_line(reply))
        return 0
    for line in render.reload_lines(reply):
        print(line)
    return 0


def run_web(client: Client, args: argparse.Namespace) -> int:
    client.close()
    from svctl.web import run

    return run(client.socket_path, args.listen, allow_remote=args.allow_remote)


def run_shutdown(client: Client, args: argparse.Namespace) -> int:
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


def run_completion(args: argparse.Namespace) -> int:
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


def run_top(client: Client, args: argparse.Namespace) -> int:
    from svctl.top import run  # Textual is loaded in there, for this command only

    client.close()  # the view opens connections of its own
    return run(client.socket_path, read_only=client.read_only, timeout=client.timeout)
