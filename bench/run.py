"""``python bench/run.py [--quick] [-s S1,S7] [--peers lite,supervisord,circus,pm2,s6]``.

Runs the scenarios of ``../shared/peers.md`` against each peer, one daemon at a time, in rounds
whose peer order rotates, and writes ``results.json`` (every sample), ``RESULTS.md`` (tables)
and the plots. Run it with the repo's environment: ``.venv/bin/python bench/run.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import env
from bench.core import Params, Results, Trial
from bench.scenarios import ORDER, load

if TYPE_CHECKING:
    from bench.peers.base import Peer

PEERS = ("lite", "supervisord", "circus", "pm2", "s6")
#: peer -> (module, class) of its adapter
ADAPTERS = {
    "lite": ("bench.peers.lite", "Lite"),
    "supervisord": ("bench.peers.supervisord", "Supervisord"),
    "circus": ("bench.peers.circus", "Circus"),
    "pm2": ("bench.peers.pm2", "PM2"),
    "s6": ("bench.peers.s6", "S6"),
}


def _peer_class(name: str) -> type[Peer]:
    import importlib

    module, cls = ADAPTERS[name]
    peer: type[Peer] = getattr(importlib.import_module(module), cls)
    return peer


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="1 round, small sizes (~2 min): a smoke test"
    )
    p.add_argument("-s", "--scenarios", default=",".join(ORDER), help="e.g. S1,S7 (default: all)")
    p.add_argument("--peers", default=",".join(PEERS), help="e.g. lite,supervisord")
    p.add_argument("--rounds", type=int, help="rounds, the peer order rotated each round")
    p.add_argument("--out", type=Path, help="folder for results.json (default bench/out/DATE)")
    p.add_argument("--report", type=Path, help="RESULTS.md to write (full run: bench/RESULTS.md)")
    p.add_argument("--no-install", action="store_true", help="never create the peers' venv")
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the run, profile our daemon for every missed target (default: on, "
        "except with --quick)",
    )
    p.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS.json",
        help="run nothing: write the report (default bench/RESULTS.md) and plots from a run",
    )
    args = p.parse_args(argv)
    args.scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    args.peers = [s.strip().lower() for s in args.peers.split(",") if s.strip()]
    for s in args.scenarios:
        if s not in ORDER:
            p.error(f"no scenario {s!r} (known: {', '.join(ORDER)})")
    for name in args.peers:
        if name not in PEERS:
            p.error(f"no peer {name!r} (known: {', '.join(PEERS)})")
    return args


def _write_report(json_path: Path, report_path: Path) -> None:
    from bench import report

    data = json.loads(json_path.read_text())
    plots = report.draw_plots(json_path, report_path.parent / "plots", _log)
    report_path.write_text(report.render(data, plots, report_path.parent))
    _log(f"bench: wrote {report_path}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render is not None:
        _write_report(args.render, args.report or env.BENCH / "RESULTS.md")
        return 0
    started = time.time()
    stamp = dt.datetime.fromtimestamp(started, dt.UTC)
    out = args.out or env.BENCH / "out" / stamp.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    if args.report is not None:
        report_path = args.report
    elif args.quick or args.out is not None:
        report_path = out / "RESULTS.md"
    else:
        report_path = env.BENCH / "RESULTS.md"
    params = Params.make(args.quick, args.rounds)
    results = Results(params=params)
    results.meta = {
        "run_id": uuid.uuid4().hex[:12],
        "started_at": stamp.isoformat(timespec="seconds"),
        "command": " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": env.machine(),
    }

    needs_venv = any(p != "lite" for p in args.peers)
    if needs_venv and not args.no_install:
        ok, why = env.ensure(_log)
        if not ok:
            _log(f"bench: {why}")
    available: list[str] = []
    for name in args.peers:
        ok, why = env.peer_available(name, install=not args.no_install, log=_log)
        results.peers[name] = {"available": ok, **({} if ok else {"reason": why})}
        if ok:
            available.append(name)
        else:
            _log(f"bench: {name} unavailable: {why}")
    results.meta["versions"] = env.versions()
    env.compile_ours()
    peers_bin = env.peers_bin() if env.PEERS_VENV.exists() else None

    modules = {sid: load(sid) for sid in args.scenarios}
    for sid, mod in modules.items():
        results.declare(sid, mod.TITLE, mod.FAMILY, mod.METRICS)
        results.notes[sid] = list(getattr(mod, "NOTES", []))
        for name in args.peers:
            if not results.peers[name]["available"]:
                for m in mod.METRICS:
                    results.metric(sid, m.key)["unsupported"][name] = (
                        "peer unavailable: " + results.peers[name]["reason"]
                    )

    _log(
        f"bench: {len(args.scenarios)} scenarios × {len(available)} peers × "
        f"{params.rounds} rounds -> {out}"
    )
    for rnd in range(params.rounds):
        k = len(available)
        order = available[rnd % k :] + available[: rnd % k] if k else []
        for sid, mod in modules.items():
            for name in order:
                t0 = time.monotonic()
                trial = Trial(results, sid, _peer_class(name), rnd, peers_bin, _log)
                trial.run(mod.run)
                _log(
                    f"  round {rnd + 1}/{params.rounds} {sid:<3} {name:<11} "
                    f"{time.monotonic() - t0:6.1f}s"
                )
    results.meta["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results.meta["duration_s"] = round(time.time() - started, 1)
    results.meta["machine"]["loadavg_end"] = list(os.getloadavg())

    data = results.to_json()
    if args.profile if args.profile is not None else not args.quick:
        from bench import profile, targets

        data["profiles"] = profile.profile_missed(targets.evaluate(data), out / "profiles", _log)
    json_path = out / "results.json"
    json_path.write_text(json.dumps(data, indent=1))
    _log(f"bench: wrote {json_path}")
    _write_report(json_path, report_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
