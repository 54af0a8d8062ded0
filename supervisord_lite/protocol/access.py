"""Which role each request needs: the one table the daemon checks every request against.

A connection has a role (``read`` or ``control``, docs/config.md#daemonaccess); a request
whose role it lacks is answered ``Error(permission_denied)`` naming the role needed, and the
connection stays open. ``tests/protocol/test_access.py`` holds every request type to the table.
"""

from __future__ import annotations

from typing import Final

from supervisord_lite.protocol import messages as m
from supervisord_lite.vocabulary import AccessRole

__all__ = ["ANY", "NEEDS", "allows", "needed_role"]

ANY: Final = None
"""Needed by the requests every admitted connection may send: the hello, ping, cancel."""

NEEDS: Final[dict[type[m.Request], AccessRole | None]] = {
    m.Hello: ANY,
    m.Ping: ANY,
    m.Cancel: ANY,
    m.Status: AccessRole.READ,
    m.History: AccessRole.READ,
    m.Logs: AccessRole.READ,
    m.Wait: AccessRole.READ,
    m.Subscribe: AccessRole.READ,
    m.Webhooks: AccessRole.READ,
    m.Start: AccessRole.CONTROL,
    m.Stop: AccessRole.CONTROL,
    m.Restart: AccessRole.CONTROL,
    m.Reload: AccessRole.CONTROL,
    m.Shutdown: AccessRole.CONTROL,
    m.ReopenLogs: AccessRole.CONTROL,
    m.Signal: AccessRole.CONTROL,
    m.Scale: AccessRole.CONTROL,
}


def needed_role(request: m.Request) -> AccessRole | None:
    """The role ``request`` needs; a request type missing from the table needs ``control``.

    A reload with ``dry_run`` changes nothing, so looking at its plan needs only ``read``.
    """
    if isinstance(request, m.Reload) and request.dry_run:
        return AccessRole.READ
    return NEEDS.get(type(request), AccessRole.CONTROL)


def allows(role: AccessRole, request: m.Request) -> bool:
    """Whether a connection with ``role`` may send ``request``."""
    needed = needed_role(request)
    return needed is None or needed is AccessRole.READ or role is AccessRole.CONTROL
