"""The ASGI layer around every request: request id, latency metric, access log, audit log.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a queue per request.
The audit entry of a mutating request is written after its response has been sent: the client does
not wait for it, and the result (status) is known. A crash in that instant loses the entry but
never the order, which was committed before the response.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mexcbot.api.auth import Principal
from mexcbot.store import UnitOfWork
from mexcbot.telemetry import Metrics, request_id_var

log = logging.getLogger("mexcbot.api.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex[:16]


class RequestTelemetry:
    """Tags a request with an id (``X-Request-ID`` in and out), measures, logs and audits it."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.uow_factory = uow_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.api_request_seconds.labels(template, method, str(status)).observe(elapsed)
            order_id = scope.get("state", {}).get("client_order_id")
            log.info(
                "%s %s -> %d in %.2f ms",
                method,
                template,
                status,
                elapsed * 1000,
                extra={"client_order_id": order_id} if order_id else None,
            )
            if method in _MUTATING:
                await self._audit(scope, route, method, status)
            request_id_var.reset(token)

    async def _audit(self, scope: Scope, route: Any, method: str, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        if state.get("audited"):
            return
        caller = state.get("principal")
        if not isinstance(caller, Principal):
            return  # not authenticated: nothing was done, and the access log has the line
        action = getattr(route, "name", None) or f"{method} {scope.get('path', '')}"
        target = state.get("audit_target") or str(scope.get("path", ""))
        result = "ok" if status < 400 else f"failed:{status}"
        try:
            async with self.uow_factory() as uow:
                await uow.audit.append(
                    actor=caller.name, action=action, target=target, result=result
                )
                await uow.commit()
        except Exception:
            log.exception("could not write the audit entry of %s %s", method, target)
