"""Who may use the page: the token, the session cookie it is exchanged for, the CSRF token.

``svctl web`` prints a URL carrying a random token (as Jupyter does). A browser that opens it
gets a session cookie (``HttpOnly``, ``SameSite=Strict``) and is sent on to the same page
without the token; from then on the cookie is its credential. A script may send the token in
``Authorization: Bearer TOKEN`` instead.

Sessions are kept nowhere: a session is a random id signed with the process's secret
(HMAC-SHA256), and its CSRF token is another HMAC of that id, so nothing grows with the number
of browsers and a restart of ``svctl web`` ends every session. Every comparison is constant
time. Pure: the secret and the ids are parameters; only :func:`new_secret` and
:func:`new_session` draw randomness.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["Keys", "cookie_name", "new_secret"]

_SESSION_BYTES: Final = 16
_TOKEN_BYTES: Final = 32


def new_secret() -> bytes:
    """A fresh key for signing sessions (one per process)."""
    return secrets.token_bytes(32)


def cookie_name(port: int) -> str:
    """The session cookie's name: cookies are shared by every port of a host, so two
    ``svctl web`` on one machine each keep their own."""
    return f"svctl-web-{port}"


class Keys:
    """The token of one ``svctl web`` process and the key its sessions are signed with."""

    def __init__(self, token: str, secret: bytes) -> None:
        self.token = token
        self._secret = secret

    @classmethod
    def generate(cls) -> Keys:
        """A random token and key."""
        return cls(secrets.token_urlsafe(_TOKEN_BYTES), new_secret())

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the token."""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def new_session(self) -> str:
        """A cookie value for a new session: ``ID.SIGNATURE``."""
        session = secrets.token_urlsafe(_SESSION_BYTES)
        return f"{session}.{self._sign('session', session)}"

    def session_of(self, cookie: str) -> str | None:
        """The session id a cookie value carries, or None if it was not signed here."""
        session, dot, signature = cookie.partition(".")
        if not dot or not session:
            return None
        if not hmac.compare_digest(signature.encode(), self._sign("session", session).encode()):
            return None
        return session

    def csrf_token(self, session: str) -> str:
        """The CSRF token of ``session``: the page carries it, and every POST must send it
        back in the ``X-CSRF-Token`` header."""
        return self._sign("csrf", session)

    def csrf_matches(self, session: str, given: str) -> bool:
        """Whether ``given`` is the CSRF token of ``session``."""
        return hmac.compare_digest(given.encode(), self.csrf_token(session).encode())

    def _sign(self, purpose: str, value: str) -> str:
        message = f"{purpose}:{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
