"""The import rules of the parts (docs/architecture.md), checked by walking every module's AST.

``PARTS`` says which files make up each part and ``ARROWS`` which parts each may import: the
same table docs/architecture.md shows (a test compares the two). Every import counts, relative
ones (``from . import x``), type-only ones and ones inside functions included. Besides the
arrows: the pure parts import no I/O module and read no clock, only the runtime touches trio,
psutil and signals, and the CLIs never pay for trio.
"""

from __future__ import annotations

import ast
import re
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
    "anyio",
    "ctypes",
    "fcntl",
    "supervisord_lite.runtime",
    "supervisord_lite.store",
    "supervisord_lite.store_file",
}


def _pure_files() -> list[Path]:
    files = sorted((DAEMON / "protocol").glob("*.py"))
    for name in (
        "config",
        "config_wording",
        "config_probes",
        "config_restarts",
        "daemon_exit",
        "config_sockets",
        "replicas",
        "config_tables",
        "config_hooks",
        "config_attributes",
        "config_webhooks",
        "config_program",
        "config_needs",
        "config_backoff",
        "config_progress",
        "config_logs",
        "config_daemon",
        "config_values",
        "depgraph",
        "notify_datagram",
        "program_groups",
        "regex_literals",
        "reloadplan",
        "schedules",
        "watchglob",
        "lifecycle",
        "logbuffer",
        "errors",
        "signames",
        "store_records",
        "vocabulary",
    ):
        single = DAEMON / f"{name}.py"
        package = DAEMON / name
        if single.exists():
            files.append(single)
        if package.is_dir():
            files.extend(sorted(package.glob("*.py")))
    files.extend(
        p
        for name in ("_session", "_requests", "_results", "render", "errors")
        if (p := CLIENTS / f"{name}.py").exists()
    )
    return files


def _module_name(path: Path) -> str:
    """The dotted name a project file is imported as (``svctl`` lives in clients/)."""
    rel = path.relative_to(CLIENTS.parent if path.is_relative_to(CLIENTS) else ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _statements(source: str, module: str, *, is_package: bool) -> list[tuple[str, tuple[str, ...]]]:
    """Every import statement of a source as (absolute module, names taken from it); relative
    imports resolved against ``module``, type-only imports and imports inside functions included."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append((base, tuple(alias.name for alias in node.names)))
    return found


def _imports_of(source: str, module: str, *, is_package: bool) -> set[str]:
    """Every module a source imports, as absolute names: ``from .x import y`` gives ``pkg.x``
    and ``pkg.x.y`` (either may be the module)."""
    found: set[str] = set()
    for base, names in _statements(source, module, is_package=is_package):
        found.add(base)
        found.update(f"{base}.{name}" for name in names)
    return found


def _imports(path: Path) -> set[str]:
    return _imports_of(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")


def _hits(imported: set[str], banned: set[str]) -> set[str]:
    return {m for m in imported for b in banned if m == b or m.startswith(b + ".")}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


#: The parts of the code, each a set of files: a path ending in "/" is a folder (every module
#: below it). A file belongs to the part with the longest pattern that covers it, so a file named
#: here overrides its folder's part. docs/architecture.md shows this table.
PARTS: dict[str, tuple[str, ...]] = {
    "vocabulary": ("supervisord_lite/vocabulary.py",),
    "protocol": ("supervisord_lite/protocol/",),
    "errors": ("supervisord_lite/errors.py",),
    "core": (
        "supervisord_lite/config.py",
        "supervisord_lite/config_files.py",
        "supervisord_lite/config_probes.py",
        "supervisord_lite/config_restarts.py",
        "supervisord_lite/config_sockets.py",
        "supervisord_lite/config_tables.py",
        "supervisord_lite/config_hooks.py",
        "supervisord_lite/config_attributes.py",
        "supervisord_lite/config_wording.py",
        "supervisord_lite/config_webhooks.py",
        "supervisord_lite/config_program.py",
        "supervisord_lite/config_needs.py",
        "supervisord_lite/config_backoff.py",
        "supervisord_lite/config_progress.py",
        "supervisord_lite/config_logs.py",
        "supervisord_lite/config_daemon.py",
        "supervisord_lite/config_values.py",
        "supervisord_lite/daemon_exit.py",
        "supervisord_lite/depgraph.py",
        "supervisord_lite/lifecycle/",
        "supervisord_lite/logbuffer.py",
        "supervisord_lite/notify_datagram.py",
        "supervisord_lite/program_groups.py",
        "supervisord_lite/regex_literals.py",
        "supervisord_lite/reloadplan.py",
        "supervisord_lite/schedules.py",
        "supervisord_lite/replicas.py",
        "supervisord_lite/signames.py",
        "supervisord_lite/watchglob.py",
    ),
    "store": (
        "supervisord_lite/store_records.py",
        "supervisord_lite/store.py",
        "supervisord_lite/store_file.py",
        "supervisord_lite/store_journal.py",
        "supervisord_lite/store_queries.py",
        "supervisord_lite/store_writes.py",
        "supervisord_lite/store_schema.py",
    ),
    "runtime": ("supervisord_lite/runtime/",),
    "convert": ("supervisord_lite/convert/",),
    "daemon entry": ("supervisord_lite/cli.py", "supervisord_lite/__main__.py"),
    "package": ("supervisord_lite/__init__.py",),
    "client core": (
        "clients/svctl/_colour.py",
        "clients/svctl/_json_out.py",
        "clients/svctl/_requests.py",
        "clients/svctl/_results.py",
        "clients/svctl/_session.py",
        "clients/svctl/errors.py",
        "clients/svctl/render.py",
    ),
    "clients": ("clients/svctl/",),
    "web page": ("clients/svctl/web/",),
    "client entry": (
        "clients/svctl/cli.py",
        "clients/svctl/_arguments.py",
        "clients/svctl/_commands.py",
    ),
}

#: Which parts each part may import (a part may always import itself). Every arrow points down:
#: the graph has no cycle, and nothing points at an entry point.
ARROWS: dict[str, frozenset[str]] = {
    "vocabulary": frozenset(),
    "protocol": frozenset({"vocabulary"}),
    "errors": frozenset({"protocol"}),
    "core": frozenset({"vocabulary", "errors"}),
    "store": frozenset({"vocabulary", "errors"}),
    "runtime": frozenset({"package", "vocabulary", "protocol", "errors", "core", "store"}),
    "convert": frozenset(),
    "daemon entry": frozenset(
        {"package", "vocabulary", "protocol", "errors", "core", "store", "runtime", "convert"}
    ),
    "package": frozenset(),
    "client core": frozenset({"package", "vocabulary", "protocol", "errors"}),
    "clients": frozenset({"package", "vocabulary", "protocol", "errors", "core", "client core"}),
    "web page": frozenset(
        {"package", "vocabulary", "protocol", "errors", "client core", "clients"}
    ),
    "client entry": frozenset(
        {
            "package",
            "vocabulary",
            "protocol",
            "errors",
            "core",
            "client core",
            "clients",
            "web page",
        }
    ),
}


def _project_files() -> list[Path]:
    return sorted([*DAEMON.rglob("*.py"), *CLIENTS.rglob("*.py")])


def _part_of(path: Path) -> str | None:
    rel = _rel(path)
    best: tuple[int, str] | None = None
    for part, patterns in PARTS.items():
        for pattern in patterns:
            covers = rel.startswith(pattern) if pattern.endswith("/") else rel == pattern
            if covers and (best is None or len(pattern) > best[0]):
                best = (len(pattern), part)
    return best[1] if best else None


def _module_parts() -> dict[str, str]:
    """Every project module's dotted name, with its part."""
    return {
        _module_name(path): part
        for path in _project_files()
        if (part := _part_of(path)) is not None
    }


def _part_of_module(name: str, modules: dict[str, str]) -> str | None:
    """The part of the module ``name`` is in (``pkg.mod.Class`` is ``pkg.mod``'s); None when it
    is not the project's."""
    pieces = name.split(".")
    while pieces:
        part = modules.get(".".join(pieces))
        if part is not None:
            return part
        pieces.pop()
    return None


def _imported_parts(path: Path, modules: dict[str, str]) -> set[tuple[str, str]]:
    """(module, part) for each project module a file imports. ``from pkg import mod`` imports
    ``pkg.mod``; ``from pkg import name`` imports ``pkg``."""
    found = set()
    is_package = path.name == "__init__.py"
    for base, names in _statements(path.read_text(), _module_name(path), is_package=is_package):
        targets = [f"{base}.{n}" if f"{base}.{n}" in modules else base for n in names] or [base]
        for target in targets:
            part = _part_of_module(target, modules)
            if part is not None:
                found.add((target, part))
    return found


def test_every_module_belongs_to_a_part() -> None:
    loose = [_rel(path) for path in _project_files() if _part_of(path) is None]
    assert loose == [], "add these files to PARTS (and docs/architecture.md)"


def test_the_arrows_name_parts_and_have_no_cycle() -> None:
    assert set(ARROWS) == set(PARTS)
    assert all(targets <= set(PARTS) for targets in ARROWS.values())
    done: set[str] = set()
    while len(done) < len(ARROWS):
        ready = {part for part, targets in ARROWS.items() if part not in done and targets <= done}
        assert ready, f"the arrows have a cycle among {sorted(set(ARROWS) - done)}"
        done |= ready
    entries = {"daemon entry", "client entry"}
    assert not [part for part, targets in ARROWS.items() if targets & entries]


@pytest.mark.parametrize("path", _project_files(), ids=_rel)
def test_imports_follow_the_arrows(path: Path) -> None:
    part = _part_of(path)
    if part is None:
        pytest.skip("not in a part (test_every_module_belongs_to_a_part says so)")
    wrong = sorted(
        f"{name} ({target})"
        for name, target in _imported_parts(path, _module_parts())
        if target != part and target not in ARROWS[part]
    )
    assert wrong == [], f"{_rel(path)} ({part}) imports parts it may not"


def test_relative_imports_are_resolved() -> None:
    source = "from . import sibling\nfrom .. import errors\nfrom ..protocol.messages import Hello\n"
    found = _imports_of(source, "supervisord_lite.lifecycle.states", is_package=False)
    assert {
        "supervisord_lite.lifecycle.sibling",
        "supervisord_lite.errors",
        "supervisord_lite.protocol.messages",
        "supervisord_lite.protocol.messages.Hello",
    } <= found
    in_init = _imports_of(
        "from .table import step\n", "supervisord_lite.lifecycle", is_package=True
    )
    assert "supervisord_lite.lifecycle.table" in in_init
    modules = _module_parts()
    assert _part_of_module("supervisord_lite.protocol.messages.Hello", modules) == "protocol"
    assert _part_of_module("supervisord_lite.lifecycle.sibling", modules) == "core"


def _documented_table() -> tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]]:
    """The parts table of docs/architecture.md: | part | files | may import |."""
    parts: dict[str, tuple[str, ...]] = {}
    arrows: dict[str, frozenset[str]] = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("**"):
            continue
        name = cells[0].strip("*")
        parts[name] = tuple(re.findall(r"`([^`]+)`", cells[1]))
        targets = cells[2].split(",") if cells[2] not in ("", "nothing") else []
        arrows[name] = frozenset(t.strip() for t in targets)
    return parts, arrows


def test_the_architecture_doc_shows_the_same_table() -> None:
    parts, arrows = _documented_table()
    assert {name: set(files) for name, files in parts.items()} == {
        name: set(files) for name, files in PARTS.items()
    }
    assert arrows == ARROWS


@pytest.mark.parametrize("path", _pure_files(), ids=_rel)
def test_pure_core_does_no_io(path: Path) -> None:
    assert not _hits(_imports(path), IO_MODULES), f"{_rel(path)} imports I/O modules"


def test_pure_core_is_not_empty() -> None:
    names = {p.name for p in _pure_files()}
    assert {"messages.py", "framing.py", "connection.py", "vocabulary.py"} <= names


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


#: What the clients may import from the daemon's package: the pure modules they share with it
#: (the protocol, the vocabulary, the error tree). Not the config model: ``-c CONFIG`` reads
#: only ``[daemon].socket``, so a config being edited never locks the operator out.
CLIENT_MAY_IMPORT = ("protocol", "errors", "signames", "vocabulary")


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


#: What neither CLI may load on import: the event loops, and ``svctl web``'s server.
HEAVY = {"trio", "anyio", "starlette", "hypercorn"}


@pytest.mark.parametrize("module", ["svctl.cli", "supervisord_lite.cli"])
def test_cli_import_does_not_pay_for_trio_or_anyio(module: str) -> None:
    code = f"import sys, {module}; print(sorted({HEAVY!r} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "[]"


def test_svctl_cli_import_does_not_pay_for_textual() -> None:
    """``svctl top`` imports Textual (and Rich) inside the command; every other command starts
    without them."""
    code = "import sys, svctl.cli; print(sorted({'textual', 'rich'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "[]"


def test_only_the_async_client_touches_anyio() -> None:
    offenders = [
        _rel(path)
        for path in CLIENTS.rglob("*.py")
        if path.name not in {"_async_client.py", "_async_io.py"}
        and "web" not in path.relative_to(CLIENTS).parts  # svctl web runs on trio
        and _hits(_imports(path), {"anyio", "trio", "asyncio"})
    ]
    assert offenders == []
