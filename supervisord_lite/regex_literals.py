"""The bytes every match of a regular expression must contain, read from the pattern's text.

The progress fallback (runtime/progress.py) scans a program's output for a user's pattern. A
chunk of output that lacks one byte every match needs cannot hold a match, and ``bytes.find``
of one byte is a memchr, an order of magnitude faster than the regex engine's scan. So the
pattern is read here once, conservatively: only literal characters at its top level that no
quantifier makes optional count; anything this reader does not plainly understand (a group, a
class, an escape that is not a punctuation mark, an alternation, case-insensitive or verbose
flags) adds nothing, so the answer can only be too short, never wrong.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["required_bytes"]

#: Escapes that stand for one literal character, not a class or an anchor.
_LITERAL_ESCAPES: Final = frozenset(r"\.^$*+?{}[]|()/-#&~ '\"%,:;<=>!@_`")
#: Escapes that stand for a class, an anchor or a control character, two characters long.
_SHORT_ESCAPES: Final = frozenset("dDwWsSbBAZntrfv")
#: Characters that are literal where they stand unescaped.
_PLAIN: Final = frozenset(" :=<>!@%,;_\"'/-#&~`")
#: Quantifiers that let the atom before them occur zero times (``{m,n}`` is read as such too).
_OPTIONAL: Final = frozenset("?*{")
#: Flags under which a literal is not one byte: any case, or spaces that are not spaces.
_BLURRING: Final = re.IGNORECASE | re.VERBOSE


def required_bytes(pattern: str) -> tuple[bytes, ...]:
    """The distinct single bytes that every match of ``pattern`` holds, punctuation first
    (it is rarer in output than letters and digits); empty when none is plain to see.

    Raises:
        re.error: ``pattern`` is not a regular expression.
    """
    if re.compile(pattern).flags & _BLURRING:
        return ()
    found: list[str] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        literal: str | None = None
        if char == "|":
            return ()  # an alternation at the top level: no byte is sure
        if char == "\\":
            escaped = pattern[pos + 1 : pos + 2]
            if escaped not in _LITERAL_ESCAPES and escaped not in _SHORT_ESCAPES:
                # \x41, \1, \N{...}: its length is not read here, so neither is the rest,
                # which may hold an alternation.
                if "|" in pattern[pos:]:
                    return ()
                break
            literal = escaped if escaped in _LITERAL_ESCAPES else None
            pos += 2
        elif char == "{":
            end = pattern.find("}", pos)
            pos = len(pattern) if end < 0 else end + 1  # a repeat's bounds are not text
        elif char == "[":
            pos = _after_class(pattern, pos)
        elif char == "(":
            pos = _after_group(pattern, pos)
        else:
            literal = char if char.isascii() and (char.isalnum() or char in _PLAIN) else None
            pos += 1
        if pattern[pos : pos + 1] in _OPTIONAL:
            literal = None
        if literal is not None and literal not in found:
            found.append(literal)
    found.sort(key=lambda c: c.isalnum())
    return tuple(c.encode() for c in found)


def _after_class(pattern: str, pos: int) -> int:
    """The index after the character class that opens at ``pos``."""
    pos += 1
    if pattern[pos : pos + 1] == "^":
        pos += 1
    if pattern[pos : pos + 1] == "]":
        pos += 1  # a ``]`` first in the class is a member
    while pos < len(pattern) and pattern[pos] != "]":
        pos += 2 if pattern[pos] == "\\" else 1
    return pos + 1


def _after_group(pattern: str, pos: int) -> int:
    """The index after the group that opens at ``pos``, nested groups and classes included."""
    depth = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "[":
            pos = _after_class(pattern, pos)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return pos
