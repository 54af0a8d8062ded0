"""The public surface of ``svctl``, pinned, and what importing it costs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import svctl
from svctl import errors

PUBLIC = [
    "DEFAULT_SOCKET",
    "SOCKET_ENV",
    "ActionResult",
    "AsyncClient",
    "AsyncPushStream",
    "Client",
    "CommandFailed",
    "ConfigInvalid",
    "DaemonEvent",
    "DaemonUnavailable",
    "End",
    "ErrorCode",
    "HistoryEntry",
    "Lagged",
    "LogChunk",
    "Missed",
    "NoSuchProgram",
    "PermissionDenied",
    "PlannedChange",
    "PlannedProgram",
    "ProgramState",
    "ProgramStatus",
    "ProtocolMismatch",
    "ReloadReply",
    "ShutdownReport",
    "ShuttingDown",
    "StateChanged",
    "SvctlError",
    "SyncPushStream",
    "Timeout",
    "UsageError",
    "WebhookStatus",
    "Welcome",
    "report",
    "socket_from_config",
]


def test_all_is_pinned() -> None:
    assert svctl.__all__ == PUBLIC


def test_every_public_name_resolves() -> None:
    for name in svctl.__all__:
        assert getattr(svctl, name) is not None, name


def test_default_socket() -> None:
    assert svctl.DEFAULT_SOCKET == "/run/supervisord-lite/ctl.sock"


def test_error_tree_and_exit_codes() -> None:
    tree = {
        errors.DaemonUnavailable: (errors.SvctlError, 3),
        errors.ProtocolMismatch: (errors.SvctlError, 3),
        errors.UsageError: (errors.SvctlError, 2),
        errors.CommandFailed: (errors.SvctlError, 1),
        errors.NoSuchProgram: (errors.CommandFailed, 1),
        errors.Timeout: (errors.CommandFailed, 1),
        errors.PermissionDenied: (errors.CommandFailed, 1),
        errors.ConfigInvalid: (errors.CommandFailed, 2),
        errors.ShuttingDown: (errors.CommandFailed, 1),
    }
    for cls, (parent, exit_code) in tree.items():
        assert cls.__bases__ == (parent,), cls
        assert cls.exit_code == exit_code, cls
        assert cls.__name__ in (errors.__doc__ or ""), cls


def test_import_svctl_does_not_import_trio_or_anyio() -> None:
    code = "import sys, svctl, svctl.cli; print(sorted({'trio', 'anyio'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "[]"


def test_async_client_is_loaded_on_demand() -> None:
    from svctl._async_client import AsyncClient, AsyncPushStream

    assert svctl.AsyncClient is AsyncClient
    assert svctl.AsyncPushStream is AsyncPushStream


def test_no_public_result_carries_a_request_id() -> None:
    """Results are the client's own types: the wire's routing ids stay in the session."""
    for name in ["End", "Lagged", "LogChunk", "ReloadReply", "StateChanged", "Welcome"]:
        cls = getattr(svctl, name)
        assert cls.__module__ == "svctl._results", name
        assert "id" not in cls.__struct_fields__, name
    for name in ["ActionResult", "ProgramStatus"]:
        assert "id" not in getattr(svctl, name).__struct_fields__, name
    # HistoryEntry.id is the event's number in the store, not a request id.


def test_report_needs_no_loop_and_no_daemon() -> None:
    """A supervised program can call ``svctl.report`` without paying for the daemon or a loop:
    its module imports only the standard library, and ``import svctl`` no runtime."""
    source = Path(svctl.__file__).with_name("_report.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "os", "socket"}
    code = (
        "import sys, svctl; svctl.report(done=1); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'trio', 'anyio'} "
        "or m.startswith('supervisord_lite.runtime')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
