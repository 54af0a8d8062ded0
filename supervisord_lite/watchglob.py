"""Which paths a program's ``watch`` and ``watch_ignore`` globs match, and which folders to
watch for them. Pure: paths are strings, nothing is read from the disk.

The globs are absolute after ``config.load`` (relative ones resolve against the program's
cwd). ``*`` matches within one path component, ``?`` one character of it, ``[abc]`` one of a
set, and ``**`` any number of whole components (``src/**/*.py`` matches ``src/a.py`` and
``src/a/b/c.py``). A path is a change worth a restart when a ``watch`` glob matches it and no
``watch_ignore`` glob does. The folder watched for a glob is its longest leading part with no
wildcard, recursively.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["PathFilter", "roots", "to_regex"]

_WILD: Final = re.compile(r"[*?\[]")


def to_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression a whole path must match to match ``pattern``."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def roots(patterns: Iterable[str]) -> list[str]:
    """The folders to watch (recursively) for ``patterns``: each glob's leading part with no
    wildcard, the folder of a plain file path; none inside another."""
    found: set[str] = set()
    for pattern in patterns:
        match = _WILD.search(pattern)
        fixed = pattern if match is None else pattern[: match.start()]
        folder = fixed if fixed.endswith("/") else os.path.dirname(fixed)
        found.add(os.path.normpath(folder or "/"))
    kept: list[str] = []
    for folder in sorted(found):
        if not any(folder == k or folder.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(folder)
    return kept


class PathFilter:
    """Whether a changed path is one the program watches (and does not ignore)."""

    __slots__ = ("_ignore", "_watch")

    def __init__(self, watch: Iterable[str], ignore: Iterable[str] = ()) -> None:
        self._watch = [to_regex(p) for p in watch]
        self._ignore = [to_regex(p) for p in ignore]

    def __call__(self, path: str) -> bool:
        return any(r.fullmatch(path) for r in self._watch) and not any(
            r.fullmatch(path) for r in self._ignore
        )
