"""The import rules of the layers (docs/architecture.md), checked by walking every module's AST.

Layer 1 (the pure core) imports only the standard library's pure parts and msgspec; layer 2
(runtime, store, client shells) may do I/O; nothing imports upward. The clients reach the daemon
only through ``supervisord_lite.protocol`` (and the error tree it raises).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DAEMON = ROOT / "supervisord_lite"
CLIENTS = ROOT / "clients" / "svctl"

# Modules that hold logic only: no event loop, no syscalls that touch processes or sockets,
# no clock reads (time is a parameter).
IO_MODULES = {
    "trio",
    "socket",
    "subprocess",
    "signal",
    "select",
    "selectors",
    "threading",
    "time",
    "psutil",
    "sqlite3",
    "asyncio",
    "ctypes",
    "fcntl",
    "supervisord_lite.runtime",
    "supervisord_lite.store",
}


def _pure_files() -> list[Path]:
    files = sorted((DAEMON / "protocol").glob("*.py"))
    for name in (
        "config",
        "config_wording",
        "lifecycle",
        "logbuffer",
        "errors",
        "signames",
        "store_records",
    ):
        single = DAEMON / f"{name}.py"
        package = DAEMON / name
        if single.exists():
            files.append(single)
        if package.is_dir():
            files.extend(sorted(package.glob("*.py")))
    files.extend(p for p in (CLIENTS / "_session.py", CLIENTS / "render.py") if p.exists())
    return files


def _imports(path: Path) -> set[str]:
    """Every module a file imports, including type-only imports (they count as a dependency)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _hits(imported: set[str], banned: set[str]) -> set[str]:
    return {m for m in imported for b in banned if m == b or m.startswith(b + ".")}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _pure_files(), ids=_rel)
def test_pure_core_does_no_io(path: Path) -> None:
    assert not _hits(_imports(path), IO_MODULES), f"{_rel(path)} imports I/O modules"


def test_pure_core_is_not_empty() -> None:
    names = {p.name for p in _pure_files()}
    assert {"messages.py", "framing.py", "connection.py"} <= names


def test_package_init_imports_nothing() -> None:
    tree = ast.parse((DAEMON / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def test_only_runtime_touches_trio_psutil_and_signals() -> None:
    banned = {"trio", "psutil", "signal"}
    offenders = [
        _rel(path)
        for path in DAEMON.rglob("*.py")
        if "runtime" not in path.relative_to(DAEMON).parts and _hits(_imports(path), banned)
    ]
    assert offenders == []


def test_store_is_synchronous() -> None:
    store = DAEMON / "store.py"
    if not store.exists():
        pytest.skip("store.py not written yet")
    assert not _hits(_imports(store), {"trio", "asyncio"})


#: What the clients may import from the daemon's package: the pure core they share with it
#: (the protocol, the error tree, and the config model, to find the socket from ``-c CONFIG``).
CLIENT_MAY_IMPORT = ("protocol", "errors", "config", "signames")


def test_clients_use_only_the_pure_core() -> None:
    offenders = []
    for path in CLIENTS.rglob("*.py"):
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] == "supervisord_lite" and not (
                len(parts) == 1 or parts[1] in CLIENT_MAY_IMPORT
            ):
                offenders.append(f"{_rel(path)}: {module}")
    assert offenders == []


def test_nothing_imports_upward_into_entry_points() -> None:
    offenders = [
        _rel(path)
        for path in DAEMON.rglob("*.py")
        if path.name not in {"cli.py", "__main__.py"}
        and _hits(_imports(path), {"supervisord_lite.cli", "svctl"})
    ]
    assert offenders == []


@pytest.mark.parametrize("module", ["svctl.cli", "supervisord_lite.cli"])
def test_cli_import_does_not_pay_for_trio(module: str) -> None:
    code = f"import sys, {module}; print('trio' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "False"
