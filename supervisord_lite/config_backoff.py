"""How a failing program is restarted: ``backoff`` spaces the restarts, ``start_limit`` and
``start_retries`` bound them before the program is FATAL.

Checked here (``max`` is never below ``initial``) so the lifecycle can trust the numbers it is
given. Pure.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, convert, table
from supervisord_lite.config_values import NonNegativeFloat, NonNegativeInt, PositiveFloat
from supervisord_lite.errors import Problem

__all__ = ["Backoff", "StartLimit", "backoff", "start_limit", "start_retries"]


class Backoff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Spacing of restarts: at least ``floor`` apart, then ``initial * factor**n`` up to ``max``,
    shortened by up to ``jitter`` of itself."""

    initial: PositiveFloat = 1.0
    factor: Annotated[float, Meta(ge=1)] = 2.0
    max: PositiveFloat = 30.0
    floor: NonNegativeFloat = 1.0
    reset_after: NonNegativeFloat = 30.0
    jitter: Annotated[float, Meta(ge=0, le=1)] = 0.0


class StartLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """At most ``burst`` restarts after failures within ``interval`` seconds, then FATAL."""

    burst: NonNegativeInt = 5
    interval: PositiveFloat = 60.0


def backoff(raw: object, where: str, problems: list[Problem]) -> object:
    """A ``backoff`` table whose ``max`` is at least its ``initial``."""
    before = len(problems)
    values = table(raw, Backoff, where, problems)
    if len(problems) > before:
        return INVALID
    spacing = Backoff(**values)
    if spacing.max < spacing.initial:
        message = f"must be >= initial ({wording.number(spacing.initial)})"
        problems.append(Problem(wording.join(where, "max"), message))
        return INVALID
    return spacing


def start_retries(raw: object, where: str, problems: list[Problem]) -> object:
    """A count, or ``"infinite"``."""
    if raw == "infinite":
        return raw
    if isinstance(raw, str):
        problems.append(Problem(where, f'expected an integer >= 0 or "infinite", got {raw!r}'))
        return INVALID
    return convert(raw, NonNegativeInt, where, problems)


def start_limit(raw: object, where: str, problems: list[Problem]) -> object:
    """A ``start_limit`` table."""
    before = len(problems)
    values = table(raw, StartLimit, where, problems)
    return INVALID if len(problems) > before else StartLimit(**values)
