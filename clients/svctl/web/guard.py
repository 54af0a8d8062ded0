"""The ASGI middleware in front of every route: the checks of :mod:`svctl.web.auth`, in order.

1. The ``Host`` header names this machine (a loopback address or ``localhost``) unless
   ``--allow-remote``: a page elsewhere that rebinds its DNS name to 127.0.0.1 is refused.
2. ``Authorization: Bearer TOKEN`` (for scripts): the token, or 403.
3. The session cookie; without a valid one, ``?token=`` on a GET is exchanged for a new session
   cookie and a redirect to the same path without the token; a wrong token is 403, none 401.
4. A request that may change something (any method but GET and HEAD) from a browser session
   also needs an ``Origin`` whose host and port are the page's own (its ``Host``) and the
   session's CSRF token in ``X-CSRF-Token``, else 403. Routes change state only on POST.

Every response gets headers that keep the page to itself: a Content-Security-Policy that allows
only its own scripts, styles and connections and no framing, no Referer (the first URL carried
the token), and no caching.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from svctl.web.auth import cookie_name

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from svctl.web.auth import Keys

__all__ = ["CSRF_HEADER", "Guard"]

CSRF_HEADER: Final = "x-csrf-token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
        " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_NO_TOKEN: Final = (
    "svctl web: open the URL that `svctl web` printed when it started (it carries the token)\n"
)


class Guard:
    """Lets a request through to ``app`` only with the token or a session (see the module
    docstring); ``any_host`` skips the Host check (``--allow-remote``)."""

    def __init__(self, app: ASGIApp, keys: Keys, *, any_host: bool) -> None:
        self.app = app
        self.keys = keys
        self.any_host = any_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        request = Request(scope)
        refusal = self._check(request)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _check(self, request: Request) -> Response | None:
        """None to let the request through (its session, if any, in ``request.state``)."""
        request.state.session = None
        if not self.any_host and not _local_host(request.url.hostname):
            return _refuse(403, "svctl web: this page is served only as localhost or 127.0.0.1\n")
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer" and self.keys.token_matches(given.strip()):
                return None
            return _refuse(403, "svctl web: wrong token\n")
        port = _server_port(request)
        cookie = request.cookies.get(cookie_name(port))
        session = self.keys.session_of(cookie) if cookie else None
        if session is None:
            return self._exchange(request, port)
        request.state.session = session
        if request.method in _SAFE_METHODS:
            return None
        # The Origin's host and port must be the page's own (its scheme may differ behind a
        # TLS proxy that passes the Host on).
        origin = urlsplit(request.headers.get("origin", ""))
        if not origin.netloc or origin.netloc != request.headers.get("host"):
            return _refuse(403, "svctl web: refused: the request comes from another site\n")
        if not self.keys.csrf_matches(session, request.headers.get(CSRF_HEADER, "")):
            return _refuse(403, "svctl web: refused: no valid CSRF token\n")
        return None

    def _exchange(self, request: Request, port: int) -> Response:
        """Without a session: the token in the URL becomes a session cookie."""
        given = request.query_params.get("token")
        if given is None:
            return _refuse(401, _NO_TOKEN)
        if not self.keys.token_matches(given) or request.method not in _SAFE_METHODS:
            return _refuse(403, "svctl web: wrong token\n")
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        # One leading slash: "//host/x" would send the browser to another host.
        target = "/" + request.url.path.lstrip("/") + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            cookie_name(port),
            self.keys.new_session(),
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response


def _server_port(request: Request) -> int:
    """The port this server listens on (the ASGI scope's ``server``), whatever the Host says."""
    server = request.scope.get("server")
    return int(server[1]) if server and server[1] is not None else 0


def _local_host(hostname: str | None) -> bool:
    if hostname is None:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def _refuse(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)
