"""The files a config reads besides itself: ``env_file`` (dotenv) and ``include`` (more programs).

Both are read when the config is loaded (``--check``, start, every reload), so a change to an
env file or an included file is a change of the config like any other, shown by the reload plan.
The reading goes through a ``FileAccess`` handed in by the caller: ``DISK`` for a config file
on disk, ``NO_FILES`` for a config given as text (each read is then a problem naming the file),
so validating stays free of hidden I/O. dotenv files are parsed by python-dotenv, without
``${VAR}`` interpolation: what the file says is what the program gets.
"""

from __future__ import annotations

import glob
import io
import os
from typing import TYPE_CHECKING, Final, Protocol

import msgspec

from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DISK", "NO_FILES", "FileAccess", "Included", "env_from_files", "included"]


class FileAccess(Protocol):
    """How a config reads the files it names."""

    def read(self, path: str) -> bytes:
        """The file's bytes. Raises OSError."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """The paths matching ``pattern`` (absolute), sorted."""
        ...


class _Disk:
    def read(self, path: str) -> bytes:
        with open(path, "rb") as file:
            return file.read()

    def glob(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern))


class _NoFiles:
    def read(self, path: str) -> bytes:
        raise OSError(0, "a config given as text cannot read other files", path)

    def glob(self, pattern: str) -> list[str]:
        raise OSError(0, "a config given as text cannot read other files", pattern)


DISK: Final[FileAccess] = _Disk()
NO_FILES: Final[FileAccess] = _NoFiles()


def env_from_files(
    paths: Sequence[str], files: FileAccess, where: str, problems: list[Problem]
) -> dict[str, str]:
    """The variables of the dotenv files at ``paths`` (absolute), later files winning."""
    import dotenv  # only configs with env files pay for it (and for the logging it imports)

    env: dict[str, str] = {}
    for index, path in enumerate(paths):
        at = f"{where}[{index}]"
        try:
            text = files.read(path).decode("utf-8")
        except OSError as exc:
            problems.append(Problem(at, f"cannot read {path}: {exc.strerror or exc}"))
            continue
        except UnicodeDecodeError as exc:
            problems.append(Problem(at, f"{path}: not UTF-8 text: {exc.reason}"))
            continue
        for key, value in dotenv.dotenv_values(stream=io.StringIO(text), interpolate=False).items():
            if value is None:
                problems.append(Problem(at, f"{path}: {key!r} has no value (write {key}=)"))
            elif not key or "=" in key or "\x00" in key or "\x00" in value:
                problems.append(Problem(at, f"{path}: invalid variable {key!r}"))
            else:
                env[key] = value
    return env


class Included(msgspec.Struct, frozen=True):
    """One included file: its path as the operator sees it, its folder, its programs table."""

    name: str
    base_dir: str
    programs: object


def included(
    patterns: object, base: str, files: FileAccess, problems: list[Problem]
) -> list[Included]:
    """The files ``include`` names (globs relative to ``base``), each with its programs; an
    included file holds ``[programs.NAME]`` tables only."""
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        problems.append(Problem("$.include", "expected an array of file patterns"))
        return []
    found: list[Included] = []
    for index, pattern in enumerate(patterns):
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        try:
            paths = files.glob(full)
        except OSError as exc:
            problems.append(Problem(f"$.include[{index}]", str(exc.strerror or exc)))
            continue
        for path in paths:
            name = os.path.relpath(path, base) if path.startswith(base + os.sep) else path
            table = _read_toml(path, name, files, problems)
            if table is None:
                continue
            for key in table:
                if key != "programs":
                    message = "only [programs.NAME] tables may be in an included file"
                    problems.append(Problem(f"{name}:$.{key}", message))
            found.append(Included(name, os.path.dirname(path), table.get("programs", {})))
    return found


def _read_toml(
    path: str, name: str, files: FileAccess, problems: list[Problem]
) -> dict[str, object] | None:
    try:
        text = files.read(path).decode("utf-8")
        table = msgspec.toml.decode(text)
    except OSError as exc:
        problems.append(Problem(f"{name}:$", f"cannot read the file: {exc.strerror or exc}"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(f"{name}:$", f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
        return None
    except msgspec.DecodeError as exc:
        problems.append(Problem(f"{name}:$", f"invalid TOML: {exc}"))
        return None
    return table if isinstance(table, dict) else {}
