"""The ``[[webhooks]]`` tables of the config: where the event log's events are sent.

Each hook has a URL (http or https, with a host), the event kinds and programs it wants (none
named: all), an optional secret that signs each body (HMAC-SHA256, docs/events.md), a timeout
per attempt, extra headers, and the bounds of its retry backoff. Its ``name`` (the URL when
not given) keys its cursor in the state store: a hook renamed starts afresh. Checked here, so
a bad hook is a config error, not a delivery that fails for ever. Pure.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import table
from supervisord_lite.errors import Problem
from supervisord_lite.vocabulary import EVENT_KINDS

__all__ = ["RESERVED_HEADERS", "WebhookConfig", "check_webhooks", "webhooks"]

RESERVED_HEADERS: Final = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "x-supervisord-lite-event",
        "x-supervisord-lite-seq",
        "x-supervisord-lite-hook",
        "x-supervisord-lite-signature-256",
    }
)
"""Headers the daemon sets on every delivery, which a hook's ``headers`` may not replace."""

_Seconds = Annotated[float, Meta(gt=0)]
_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[webhooks]]``: one receiver of the event log (docs/events.md)."""

    url: Annotated[str, Meta(min_length=1)]
    name: Annotated[str, Meta(min_length=1)] | None = None
    events: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    secret: str | None = None
    timeout: _Seconds = 10.0
    headers: dict[str, str] = {}
    retry_initial: _Seconds = 1.0
    retry_max: _Seconds = 300.0

    @property
    def key(self) -> str:
        """What names the hook: its ``name``, else its URL."""
        return self.name if self.name is not None else self.url


def check_webhooks(hooks: list[tuple[str, WebhookConfig]], problems: list[Problem]) -> None:
    """Add a problem, at its path, for each hook whose values cannot work together."""
    seen: dict[str, str] = {}
    for where, hook in hooks:
        url = urllib.parse.urlsplit(hook.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            problems.append(
                Problem(f"{where}.url", f"expected an http:// or https:// URL, got {hook.url!r}")
            )
        unknown = [kind for kind in hook.events if kind not in EVENT_KINDS]
        if unknown:
            problems.append(
                Problem(
                    f"{where}.events",
                    f"unknown event kinds {unknown} (known: {', '.join(EVENT_KINDS)})",
                )
            )
        for header in hook.headers:
            if not _HEADER_NAME.fullmatch(header):
                problems.append(Problem(f"{where}.headers", f"{header!r} is not a header name"))
            elif header.lower() in RESERVED_HEADERS:
                problems.append(
                    Problem(f"{where}.headers", f"{header!r} is set by the daemon itself")
                )
        if hook.retry_max < hook.retry_initial:
            problems.append(Problem(f"{where}.retry_max", "must not be less than retry_initial"))
        if hook.key in seen:
            problems.append(
                Problem(
                    where, f"a second webhook named {hook.key!r} (the first is {seen[hook.key]})"
                )
            )
        else:
            seen[hook.key] = where


def webhooks(raw: object, problems: list[Problem]) -> tuple[WebhookConfig, ...]:
    """``[[webhooks]]``: an array of tables, each checked on its own."""
    if not isinstance(raw, list):
        problems.append(
            Problem("$.webhooks", f"expected an array of tables, got {wording.kind_of(raw)}")
        )
        return ()
    found: list[tuple[str, WebhookConfig]] = []
    for i, entry in enumerate(raw):
        where = f"$.webhooks[{i}]"
        before = len(problems)
        values = table(entry, WebhookConfig, where, problems)
        if len(problems) == before:
            found.append((where, WebhookConfig(**values)))
    check_webhooks(found, problems)
    return tuple(hook for _, hook in found)
