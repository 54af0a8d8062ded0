"""How restarts are spaced, and when a program has failed for good: arithmetic, no decisions.

``backoff_delay`` is the wait before the n-th attempt of a series (a failed start or a crash
in a row): ``initial * factor ** (n - 1)``, at most ``maximum``, then shortened by up to
``jitter`` of itself so that programs failing together do not all come back at the same
instant. The random part is a parameter (``draw``, in [0, 1)): this module reads no random
source, and a draw of 0 is the delay without jitter.

``Permafail`` is s6-permafailon's rule: ``deaths`` deaths within ``window`` seconds, each with
one of the listed exit codes or signals, mean the program will not get better by being
restarted, so it goes FATAL at once instead of waiting out its retries or its start limit.
Only deaths of the program's own count (not those of a run the daemon was stopping: a
requested stop or restart, an unhealthy run, a watchdog, a run over its memory) and only those
since the operator last started it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterable

    from supervisord_lite.lifecycle.states import Death, ExitStatus

__all__ = ["Permafail", "backoff_delay"]


def backoff_delay(
    initial: float, factor: float, maximum: float, n: int, *, jitter: float = 0.0, draw: float = 0.0
) -> float:
    """Seconds to wait before attempt ``n + 1`` of a series whose ``n`` (>= 1) attempts failed.

    The base is ``min(maximum, initial * factor ** (n - 1))``; ``jitter`` (0 to 1) and ``draw``
    (0 to 1) take ``base * jitter * draw`` off it, so the delay lies in
    ``[base * (1 - jitter), base]`` and never passes ``maximum``.
    """
    try:
        base = min(maximum, initial * factor ** max(0, n - 1))
    except OverflowError:
        base = maximum
    return base * (1.0 - jitter * min(max(draw, 0.0), 1.0))


class Permafail(msgspec.Struct, frozen=True, kw_only=True):
    """``deaths`` matching deaths within ``window`` seconds make the program FATAL at once.

    A death matches when it is an exit with a code in ``exit_codes`` or a death by a signal in
    ``signals`` (bare names: ``"SEGV"``).
    """

    deaths: int
    window: float
    exit_codes: tuple[int, ...] = ()
    signals: tuple[str, ...] = ()

    def matches(self, status: ExitStatus) -> bool:
        """Whether a death with ``status`` counts for this rule."""
        if status.code is not None:
            return status.code in self.exit_codes
        return status.signal in self.signals

    def judge(self, deaths: Iterable[Death], *, now: float, since: float) -> str:
        """Why the program has failed for good, or "" when it has not: the matching deaths
        after ``since`` and within the window ending at ``now``."""
        start = max(since, now - self.window)
        counted = [d for d in deaths if d.at >= start and not d.stopped and self.matches(d.exit)]
        if len(counted) < self.deaths:
            return ""
        how = sorted({d.exit.describe() for d in counted})
        return (
            f"permanent failure: {len(counted)} deaths within {self.window:g} s by "
            f"{', '.join(how)} (permafail.deaths = {self.deaths})"
        )
