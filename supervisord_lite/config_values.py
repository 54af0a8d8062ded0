"""Single values of the config: the constrained types its fields are annotated with, the
handlers of values that need more than their annotation (a signal name, a cron schedule, a time
zone, an environment), and relative paths made absolute against the config's folder.

Shared by the modules that hold the config's tables, so a value is checked and worded the same
wherever it appears. Pure.
"""

from __future__ import annotations

import os
from typing import Annotated

from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite import schedules, signames
from supervisord_lite.config_tables import INVALID, convert
from supervisord_lite.errors import Problem

__all__ = [
    "ExitCode",
    "GroupName",
    "Mode",
    "NonEmptyStr",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "env",
    "non_empty",
    "resolve",
    "schedule",
    "signal_name",
    "zone",
]

PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
NonEmptyStr = Annotated[str, Meta(min_length=1)]
Mode = Annotated[int, Meta(ge=0, le=0o777)]
ExitCode = Annotated[int, Meta(ge=0, le=255)]
GroupName = Annotated[str, Meta(pattern="^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def resolve(base: str, path: str) -> str:
    """``path`` made absolute against ``base`` (an absolute ``path`` stays as it is), normalised."""
    return os.path.normpath(os.path.join(base, path))


def env(raw: object, where: str, problems: list[Problem]) -> object:
    """Variables one by one, so a bad one is named; a name with '=' would corrupt environ."""
    if not isinstance(raw, dict):
        problems.append(Problem(where, f"expected a table, got {wording.kind_of(raw)}"))
        return INVALID
    variables: dict[str, str] = {}
    for key, value in raw.items():
        if not key or "=" in key or "\x00" in key:
            problems.append(Problem(wording.join(where, key), "invalid variable name"))
        converted = convert(value, str, wording.join(where, key), problems)
        if isinstance(converted, str):
            variables[key] = converted
    return variables


def signal_name(raw: object, where: str, problems: list[Problem]) -> object:
    """A signal name in any spelling ``signames.normalise`` accepts, as its bare name."""
    text = convert(raw, str, where, problems)
    if not isinstance(text, str):
        return INVALID
    name = signames.normalise(text)
    if name is None:
        problems.append(Problem(where, f"unknown signal {text!r}"))
        return INVALID
    return name


def schedule(raw: object, where: str, problems: list[Problem]) -> object:
    """A cron expression ``schedules`` can run."""
    text = convert(raw, NonEmptyStr, where, problems)
    if not isinstance(text, str):
        return INVALID
    why = schedules.check_cron(text)
    if why is not None:
        problems.append(Problem(where, f"not a cron schedule ({why}): {text!r}"))
        return INVALID
    return text


def zone(raw: object, where: str, problems: list[Problem]) -> object:
    """A time zone name this host knows."""
    text = convert(raw, NonEmptyStr, where, problems)
    if not isinstance(text, str):
        return INVALID
    why = schedules.check_zone(text)
    if why is not None:
        problems.append(Problem(where, why))
        return INVALID
    return text


def non_empty(raw: object, where: str, problems: list[Problem]) -> object:
    """A string of at least one character."""
    return convert(raw, NonEmptyStr, where, problems)
