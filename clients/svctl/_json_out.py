"""What ``svctl ... --json`` prints: one JSON document per command, with a stable schema.

docs/json.md documents every document and every object inside one, field by field; a test
compares those tables with the Structs here and with a real run, so the two cannot drift.
The schema only grows: a field is never renamed, retyped or dropped, so a script that reads
the fields it knows keeps working. The objects inside (``ProgramStatus``, ``ActionResult``,
``StoreHealth``...) are the protocol's own, encoded with their wire field names.

Streams (``events --json``, ``history --json``) print one object per line instead; the
documents here are what a command prints once, whole, for ``json.tool`` or ``jq``.

Pure: msgspec and the protocol's vocabulary only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from supervisord_lite.protocol.messages import ActionResult, ProgramStatus, StoreHealth

if TYPE_CHECKING:
    from collections.abc import Sequence

    from svctl._results import ShutdownReport

__all__ = [
    "DOCUMENTS",
    "ActionDocument",
    "ShutdownDocument",
    "StatusDocument",
    "action_document",
    "dumps",
    "shutdown_document",
    "status_document",
]

EXIT_KILLED: Final = 4
"""``svctl shutdown``'s exit status when the daemon had to SIGKILL programs (the daemon's own)."""
EXIT_OUTPUT_LOST: Final = 5
"""``svctl shutdown``'s exit status when output was lost but nothing was killed (the daemon's)."""


class StatusDocument(msgspec.Struct, kw_only=True, frozen=True):
    """``svctl status --json``: the programs in config order and the state store's health."""

    programs: tuple[ProgramStatus, ...]
    store: StoreHealth | None


class ActionDocument(msgspec.Struct, kw_only=True, frozen=True):
    """``svctl start/stop/restart/wait --json``: whether every program got there, and each
    program's outcome (the exit status is 0 exactly when ``ok``)."""

    ok: bool
    programs: tuple[ActionResult, ...]


class ShutdownDocument(msgspec.Struct, kw_only=True, frozen=True):
    """``svctl shutdown --json``: how the daemon's shutdown went."""

    ok: bool
    waited: bool
    killed: tuple[str, ...]
    output_lost: int
    exit_code: int


#: Each command's document type, by the command that prints it.
DOCUMENTS: Final[dict[str, type[msgspec.Struct]]] = {
    "status": StatusDocument,
    "start": ActionDocument,
    "stop": ActionDocument,
    "restart": ActionDocument,
    "wait": ActionDocument,
    "signal": ActionDocument,
    "scale": ActionDocument,
    "shutdown": ShutdownDocument,
}

_encoder = msgspec.json.Encoder()


def dumps(document: msgspec.Struct) -> str:
    """``document`` as one line of JSON."""
    return _encoder.encode(document).decode()


def status_document(programs: Sequence[ProgramStatus], store: StoreHealth | None) -> str:
    """What ``status --json`` prints."""
    return dumps(StatusDocument(programs=tuple(programs), store=store))


def action_document(results: Sequence[ActionResult]) -> str:
    """What ``start``, ``stop``, ``restart`` and ``wait`` print with ``--json``."""
    return dumps(
        ActionDocument(ok=all(r.ok for r in results), programs=tuple(results)),
    )


def shutdown_exit_code(report: ShutdownReport | None) -> int:
    """0 for a clean shutdown (or one not waited for), 4 when programs were SIGKILLed, 5 when
    only output was lost: the daemon's own exit status."""
    if report is None or report.clean:
        return 0
    return EXIT_KILLED if report.killed else EXIT_OUTPUT_LOST


def shutdown_document(report: ShutdownReport | None, *, waited: bool) -> str:
    """What ``shutdown --json`` prints; ``report`` None: not waited for (or not reported)."""
    code = shutdown_exit_code(report)
    return dumps(
        ShutdownDocument(
            ok=code == 0,
            waited=waited,
            killed=report.killed if report is not None else (),
            output_lost=report.output_lost if report is not None else 0,
            exit_code=code,
        )
    )
