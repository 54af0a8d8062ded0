"""A program's config as the lifecycle's ``Policy``: the parts of ``ProgramConfig`` that decide
its transitions, in the lifecycle's own terms (``start_retries = "infinite"`` is None, the
``permafail`` table a ``Permafail`` rule). Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisord_lite.lifecycle.restarts import Permafail
from supervisord_lite.lifecycle.states import Policy

if TYPE_CHECKING:
    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.config_restarts import PermafailConfig

__all__ = ["policy_for"]


def policy_for(program: ProgramConfig) -> Policy:
    """The parts of a program's config the lifecycle decides with."""
    return Policy(
        autorestart=program.autorestart,
        exit_codes=program.exit_codes,
        start_seconds=program.start_seconds,
        start_retries=None if program.start_retries == "infinite" else program.start_retries,
        backoff_initial=program.backoff.initial,
        backoff_factor=program.backoff.factor,
        backoff_max=program.backoff.max,
        spawn_floor=program.backoff.floor,
        stop_signal=program.stop_signal,
        stop_timeout=program.stop_timeout,
        kill_timeout=program.kill_timeout,
        backoff_reset=program.backoff.reset_after,
        start_limit_burst=program.start_limit.burst,
        start_limit_interval=program.start_limit.interval,
        ready_probe=program.ready is not None,
        start_timeout=program.ready.start_timeout if program.ready is not None else 60.0,
        watchdog=program.watchdog,
        watchdog_signal=program.watchdog_signal,
        backoff_jitter=program.backoff.jitter,
        permafail=_permafail(program.permafail),
        graceful_stop=program.pre_stop is not None or program.stop_command is not None,
    )


def _permafail(rule: PermafailConfig | None) -> Permafail | None:
    if rule is None:
        return None
    return Permafail(
        deaths=rule.deaths, window=rule.window, exit_codes=rule.exit_codes, signals=rule.signals
    )
