"""Who may call the ``/_sim/`` admin API: not other sites' pages, and with a token when one is set.

Why: the admin API can fund accounts and break the exchange on purpose. Bound to loopback it is
still reachable from every web page the user opens: a page can POST a "simple" cross-origin request
(``Content-Type: text/plain``, no preflight) and, through DNS rebinding, even send its own ``Host``.
So every admin request must

1. name a loopback host or the configured bind host in ``Host`` (403 otherwise: DNS rebinding);
2. carry no ``Origin``, or the server's own (403 otherwise: another site's page);
3. when ``SimConfig.admin_token`` is set, carry ``Authorization: Bearer <token>`` (compared in
   constant time; 401 otherwise);
4. send any body as ``application/json`` (415 otherwise: what a simple cross-site form can't do);
   bodies are capped at `MAX_ADMIN_BODY_BYTES` (see `mexcsim.http.admin`).

Every refusal is JSON ``{"error": ..., "field": <the header>}``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

ADMIN_PREFIX = "/_sim/"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(status: int, header: str, rule: str) -> web.Response:
    return web.json_response({"error": f"{header}: {rule}", "field": header}, status=status)


def _host_name(host_header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_allowed_host(host_header: str | None, bind_host: str) -> bool:
    if not host_header:
        return False
    name = _host_name(host_header)
    if name in LOOPBACK_NAMES or name == _host_name(bind_host):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class AdminGuard:
    """An aiohttp middleware holding the rules above for one server."""

    def __init__(self, bind_host: str, admin_token: str | None) -> None:
        if admin_token is not None and len(admin_token) < 16:
            raise ValueError("admin_token must be at least 16 characters")
        self.bind_host = bind_host
        self._token = None if admin_token is None else admin_token.encode()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        refusal = self.refusal(request)
        return refusal if refusal is not None else await handler(request)

    def refusal(self, request: web.Request) -> web.Response | None:
        host = request.headers.get("Host")
        if not is_allowed_host(host, self.bind_host):
            return _refusal(403, "Host", "the admin API answers only on loopback names")
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() != f"http://{host}".lower():
            return _refusal(403, "Origin", "cross-origin requests to the admin API are refused")
        if self._token is not None:
            given = request.headers.get("Authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), self._token
            ):
                return _refusal(401, "Authorization", "a valid 'Bearer <admin token>' is required")
        has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding")
        if has_body and request.content_type != "application/json":
            return _refusal(415, "Content-Type", "admin request bodies must be application/json")
        return None
