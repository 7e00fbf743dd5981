"""How a live API client proves who it is: the REST API's tokens, never in the URL.

A token comes in the ``Authorization: Bearer`` header of the upgrade request or, for browsers
(which cannot set headers on a websocket), in a first message ``{"type":"auth","token":...}``
within ``api_ws_auth_timeout`` seconds. A token in the query is refused even when valid: URLs
land in proxy, browser and server logs. Failed attempts count against the client's address in
the same `FailedAuthLimit` as the request gate's, so the websocket is no way around it.

A refusal is a `Refusal`: the session sends an ``error`` message naming ``code``, then closes
with the application close code (4401 authentication, 4403 role, 4429 rate limit).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import WebSocket, WebSocketDisconnect

from mexcbot.api.auth import Principal, bearer_credentials
from mexcbot.api.context import ApiContext
from mexcbot.api.errors import ApiProblem

CLOSE_UNAUTHENTICATED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_TOO_SLOW: Final = 4408
CLOSE_RATE_LIMITED: Final = 4429
_CLOSE_FOR_STATUS: Final = {
    401: CLOSE_UNAUTHENTICATED,
    403: CLOSE_FORBIDDEN,
    429: CLOSE_RATE_LIMITED,
}
_URL_CREDENTIALS: Final = frozenset({"token", "access_token", "auth", "authorization", "bearer"})
_HOW: Final = (
    'send {"type":"auth","token":"<token>"} as the first message, or the header '
    "'Authorization: Bearer <token>'"
)


class Refusal(Exception):
    """End the session: an ``error`` message naming ``code``, then close with ``close_code``."""

    def __init__(self, close_code: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.close_code = close_code
        self.code = code
        self.detail = detail


async def authenticate(websocket: WebSocket, ctx: ApiContext) -> tuple[Principal, str]:
    """Who the client is, and the token it presented (the session re-checks it at each
    heartbeat, so a revocation ends the session); `Refusal` otherwise."""
    if _credentials_in_url(websocket.scope.get("query_string", b"")):
        raise Refusal(
            CLOSE_UNAUTHENTICATED,
            "token_in_url",
            "Never put a token in the URL (it ends up in logs): send the header "
            "'Authorization: Bearer <token>' or a first message "
            '{"type":"auth","token":"<token>"}',
        )
    failures = ctx.auth_failures
    client = websocket.scope.get("client")
    address = str(client[0]) if client else "unknown"
    try:
        wait = failures.retry_after(address)
        if wait > 0:
            raise failures.refusal(wait)
        presented = bearer_credentials(websocket.headers.get("authorization"))
        if presented is None:
            presented = await _first_message_token(websocket, ctx.settings.api_ws_auth_timeout)
        principal = await ctx.authority.authenticate(presented)
    except Refusal:  # no token in time: a failure like a missing header
        failures.record_failure(address)
        raise
    except ApiProblem as problem:
        if problem.status == 401:
            failures.record_failure(address)
        close = _CLOSE_FOR_STATUS.get(problem.status, CLOSE_UNAUTHENTICATED)
        raise Refusal(close, problem.code, problem.detail) from None
    return principal, presented


async def receive_request(websocket: WebSocket) -> dict[str, Any]:
    """The client's next JSON object; ValueError (naming the rule) for anything else, and
    `WebSocketDisconnect` when it left."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise ValueError("Send JSON objects as text messages, not binary ones")
    try:
        request = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError('A message must be a JSON object, like {"type":"ping"}') from None
    if not isinstance(request, dict):
        raise ValueError('A message must be a JSON object, like {"type":"ping"}')
    return request


async def _first_message_token(websocket: WebSocket, wait: float) -> str:
    try:
        request = await asyncio.wait_for(receive_request(websocket), timeout=wait)
    except TimeoutError:
        raise Refusal(
            CLOSE_UNAUTHENTICATED, "auth_timeout", f"Not authenticated within {wait:g} s: {_HOW}"
        ) from None
    except ValueError as exc:
        raise Refusal(CLOSE_UNAUTHENTICATED, "unauthenticated", f"{exc}; {_HOW}") from None
    token = request.get("token") if request.get("type") == "auth" else None
    if not isinstance(token, str) or not token:
        raise Refusal(CLOSE_UNAUTHENTICATED, "unauthenticated", f"Authenticate first: {_HOW}")
    return token


def _credentials_in_url(query_string: bytes) -> bool:
    query = query_string.decode("latin-1")
    if "mxb_" in query:
        return True
    return any(key.lower() in _URL_CREDENTIALS for key, _ in parse_qsl(query))
