"""What the routes need, handed to them by the composition root through ``app.state``.

Routes declare ``ctx: Ctx`` and the role they need (``ReadAccess``, ``TradeAccess``,
``AdminAccess``); nothing in the API layer builds a service itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mexcbot.api.auth import Principal, TokenAuthority, authorize
from mexcbot.api.errors import ApiProblem
from mexcbot.config import Mode, Settings
from mexcbot.domain.symbols import SymbolRules
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import TokenRole, UnitOfWork
from mexcbot.store.audit_writer import AuditWriter
from mexcbot.telemetry import Metrics

if TYPE_CHECKING:
    from mexcbot.engine.execution import ExecutionService

SYMBOLS_TTL_SECONDS = 60.0
REACHABILITY_TTL_SECONDS = 5.0


class SymbolDirectory:
    """exchangeInfo, cached for a minute.

    Every market route checks its symbol here first, so an unknown symbol is a clear 404 without a
    round trip, and the exchange's weight-10 call stays rare.
    """

    def __init__(self, client: MexcClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._rules: dict[str, SymbolRules] = {}
        self._loaded_at = -SYMBOLS_TTL_SECONDS
        self._lock = asyncio.Lock()

    async def all(self) -> list[SymbolRules]:
        if self._clock() - self._loaded_at >= SYMBOLS_TTL_SECONDS:
            async with self._lock:
                if self._clock() - self._loaded_at >= SYMBOLS_TTL_SECONDS:
                    rules = await self._client.exchange_info()
                    self._rules = {r.symbol: r for r in rules}
                    self._loaded_at = self._clock()
        return sorted(self._rules.values(), key=lambda r: r.symbol)

    async def get(self, symbol: str) -> SymbolRules:
        """The symbol's rules, or a 404 problem naming the symbol."""
        await self.all()
        rules = self._rules.get(symbol)
        if rules is None:
            raise ApiProblem(
                404,
                "unknown_symbol",
                f"symbol: the exchange lists no symbol {symbol!r}",
                field="symbol",
            )
        return rules


@dataclass
class ReconciliationState:
    """What the last reconciliation found, for ``/api/v1/status``."""

    runs: int = 0
    last_finished_at: datetime | None = None
    last_report: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApiContext:
    settings: Settings
    mode: Mode
    version: str
    execution: ExecutionService
    client: MexcClient
    uow_factory: Callable[[], UnitOfWork]
    audit: AuditWriter
    """Writes each mutating request's audit entry (the telemetry middleware)."""
    authority: TokenAuthority
    metrics: Metrics
    symbols: SymbolDirectory
    exchange_url: str
    reconciliation: ReconciliationState = field(default_factory=ReconciliationState)
    _reachable: tuple[bool, float] = (False, -REACHABILITY_TTL_SECONDS)

    async def exchange_reachable(self) -> bool:
        """Ping the exchange (cached a few seconds, so /status never floods it)."""
        reachable, checked_at = self._reachable
        now = time.monotonic()
        if now - checked_at < REACHABILITY_TTL_SECONDS:
            return reachable
        try:
            await asyncio.wait_for(self.client.ping(), timeout=2.0)
            reachable = True
        except Exception:
            reachable = False
        self._reachable = (reachable, now)
        return reachable


async def _context(request: Request) -> ApiContext:
    # async on purpose, like every dependency here: FastAPI runs a plain `def` dependency in a
    # worker thread: two such hops cost ~0.7 ms a request (measured on the 2-core box).
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(_context)]

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer mxb_...`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def principal(request: Request, ctx: Ctx, credentials: Credentials) -> Principal:
    """Authenticate the caller; remembered on the request for the audit log.

    The request gate (gate.py) normally authenticated it already, before reading the body."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    presented = credentials.credentials if credentials is not None else None
    if presented is None and request.headers.get("authorization"):
        raise ApiProblem(
            401,
            "unauthenticated",
            "Authorization must use the Bearer scheme: 'Authorization: Bearer <token>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    who = await ctx.authority.authenticate(presented)
    request.state.principal = who
    return who


Caller = Annotated[Principal, Depends(principal)]


def _needs(role: TokenRole) -> Callable[[Request, Credentials], Awaitable[Principal]]:
    # `principal` called directly rather than as a sub-dependency: one node less for FastAPI's
    # dependency solving, the largest share of the API's per-request CPU time (py-spy).
    async def check(request: Request, credentials: Credentials) -> Principal:
        caller = await principal(request, request.app.state.ctx, credentials)
        authorize(caller, role)
        return caller

    return check


ReadAccess = Annotated[Principal, Depends(_needs(TokenRole.READ))]
TradeAccess = Annotated[Principal, Depends(_needs(TokenRole.TRADE))]
AdminAccess = Annotated[Principal, Depends(_needs(TokenRole.ADMIN))]


def order_target(request: Request, client_order_id: str) -> None:
    """The request acted on this order: its audit entry and access-log line name it."""
    request.state.audit_target = client_order_id
    request.state.client_order_id = client_order_id


def audit_target(request: Request, target: str, *, audited: bool = False) -> None:
    """Name what a mutating request acted on (e.g. the client order id) for its audit entry.

    ``audited=True``: the route writes its own entry in its transaction; the middleware skips it.
    """
    request.state.audit_target = target
    if audited:
        request.state.audited = True
