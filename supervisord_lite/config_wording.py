"""How config problems are worded for an operator: msgspec's validation messages translated,
value kinds named as TOML has them, numbers shown as written (octal for modes), and paths to a
value written ``$.programs.web.stop_timeout``. Pure text."""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal

__all__ = ["join", "kind_of", "kinds", "number", "translate"]

_PLAIN_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_AT: Final = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<at>[^`]*)`)?", re.DOTALL)
_WRONG_TYPE: Final = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_LENGTH: Final = re.compile(r"Expected `[^`]+` of length (?P<op>[<>]=?) (?P<n>\d+)")
_BOUND: Final = re.compile(r"Expected `[^`]+` (?P<op>[<>]=?) (?P<n>\S+)")
_ENUM: Final = re.compile(r"Invalid enum value (?P<value>.+)")
_KINDS: Final = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "array": "an array",
    "object": "a table",
    "null": "nothing",
    "datetime": "a date-time",
    "date": "a date",
    "time": "a time",
}


def translate(text: str, tp: Any, *, octal: bool) -> tuple[str, str]:
    """Turn a msgspec validation message into ``(sub-path, message for an operator)``."""
    found = _AT.fullmatch(text)
    assert found is not None
    message, subpath = found["message"], found["at"] or ""
    if m := _WRONG_TYPE.fullmatch(message):
        want = next(k for k in m["want"].split(" | ") if k != "null")
        return subpath, f"expected {kinds(want)}, got {kinds(m['got'])}"
    if m := _LENGTH.fullmatch(message):
        if m["op"] == ">=" and m["n"] == "1":
            return subpath, "must not be empty"
        return subpath, f"length must be {m['op']} {m['n']}"
    if m := _BOUND.fullmatch(message):
        return subpath, f"must be {m['op']} {number(m['n'], octal=octal)}"
    if (m := _ENUM.fullmatch(message)) and getattr(tp, "__origin__", None) is Literal:
        choices = ", ".join(repr(c) for c in tp.__args__)
        return subpath, f"must be one of {choices}, got {m['value']}"
    return subpath, message[:1].lower() + message[1:]


def kinds(name: str) -> str:
    return _KINDS.get(name, f"`{name}`")


def kind_of(value: object) -> str:
    names = {dict: "object", list: "array", str: "str", bool: "bool", int: "int", float: "float"}
    return kinds(names.get(type(value), type(value).__name__))


def number(text: str, *, octal: bool = False) -> str:
    number = float(text)
    if not number.is_integer():
        return text
    return oct(int(number)) if octal and number else str(int(number))


def join(path: str, key: str) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; keys that would read ambiguously are quoted: ``$.a["b c"]``."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"
