"""Webhooks: each ``[[webhooks]]`` receiver gets the event log's events, at least once, in order.

A hook reads the event log from the store, never from a queue in memory, so a receiver that is
down for a day costs the daemon nothing but its cursor (docs/events.md):

- Its cursor (the last seq it dealt with) is kept in the state store, written through the store
  writer after each delivery, so a daemon restarted (or killed) resumes after it. An event
  delivered just before a crash, whose cursor was not yet written, is delivered again: at
  least once, never lost, and each body carries its ``seq`` for the receiver to drop repeats.
- One event at a time, in seq order; an event the hook does not want (``events``,
  ``programs``) only moves the cursor. A failed attempt (no answer within ``timeout``, a
  connection error, a status other than 2xx) is retried after an exponential backoff with
  jitter, from ``retry_initial`` up to ``retry_max`` seconds; the events after it wait.
- Caught up, a hook waits on the event log's wake-up (``EventLog.wait_beyond``), never on a
  timer: only a failing hook sleeps, and only its backoff.
- A hook that starts failing, and one that delivers again, is itself an event (kind
  ``webhook``, with its counters), and a line in the daemon's log.

The HTTP is httpx's ``AsyncClient`` (on trio through anyio; TLS verified by default), imported
only by a daemon that has hooks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import random
import time
from typing import TYPE_CHECKING, Final

import msgspec
import trio

from supervisord_lite import __version__
from supervisord_lite.errors import StoreError
from supervisord_lite.protocol.messages import DaemonEvent, StateChanged, WebhookStatus
from supervisord_lite.runtime.daemonlog import log
from supervisord_lite.runtime.eventlog import kind_of
from supervisord_lite.store_records import CursorMoved

if TYPE_CHECKING:
    import httpx

    from supervisord_lite.config_webhooks import WebhookConfig
    from supervisord_lite.runtime.eventlog import Event, EventLog
    from supervisord_lite.runtime.storewriter import StoreWriter

__all__ = ["SIGNATURE_HEADER", "Webhook", "Webhooks", "backoff", "body_of", "sign"]

SIGNATURE_HEADER: Final = "X-Supervisord-Lite-Signature-256"
#: Events a hook reads from the store at a time.
PAGE: Final = 128
#: How long a hook whose store read failed waits before it reads again.
STORE_RETRY: Final = 1.0

_json = msgspec.json.Encoder()


def body_of(event: Event) -> bytes:
    """The JSON a hook is sent: the event's fields, ``type`` (``state`` or ``daemon``) and
    ``seq`` among them, as ``svctl events --json`` prints it."""
    fields = msgspec.to_builtins(event)
    fields.pop("id", None)
    return _json.encode({"type": fields.pop("kind"), **fields})


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempt: int, initial: float, most: float, rng: random.Random) -> float:
    """The wait before retry number ``attempt`` (0 first): ``initial * 2**attempt``, at most
    ``most``, of which a random half is kept (jitter, so hooks failing together spread out)."""
    ceiling = min(most, initial * 2.0 ** min(attempt, 64))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def wants(hook: WebhookConfig, event: Event) -> bool:
    """Whether ``hook`` is sent ``event``: its kind is among ``events``, and its program
    matches one of ``programs`` (globs; an event of the daemon only when none is named)."""
    if hook.events and kind_of(event) not in hook.events:
        return False
    if not hook.programs:
        return True
    if not isinstance(event, StateChanged):
        return False
    return any(fnmatch.fnmatchcase(event.program, pattern) for pattern in hook.programs)


class Webhook:
    """One receiver: its delivery task and its counters (see the module docstring)."""

    def __init__(self, hook: WebhookConfig, events: EventLog, writer: StoreWriter) -> None:
        self.hook = hook
        self._events = events
        self._writer = writer
        self.cursor = 0
        self.delivered = 0
        self.failed = 0
        self.failing = False
        self.error = ""
        self._rng = random.Random()

    def status(self) -> WebhookStatus:
        return WebhookStatus(
            name=self.hook.key,
            url=self.hook.url,
            cursor=self.cursor,
            lag=max(0, self._events.newest - self.cursor),
            delivered=self.delivered,
            failed=self.failed,
            failing=self.failing,
            error=self.error,
        )

    async def run(self, start: int) -> None:
        """Deliver for ever; a hook never seen starts after seq ``start``."""
        import httpx  # only a daemon with hooks pays for it

        async with httpx.AsyncClient(timeout=self.hook.timeout) as client:
            while True:
                try:
                    await self._deliver_all(client, start)
                except StoreError as exc:
                    log.warning("webhook %s: cannot read the event log: %s", self.hook.key, exc)
                    await trio.sleep(STORE_RETRY)

    async def _deliver_all(self, client: httpx.AsyncClient, start: int) -> None:
        key = self.hook.key
        cursor = await self._writer.query(lambda store: store.cursor(key))
        if cursor is None:
            cursor = start
            self._writer.submit(CursorMoved(name=key, seq=cursor))
        self.cursor = cursor
        while True:
            await self._events.wait_beyond(self.cursor)
            page = await self._events.read(self.cursor + 1, PAGE)
            if page and page[0].seq > self.cursor + 1:
                log.warning(
                    "webhook %s: events %d to %d were pruned before it could send them",
                    key,
                    self.cursor + 1,
                    page[0].seq - 1,
                )
            moved = False
            for event in page:
                if wants(self.hook, event):
                    await self._deliver(client, event)
                    self.cursor = event.seq
                    self._writer.submit(CursorMoved(name=key, seq=event.seq))
                    moved = False
                else:
                    self.cursor = event.seq
                    moved = True
            if not page:
                self.cursor = self._events.newest  # everything after the cursor is pruned
                moved = True
            if moved:
                self._writer.submit(CursorMoved(name=key, seq=self.cursor))

    async def _deliver(self, client: httpx.AsyncClient, event: Event) -> None:
        """Send ``event`` until the receiver takes it (a 2xx)."""
        attempt = 0
        while True:
            error = await self._attempt(client, event)
            if error is None:
                self.delivered += 1
                if self.failing:
                    self.failing = False
                    log.info("webhook %s: delivering again (seq %d)", self.hook.key, event.seq)
                    self._tell(f"webhook {self.hook.key} delivers again")
                return
            self.failed += 1
            self.error = error
            if not self.failing:
                self.failing = True
                log.warning("webhook %s: seq %d not delivered: %s", self.hook.key, event.seq, error)
                self._tell(f"webhook {self.hook.key} is failing: {error}")
            await trio.sleep(
                backoff(attempt, self.hook.retry_initial, self.hook.retry_max, self._rng)
            )
            attempt += 1

    async def _attempt(self, client: httpx.AsyncClient, event: Event) -> str | None:
        """One POST of ``event``; None when it was taken, else what went wrong."""
        import httpx

        hook = self.hook
        body = body_of(event)
        headers = {
            **hook.headers,
            "Content-Type": "application/json",
            "User-Agent": f"supervisord-lite/{__version__}",
            "X-Supervisord-Lite-Event": kind_of(event),
            "X-Supervisord-Lite-Seq": str(event.seq),
            "X-Supervisord-Lite-Hook": hook.key,
        }
        if hook.secret is not None:
            headers[SIGNATURE_HEADER] = sign(hook.secret, body)
        with trio.move_on_after(hook.timeout):
            try:
                async with client.stream("POST", hook.url, content=body, headers=headers) as r:
                    if 200 <= r.status_code < 300:
                        return None
                    return f"HTTP {r.status_code} {r.reason_phrase}".rstrip()
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return f"no answer within {hook.timeout:g}s"

    def _tell(self, message: str) -> None:
        self._events.publish(
            DaemonEvent(change="webhook", at=time.time(), message=message, webhook=self.status())
        )


class Webhooks:
    """Every configured hook, each in a task of its own; ``apply`` follows a reload."""

    def __init__(self, events: EventLog, writer: StoreWriter, nursery: trio.Nursery) -> None:
        self._events = events
        self._writer = writer
        self._nursery = nursery
        self._hooks: dict[str, tuple[Webhook, trio.CancelScope]] = {}

    def apply(self, hooks: tuple[WebhookConfig, ...], *, start: int | None = None) -> None:
        """Run exactly ``hooks``: a removed or changed hook's task ends, a new or changed one
        starts from its stored cursor; a hook never seen starts after seq ``start`` (the
        newest event now when None)."""
        first = self._events.newest if start is None else start
        wanted = {hook.key: hook for hook in hooks}
        for key, (running, scope) in list(self._hooks.items()):
            if wanted.get(key) != running.hook:
                scope.cancel()
                del self._hooks[key]
        for key, hook in wanted.items():
            if key not in self._hooks:
                webhook = Webhook(hook, self._events, self._writer)
                scope = trio.CancelScope()
                self._hooks[key] = (webhook, scope)
                self._nursery.start_soon(self._run, webhook, scope, first, name=f"webhook {key}")

    def statuses(self) -> tuple[WebhookStatus, ...]:
        return tuple(webhook.status() for webhook, _ in self._hooks.values())

    async def _run(self, webhook: Webhook, scope: trio.CancelScope, start: int) -> None:
        with scope:
            await webhook.run(start)
