"""What the routes need, handed to them by the composition root through ``app.state``.

Routes declare ``ctx: Ctx`` and the role they need (``ReadAccess``, ``TradeAccess``,
``AdminAccess``); nothing in the API layer builds a service itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mexcbot.api.auth import Principal, TokenAuthority, authorize, bearer_credentials
from mexcbot.api.errors import ApiProblem
from mexcbot.api.limits import FailedAuthLimit
from mexcbot.api.live_feed import LiveFeed
from mexcbot.config import Mode, Settings
from mexcbot.engine.autobuy.evaluation import DryRun
from mexcbot.engine.autobuy.executions import ExecutionLog
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.collector import CollectorHold
from mexcbot.engine.health import ExchangeHealth
from mexcbot.engine.listings.service import ListingService
from mexcbot.engine.market import MarketData
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.trading import PositionService
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.engine.stream_health import StreamHealth
from mexcbot.engine.tokens import TokenService
from mexcbot.notify.center import NotificationCenter
from mexcbot.store import TokenRole, UnitOfWork
from mexcbot.store.audit_writer import AuditWriter
from mexcbot.telemetry import Metrics


@dataclass
class ReconciliationState:
    """What the reconciliations so far found, for ``/api/v1/status``."""

    runs: int = 0
    last_finished_at: datetime | None = None
    last_report: dict[str, Any] = field(default_factory=dict)
    lost_on_exchange: int = 0
    """Orders marked LOST since this process started."""


@dataclass(frozen=True)
class AutoBuyServices:
    """The auto-buy rules, their executions and the dry run."""

    rules: AutoBuyRules
    executions: ExecutionLog
    dry_run: DryRun


@dataclass(frozen=True)
class ApiContext:
    """Everything a route may use, built once by ``app.py``: engine services, never the
    exchange client."""

    settings: Settings
    mode: Mode
    version: str
    execution: ExecutionService
    market: MarketData
    health: ExchangeHealth
    tokens: TokenService
    uow_factory: Callable[[], UnitOfWork]
    audit: AuditWriter
    """Writes each mutating request's audit entry (the telemetry middleware)."""
    authority: TokenAuthority
    metrics: Metrics
    exchange_url: str
    reconciliation: ReconciliationState
    live: LiveFeed
    """The websocket feed (``/api/v1/ws``), subscribed to the engine's events once."""
    auth_failures: FailedAuthLimit
    """Failed authentications per client address: the request gate's and the websocket's."""
    positions: PositionService
    risk: RiskLimitsPolicy
    listings: ListingService
    autobuy: AutoBuyServices
    notifications: NotificationCenter
    """The notification channels' state (``/api/v1/notifications``)."""
    streams: Mapping[str, StreamHealth] = field(default_factory=dict)
    """The exchange streams by name ("user", "market"), for ``/api/v1/status``."""
    collector: CollectorHold | None = None
    """Holds the garbage collector while orders and cancels are handled (the request gate)."""


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


async def caller_with_role(request: Request, role: TokenRole) -> Principal:
    """The authenticated caller holding `role`: what `TradeAccess` resolves, without FastAPI's
    dependency solving, for the order-placement route (the hot path; see trades.py)."""
    # the scope's state directly: `request.state` builds a State object per request
    known = request.scope.get("state", {}).get("principal")
    if isinstance(known, Principal):
        caller = known
    else:
        ctx: ApiContext = request.app.state.ctx
        caller = await ctx.authority.authenticate(
            bearer_credentials(request.headers.get("authorization"))
        )
        request.state.principal = caller
    authorize(caller, role)
    return caller


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
