"""The operator's intent: the last start or stop the operator asked of each program, kept.

A program the operator stopped stays stopped across a reload that changes it and across a
daemon restart (a crash and ``kill -9`` included); one the operator started stays started.
``autostart`` decides only for a program the operator has not touched since it was added.

The intent is the operator's word, not the program's state: ``svctl start``, ``stop`` and
``restart`` (and a stop's ``--with-dependents``) set it; what the daemon does on its own (a
restart after a crash, a dependency that holds or stops a program, a reload's restart, the
shutdown) never does. It is written to the state store (``intents``) through the store writer
with the next batch, before the action it names completes; a program removed from the config
forgets it, so a program added again under that name (or a renamed one) is new.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from supervisord_lite.errors import StoreError
from supervisord_lite.protocol.messages import OperatorIntent
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.store import Store
from supervisord_lite.store_records import Intent, IntentRecorded
from supervisord_lite.vocabulary import Want

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from supervisord_lite.config import ProgramConfig
    from supervisord_lite.runtime.storewriter import StoreWriter

__all__ = ["Intents"]


class Intents:
    """Every program's recorded intent, mirrored in memory; see the module docstring."""

    def __init__(self, store: StoreWriter, wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._wall_clock = wall_clock
        self._known: dict[str, Intent] = {}

    async def load(self, names: Collection[str]) -> None:
        """Read the recorded intents; those of programs no longer in the config (``names``)
        are forgotten (they were removed while the daemon was down). A store that cannot be
        read leaves every program to ``autostart`` (logged), rather than keep the daemon down."""
        try:
            known = await self._store.query(Store.intents)
        except StoreError as exc:
            log.error("the operator's intents cannot be read (autostart decides): %s", exc)
            return
        for gone in sorted(set(known) - set(names)):
            self.forget(gone)
            del known[gone]
        self._known = known

    def record(self, name: str, want: Want) -> None:
        """The operator asked for ``name`` up or down, now."""
        at = self._wall_clock()
        self._known[name] = Intent(program=name, want=want, at=at)
        self._store.submit(IntentRecorded(program=name, want=want, at=at))

    def forget(self, name: str) -> None:
        """``name`` left the config: its intent (and its schedule's last run) go too."""
        self._known.pop(name, None)
        self._store.submit(IntentRecorded(program=name, want=None, at=self._wall_clock()))

    def get(self, name: str) -> Intent | None:
        return self._known.get(name)

    def wants_up(self, program: ProgramConfig, *, was_up: bool = False) -> bool:
        """Whether ``program`` should be up: the operator's word if there is one, else
        ``autostart`` (or ``was_up``: it was wanted up by the daemon, a dependency's start).
        Never for a scheduled program: its schedule starts it (scheduler.py)."""
        if program.scheduled:
            return False
        intent = self._known.get(program.name)
        if intent is not None:
            return intent.want is Want.UP
        return was_up or program.autostart

    def wire(self, name: str) -> OperatorIntent | None:
        """The intent as ``ProgramStatus.intent`` carries it."""
        intent = self._known.get(name)
        return None if intent is None else OperatorIntent(want=intent.want, at=intent.at)
