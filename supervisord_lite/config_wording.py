"""How config problems are worded for an operator: value kinds named as TOML has them, numbers
shown as written (octal for modes), paths to a value written ``$.programs.web.stop_timeout``.

The wording is built from the structure of the problem (the annotation a value was checked
against and the value itself), never from a library's English messages: ``explain`` walks the
annotation (``Annotated`` constraints, ``Literal``, optional values, arrays, tables, scalars) and
names the first thing that does not fit. ``understands`` says whether an annotation is one the
walker knows, so a test can hold every config field to it. Pure text.
"""

from __future__ import annotations

import json
import re
import types
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import msgspec

__all__ = ["explain", "join", "kind_of", "number", "understands"]

_PLAIN_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_KINDS: Final = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    tuple: "an array",
    dict: "a table",
    type(None): "nothing",
}
_BOUNDS: Final = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def explain(value: object, tp: Any, *, octal: bool = False) -> tuple[str, str] | None:
    """The first way ``value`` does not fit ``tp``, as ``(sub-path, message)``; None if it fits.

    ``octal`` shows numeric bounds the way modes are written (``0o777``).
    """
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *metas = get_args(tp)
        found = explain(value, inner, octal=octal)
        if found is not None:
            return found
        for meta in metas:
            if isinstance(meta, msgspec.Meta):
                message = _meta_problem(value, meta, octal=octal)
                if message is not None:
                    return "", message
        return None
    if origin is Union or origin is types.UnionType:
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        real = [o for o in options if o is not type(None)]
        problems = [explain(value, o, octal=octal) for o in real]
        if any(p is None for p in problems):
            return None
        return problems[0]
    if origin is Literal:
        choices = get_args(tp)
        if any(type(value) is type(c) and value == c for c in choices):
            return None
        kinds = {type(c) for c in choices}
        if len(kinds) == 1 and not isinstance(value, tuple(kinds)):
            return "", f"expected {_KINDS[kinds.pop()]}, got {kind_of(value)}"
        listed = ", ".join(repr(c) for c in choices)
        return "", f"must be one of {listed}, got {value!r}"
    if origin is tuple:
        return _explain_array(value, get_args(tp), octal=octal)
    if origin is dict:
        return _explain_table(value, get_args(tp)[1], octal=octal)
    if tp in (str, bool):
        return None if isinstance(value, tp) else ("", _wrong(tp, value))
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else ("", _wrong(int, value))
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else ("", _wrong(float, value))
    return None


def understands(tp: Any) -> bool:
    """Whether ``explain`` knows every part of the annotation ``tp``."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *metas = get_args(tp)
        return understands(inner) and all(isinstance(m, msgspec.Meta) for m in metas)
    if origin is Union or origin is types.UnionType:
        return all(o is type(None) or understands(o) for o in get_args(tp))
    if origin is Literal:
        return all(type(c) in (str, int, bool) for c in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        return len(args) == 2 and args[1] is Ellipsis and understands(args[0])
    if origin is dict:
        key, item = get_args(tp)
        return key is str and understands(item)
    return tp in (str, bool, int, float)


def _explain_array(value: object, args: tuple[Any, ...], *, octal: bool) -> tuple[str, str] | None:
    if not isinstance(value, list | tuple):
        return "", f"expected an array, got {kind_of(value)}"
    for index, item in enumerate(value):
        found = explain(item, args[0], octal=octal)
        if found is not None:
            return f"[{index}]{found[0]}", found[1]
    return None


def _explain_table(value: object, item_tp: Any, *, octal: bool) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return "", f"expected a table, got {kind_of(value)}"
    for key, item in value.items():
        found = explain(item, item_tp, octal=octal)
        if found is not None:
            return join("", str(key)) + found[0], found[1]
    return None


def _meta_problem(value: object, meta: msgspec.Meta, *, octal: bool) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        for attr, op in _BOUNDS:
            bound = getattr(meta, attr)
            if bound is None:
                continue
            fits = {
                ">": value > bound,
                ">=": value >= bound,
                "<": value < bound,
                "<=": value <= bound,
            }[op]
            if not fits:
                return f"must be {op} {number(bound, octal=octal)}"
    if isinstance(value, str | list | tuple):
        if meta.min_length is not None and len(value) < meta.min_length:
            if meta.min_length == 1:
                return "must not be empty"
            return f"length must be >= {meta.min_length}"
        if meta.max_length is not None and len(value) > meta.max_length:
            return f"length must be <= {meta.max_length}"
    return None


def _wrong(tp: type, value: object) -> str:
    return f"expected {_KINDS[tp]}, got {kind_of(value)}"


def kind_of(value: object) -> str:
    """What a TOML value is, in words: ``a string``, ``a table``, ``a date-time``."""
    for tp in (bool, int, float, str, list, tuple, dict, type(None)):
        if isinstance(value, tp):
            return _KINDS[tp]
    names = {"datetime": "a date-time", "date": "a date", "time": "a time"}
    return names.get(type(value).__name__, f"`{type(value).__name__}`")


def number(value: float, *, octal: bool = False) -> str:
    """A bound as an operator wrote it: ``10`` not ``10.0``, ``0o777`` for modes."""
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    whole = int(value)
    return oct(whole) if octal and whole else str(whole)


def join(path: str, key: str) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; keys that would read ambiguously are quoted: ``$.a["b c"]``."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"
