"""Converting a TOML table into a Struct's fields one by one, so every bad field is reported.

msgspec stops at the first error of a ``convert()`` call; ``table`` converts each field of a
table against the Struct's own annotation and collects a ``Problem`` per mistake, with its path
(``$.programs.web.stop_timout``), worded by config_wording. Shared by every module that holds a
table of the config. Pure.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    Handler = Callable[[object, str, list[Problem]], object]

__all__ = ["INVALID", "OCTAL_FIELDS", "Argv", "command", "convert", "table"]

Argv = Annotated[tuple[str, ...], Meta(min_length=1)]
"""A command: the program and its arguments, never run through a shell."""

OCTAL_FIELDS: Final = frozenset({"socket_mode", "umask", "mode"})
"""Fields whose bounds are worded in octal, the way modes are written."""
INVALID: Final = object()
"""What a handler returns for a value it could not convert (its problem is reported)."""


def table(
    raw: object,
    cls: type[msgspec.Struct],
    path: str,
    problems: list[Problem],
    *,
    special: Mapping[str, Handler] | None = None,
    forbidden: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Convert each field of a TOML table on its own, in file order, so every bad one is reported.

    ``special`` maps a field to the handler that converts it instead of its annotation;
    ``forbidden`` maps a field that must not appear in the file to the message saying why.
    Returns the fields that converted; the caller compares ``len(problems)`` to know if all did.
    """
    if not isinstance(raw, dict):
        problems.append(Problem(path, f"expected a table, got {wording.kind_of(raw)}"))
        return {}
    special = special or {}
    forbidden = forbidden or {}
    fields = {f.name: f for f in msgspec.structs.fields(cls) if f.name not in forbidden}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = wording.join(path, key)
        field = fields.get(key)
        if field is None:
            problems.append(Problem(where, forbidden.get(key, "unknown field")))
            continue
        handler = special.get(key)
        if handler is not None:
            converted = handler(value, where, problems)
        else:
            converted = convert(value, field.type, where, problems, octal=key in OCTAL_FIELDS)
        if converted is not INVALID:
            values[key] = converted
    for field in fields.values():
        required = field.default is msgspec.NODEFAULT and field.default_factory is msgspec.NODEFAULT
        if required and field.name not in raw:
            problems.append(
                Problem(wording.join(path, field.name), "missing: this field is required")
            )
    return values


def convert(
    value: object, tp: Any, where: str, problems: list[Problem], *, octal: bool = False
) -> Any:
    found = wording.explain(value, tp, octal=octal)
    if found is not None:
        problems.append(Problem(where + found[0], found[1]))
        return INVALID
    try:
        result = msgspec.convert(value, tp)
    except msgspec.ValidationError as exc:
        problems.append(Problem(where, f"invalid value: {exc}"))
        return INVALID
    strings = result if isinstance(result, tuple) else (result,)
    if any(isinstance(s, str) and "\x00" in s for s in strings):
        problems.append(Problem(where, "must not contain a NUL character"))
        return INVALID
    return result


def command(raw: object, where: str, problems: list[Problem]) -> object:
    """An argv list as given, or a string split the way a POSIX shell would (but never run)."""
    if isinstance(raw, str):
        try:
            raw = shlex.split(raw)
        except ValueError as exc:
            problems.append(Problem(where, f"cannot split the command string: {exc}"))
            return INVALID
    argv = convert(raw, Argv, where, problems)
    if isinstance(argv, tuple) and argv and not argv[0]:
        problems.append(Problem(f"{where}[0]", "must not be empty"))
        return INVALID
    return argv
