"""A translated config written as TOML, the way an operator writes it."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supervisord_lite.convert.model import Conversion


def to_toml(conversion: Conversion, source: str) -> str:
    """The translated config as TOML text, led by a comment naming its source and what was not
    translated. Written here rather than by a TOML library so that arrays stay on one line and
    modes read as octal, the way an operator writes them."""
    lines = [f"# Translated from {source} by supervisord-lite convert."]
    if conversion.notes:
        lines.append("# Not translated as it was:")
        lines.extend(f"#   {note}" for note in conversion.notes)
    _emit_table([], conversion.config, lines)
    return "\n".join(lines) + "\n"


_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_OCTAL_KEYS: Final = frozenset({"socket_mode", "umask"})


def _emit_table(path: list[str], table: Mapping[str, object], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if path and (scalars or not table):
        lines.extend(("", f"[{'.'.join(_key(p) for p in path)}]"))
    lines.extend(f"{_key(k)} = {_value(k, v)}" for k, v in scalars.items())
    for key, value in table.items():
        if isinstance(value, dict):
            _emit_table([*path, key], value, lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0o{value:o}" if key in _OCTAL_KEYS else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(key, v) for v in value) + "]"
    # TOML basic strings take JSON's escapes.
    return json.dumps(str(value), ensure_ascii=False)
