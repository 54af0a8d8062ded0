"""The peers' own virtual environment (``bench/.venv-peers``), made on first use; where each
peer comes from and whether it can run (PM2 and s6: ``system_peers.py``).

supervisord and circus (and matplotlib for the plots) are installed there, never in the repo's
environment. The daemons run from its ``bin/``; their client libraries (supervisor's XML-RPC
transport, circus' zmq client) are imported from its site-packages, appended to ``sys.path``
after the repo's own, so both peers' clients run in the harness process just as ``svctl.Client``
does. Both environments are the same CPython 3.11, which is what makes that import safe.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import TYPE_CHECKING

from bench import system_peers

if TYPE_CHECKING:
    from collections.abc import Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS_VENV = BENCH / ".venv-peers"
REQUIREMENTS = (
    "supervisor>=4.3,<4.4",
    "circus>=0.19,<0.20",
    "matplotlib>=3.8",
    "py-spy>=0.3",
    "pyinstrument>=4.6",
)
_STAMP = PEERS_VENV / ".bench-installed"


def peers_bin() -> Path:
    return PEERS_VENV / "bin"


def peers_python() -> Path:
    return peers_bin() / "python"


def site_packages() -> Path:
    v = sys.version_info
    return PEERS_VENV / "lib" / f"python{v.major}.{v.minor}" / "site-packages"


def ensure(log=print) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    """Create and fill the peers' environment unless it is there; (ok, why not)."""
    wanted = "\n".join(REQUIREMENTS)
    if _STAMP.exists() and _STAMP.read_text() == wanted:
        return True, ""
    log(f"bench: installing the peers into {PEERS_VENV} ({', '.join(REQUIREMENTS)})")
    try:
        if not (PEERS_VENV / "bin" / "python").exists():
            venv.create(PEERS_VENV, with_pip=True, symlinks=True)
            # keep the environment out of git and out of ruff, whatever the repo's ignores say
            (PEERS_VENV / ".gitignore").write_text("*\n")
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        subprocess.run(
            [
                str(peers_python()),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            check=True,
            env=env,
            timeout=900,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tail = detail.decode(errors="replace").strip().splitlines()[-3:]
        return False, f"could not install {', '.join(REQUIREMENTS)}: {exc} {' '.join(tail)}"
    _STAMP.write_text(wanted)
    return True, ""


def add_to_path() -> None:
    site = str(site_packages())
    if site not in sys.path:
        sys.path.append(site)


def peer_available(
    name: str, *, install: bool = False, log: Callable[[str], None] = print
) -> tuple[bool, str]:
    """Whether a peer's daemon and client can be used from here; (ok, why not). PM2 and s6
    are installed here on first use unless ``install`` is false (``bench/system_peers.py``)."""
    if name == "lite":
        return True, ""
    if name == "pm2":
        return system_peers.ensure_pm2(log, install)
    if name == "s6":
        return system_peers.ensure_s6(log, install)
    if not _STAMP.exists():
        return False, "the peers' environment is not installed"
    add_to_path()
    try:
        if name == "supervisord":
            import supervisor.xmlrpc  # noqa: F401
        elif name == "circus":
            import circus.client  # noqa: F401
            import zmq  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure makes the peer unavailable
        version = sys.version.split()[0]
        return False, f"its client library does not import on Python {version}: {exc}"
    daemon = {"supervisord": "supervisord", "circus": "circusd"}[name]
    if not (peers_bin() / daemon).exists():
        return False, f"{daemon} is not in {peers_bin()}"
    return True, ""


def versions() -> dict[str, str]:
    """Versions of everything that shapes the figures."""
    out: dict[str, str] = {"python": sys.version.split()[0]}
    for dist in ("supervisord-lite", "msgspec", "trio", "psutil"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    if _STAMP.exists():
        path = [str(site_packages())]
        for dist in ("supervisor", "circus", "pyzmq", "tornado", "matplotlib"):
            found = list(importlib.metadata.distributions(name=dist, path=path))
            out[dist] = found[0].version if found else "not installed"
    out.update(system_peers.versions())
    try:
        rev = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        out["supervisord-lite commit"] = rev + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out


def machine() -> dict[str, object]:
    import platform

    import psutil

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "psutil": psutil.__version__,
        "loadavg": list(os.getloadavg()),
    }


#: Our sources that the timed processes import: the daemon's and the client's packages.
OUR_SOURCES = (REPO / "supervisord_lite", REPO / "clients" / "svctl")


def compile_ours() -> None:
    """Compile our sources to bytecode (``__pycache__``), as pip does when it installs a wheel.

    The repo's environment installs this checkout in editable mode, which compiles nothing, and
    a host with ``PYTHONDONTWRITEBYTECODE`` set never writes the bytecode on import either: every
    ``svctl`` run would then compile its modules from source, a cost no installed copy pays and
    the peers' (bytecode from their wheels) do not pay. Python reads the bytecode whatever that
    variable says, and recompiles a module whose source changed since.
    """
    import compileall

    for folder in OUR_SOURCES:
        compileall.compile_dir(folder, quiet=1)


def _git(*args: str) -> str:
    """What ``git ARGS`` prints about this checkout (bounded)."""
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=5, check=False
    ).stdout.strip()
