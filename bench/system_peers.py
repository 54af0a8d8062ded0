"""PM2 and s6: the peers that come from npm and Debian, installed on first use.

s6 and execline come from Debian's packages (``apt-get install s6 execline``), PM2 from npm
into ``bench/.peers-node`` (never globally), run by the ``node`` on PATH (Debian's ``nodejs``
and ``npm`` are installed when there is none). Each install runs once, only for a peer that is
asked for and missing; a failed one makes that peer unavailable, with the reason, in every
table (as ``env.ensure`` does for the Python peers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

BENCH = Path(__file__).resolve().parent
NODE_PREFIX = BENCH / ".peers-node"
PM2_SPEC = "pm2@~7.0.4"
S6_TOOLS = ("s6-svscan", "s6-supervise", "s6-svc", "s6-svstat", "s6-svwait", "s6-log", "execlineb")
_apt_updated = False


def _run(argv: list[str], timeout: float, **kw: object) -> None:
    """Run an install command; CalledProcessError carries its output."""
    subprocess.run(argv, check=True, capture_output=True, timeout=timeout, **kw)  # type: ignore[call-overload]


def _why(exc: Exception) -> str:
    detail = getattr(exc, "stderr", b"") or b""
    if isinstance(detail, bytes):
        detail = detail.decode(errors="replace")
    tail = " ".join(detail.strip().splitlines()[-3:])
    return f"{exc} {tail}".strip()


def _apt_install(packages: list[str], log: Callable[[str], None]) -> tuple[bool, str]:
    global _apt_updated
    if shutil.which("apt-get") is None:
        return False, "apt-get is not on PATH (the packages come from Debian)"
    if os.geteuid() != 0:
        return False, f"apt-get install {' '.join(packages)} needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        if not _apt_updated:
            log("bench: apt-get update")
            _run(["apt-get", "update", "-q"], 600, env=env)
            _apt_updated = True
        log(f"bench: apt-get install {' '.join(packages)}")
        _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], 900, env=env)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return False, f"could not apt-get install {' '.join(packages)}: {_why(exc)}"
    return True, ""


# -- s6 ----------------------------------------------------------------------------------------


def s6_tool(name: str) -> str:
    """The absolute path of an s6 or execline tool (its scripts and calls use it)."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not on PATH")
    return path


def s6_missing() -> list[str]:
    return [t for t in S6_TOOLS if shutil.which(t) is None]


def ensure_s6(log: Callable[[str], None], install: bool = True) -> tuple[bool, str]:
    if not s6_missing():
        return True, ""
    if not install:
        return False, f"not installed ({', '.join(s6_missing())} not on PATH) and --no-install"
    ok, why = _apt_install(["s6", "execline"], log)
    if not ok:
        return False, why
    missing = s6_missing()
    if missing:
        return False, f"installed s6 and execline, yet {', '.join(missing)} not on PATH"
    return True, ""


# -- PM2 ---------------------------------------------------------------------------------------


def node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


def pm2_package() -> Path:
    return NODE_PREFIX / "node_modules" / "pm2"


def pm2_bin() -> Path:
    return pm2_package() / "bin" / "pm2"


def ensure_pm2(log: Callable[[str], None], install: bool = True) -> tuple[bool, str]:
    if node() is not None and (pm2_package() / "package.json").exists():
        return True, ""
    if not install:
        return False, "not installed (node or bench/.peers-node/node_modules/pm2) and --no-install"
    if node() is None or shutil.which("npm") is None:
        ok, why = _apt_install(["nodejs", "npm"], log)
        if not ok:
            return False, why
    npm = shutil.which("npm")
    if node() is None or npm is None:
        return False, "node and npm are not on PATH after installing Debian's nodejs and npm"
    log(f"bench: npm install {PM2_SPEC} into {NODE_PREFIX}")
    try:
        NODE_PREFIX.mkdir(exist_ok=True)
        # keep the folder out of git, whatever the repo's ignores say
        (NODE_PREFIX / ".gitignore").write_text("*\n")
        _run(
            [npm, "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund", PM2_SPEC],
            900,
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return False, f"could not npm install {PM2_SPEC}: {_why(exc)}"
    if not (pm2_package() / "package.json").exists():
        return False, f"npm install {PM2_SPEC} left no {pm2_package()}"
    return True, ""


# -- versions ----------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    manifest = pm2_package() / "package.json"
    if manifest.exists():
        out["pm2"] = str(json.loads(manifest.read_text()).get("version", "?"))
    exe = node()
    if exe is not None:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        out["node"] = done.stdout.strip()
    for package in ("s6", "execline"):
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            out[package] = done.stdout.strip()
    return out
