"""Trading routes under ``/api/v1/trades``: place, cancel, look up and list orders.

An order's public id is its client order id (ours, also sent to MEXC as newClientOrderId); every
route taking ``orderId`` also accepts MEXC's exchange order id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response, status
from pydantic import TypeAdapter

from mexcbot.api.context import (
    ApiContext,
    Ctx,
    ReadAccess,
    TradeAccess,
    audit_target,
    caller_with_role,
    order_target,
)
from mexcbot.api.errors import ApiProblem, problem_responses
from mexcbot.api.idempotency import idempotency_parameter, scoped_key
from mexcbot.api.numbers import PlainInt
from mexcbot.api.placement_route import PlacementRoute
from mexcbot.api.read_bodies import SharedBodies, json_response
from mexcbot.api.schemas import (
    OrderOut,
    OrderPageOut,
    PlaceOrderBody,
    PositiveAmount,
    QuantityQuote,
    Symbol,
    SymbolPath,
)
from mexcbot.api.symbols import require_known_symbol
from mexcbot.api.times import since_in_utc
from mexcbot.domain.orders import OrderSide, OrderStatus, client_order_id_for
from mexcbot.domain.tokens import TokenRole
from mexcbot.engine import errors as engine_errors
from mexcbot.store.audit import PlacementAudit
from mexcbot.telemetry import order_context

router = APIRouter(prefix="/api/v1/trades", tags=["trades"])

OrderIdPath = Annotated[
    str,
    Path(
        alias="orderId",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Our client order id, or the exchange order id",
    ),
]
#: The place-order route reads its caller and Idempotency-Key itself (see `place_order`); this
#: documents them in OpenAPI as FastAPI would for `Header(...)` and the bearer dependency.
_PLACE_ORDER_OPENAPI: dict[str, Any] = {
    "parameters": [idempotency_parameter("the first order")],
    "security": [{"HTTPBearer": []}],
}
_COMMON = problem_responses(401, 403, 422, 429)
_WITH_404 = {**_COMMON, **problem_responses(404)}
MAX_CURSOR = 2**63 - 1  # order ids are 64-bit signed integers in both databases


async def place_order(body: PlaceOrderBody, request: Request) -> Response:
    # POST /api/v1/trades/orders, registered by `add_placement_route` (no docstring: it
    # would become the operation's OpenAPI description)
    # The hot path: the caller (authenticated by the request gate already) and the header are
    # read here instead of through three FastAPI dependencies, whose solving cost more than the
    # rest of the route (cProfile: solve_dependencies ~0.5 of the route's ~0.76 CPU share).
    ctx: ApiContext = request.app.state.ctx
    caller = await caller_with_role(request, TokenRole.TRADE)
    scoped = scoped_key(request, caller.name)
    known_id = client_order_id_for(scoped) if scoped else None
    # the request's audit entry commits with the order's acknowledgement (PlacementAudit);
    # the middleware writes it when the placement did not (a refusal, an unknown outcome)
    audit = PlacementAudit(actor=caller.name, action=request.scope["route"].name)
    try:
        with order_context(known_id):
            order = await ctx.execution.place(
                body.command(origin_ref=caller.name, idempotency_key=scoped), audit=audit
            )
    except Exception as exc:
        ctx.metrics.count_order(_failure_outcome(exc))
        rejected = getattr(exc, "order", None)
        if rejected is not None:
            order_target(request, rejected.client_order_id)
        raise
    order_target(request, order.client_order_id)
    if audit.recorded:
        request.state.audited = True
    ctx.metrics.count_order(order.status.value.lower())
    # Serialised here, once, by the model that built it (pydantic's JSON mode, as FastAPI would
    # emit): returned as a Response, FastAPI skips validating and encoding ``OrderOut`` a second
    # time (~25 -> ~12 us measured). ``response_model`` above still documents the body.
    return Response(
        OrderOut.of(order).model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


def add_placement_route(api: FastAPI) -> None:
    """Register ``POST /api/v1/trades/orders`` on ``api`` itself, as its first route; call it
    before including `router` (application.py).

    Not by decorator: the decorator cannot choose the route class. The `PlacementRoute` takes
    the plain request past FastAPI's generic resolver (api/placement_route.py: same validation;
    ~260 us of the route's path measured there). And on the app, not on `router`: FastAPI
    (0.163) matches an included router's routes through a layer that matches the request twice
    (once to find the router, again to hand it the request), each time asking the router's
    route list for its version. A route of the app's own is matched once, by its regular
    expression, and handled as any FastAPI route. The same route otherwise (path, tags,
    responses, operation id: the OpenAPI document is unchanged, and it is still the first
    match for its path, so a wrong method is the same 405). In-process ASGI placement with the
    engine faked (perf_counter_ns marks, p50 of 6,000, loaded box): router entry to the route's
    handler 37-41 -> ~9 us, first as the app's route after the docs routes ~18 us.
    """
    api.router.add_api_route(
        f"{router.prefix}/orders",
        place_order,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=OrderOut,
        responses={**_COMMON, **problem_responses(400, 404, 409, 503)},
        summary="Place an order",
        tags=list(router.tags),
        openapi_extra=_PLACE_ORDER_OPENAPI,
        route_class_override=PlacementRoute,
    )
    # ahead of FastAPI's own /openapi.json, /docs, /docs/oauth2-redirect and /redoc too (their
    # four regular expressions, ~4 us a request on the loaded box, timeit)
    routes = api.router.routes
    routes.insert(0, routes.pop())


_FAILURE_OUTCOMES: tuple[tuple[type[Exception], str], ...] = (
    (engine_errors.OrderRejectedByExchange, "rejected"),
    (engine_errors.OrderRuleViolation, "invalid"),
    (engine_errors.InvalidOrder, "invalid"),
    (engine_errors.RiskRejected, "risk_rejected"),
    (engine_errors.ExchangeNotReached, "not_sent"),
    (engine_errors.OrderNeverReceived, "not_sent"),
    (engine_errors.UnknownSymbol, "invalid"),
)


def _failure_outcome(exc: Exception) -> str:
    """The ``mexcbot_orders_total`` outcome of a placement that raised."""
    for kind, outcome in _FAILURE_OUTCOMES:
        if isinstance(exc, kind):
            return outcome
    return "error"


_OPEN_BODIES = SharedBodies()
_ORDERS = TypeAdapter(list[OrderOut])


@router.get(
    "/orders/open/{symbol}",
    response_model=list[OrderOut],
    responses=_WITH_404,
    summary="Open orders of a symbol",
    openapi_extra={"security": [{"HTTPBearer": []}]},
)
async def open_orders(symbol: SymbolPath, request: Request) -> Response:
    # Polled by every dashboard: the caller is read here (as in `place_order`), and the engine's
    # open-orders view hands out the same list until it changes, so the body is encoded once
    # per change and shared (api/read_bodies.py).
    ctx: ApiContext = request.app.state.ctx
    await caller_with_role(request, TokenRole.READ)
    await require_known_symbol(ctx, symbol)
    orders = await ctx.execution.open_orders(symbol)
    body = _OPEN_BODIES.body(
        symbol, orders, lambda: _ORDERS.dump_json([OrderOut.of(order) for order in orders])
    )
    return json_response(body)


@router.get(
    "/orders/history/{symbol}",
    response_model=list[OrderOut],
    responses=_WITH_404,
    summary="Orders of a symbol, newest first (offset paging)",
)
async def order_history(
    symbol: SymbolPath,
    ctx: Ctx,
    caller: ReadAccess,
    limit: Annotated[PlainInt, Query(ge=1, le=1000)] = 50,
    offset: Annotated[PlainInt, Query(ge=0, le=1_000_000)] = 0,
) -> list[OrderOut]:
    await require_known_symbol(ctx, symbol)
    orders = await ctx.execution.history(symbol, limit=limit, offset=offset)
    return [OrderOut.of(order) for order in orders]


@router.get(
    "/orders/{symbol}/{orderId}",
    response_model=OrderOut,
    responses={**_COMMON, **problem_responses(404, 503)},
    summary="One order, refreshed from the exchange",
)
async def get_order(
    symbol: SymbolPath, order_id: OrderIdPath, ctx: Ctx, caller: ReadAccess
) -> OrderOut:
    await require_known_symbol(ctx, symbol)
    with order_context(order_id):
        return OrderOut.of(await ctx.execution.get(symbol, order_id))


@router.delete(
    "/orders/{symbol}/{orderId}",
    response_model=OrderOut,
    responses={**_COMMON, **problem_responses(404, 409, 503)},
    summary="Cancel an order",
)
async def cancel_order(
    symbol: SymbolPath, order_id: OrderIdPath, request: Request, ctx: Ctx, caller: TradeAccess
) -> OrderOut:
    audit_target(request, f"{symbol}/{order_id}")
    await require_known_symbol(ctx, symbol)
    with order_context(order_id):
        order = await ctx.execution.cancel(symbol, order_id)
    order_target(request, order.client_order_id)
    return OrderOut.of(order)


@router.get(
    "/orders",
    response_model=OrderPageOut,
    responses=_COMMON,
    summary="Orders matching filters, newest first (cursor or offset paging)",
)
async def list_orders(
    ctx: Ctx,
    caller: ReadAccess,
    order_status: Annotated[list[OrderStatus] | None, Query(alias="status")] = None,
    symbol: Annotated[Symbol | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; created at or after")] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=19, pattern=r"^[0-9]+$")] = None,
    offset: Annotated[PlainInt | None, Query(ge=0, le=1_000_000)] = None,
) -> OrderPageOut:
    if cursor is not None and offset is not None:
        raise ApiProblem(
            422,
            "validation_error",
            "cursor: give either cursor or offset, not both",
            field="cursor",
        )
    since = since_in_utc(since)
    if cursor is not None and int(cursor) > MAX_CURSOR:
        raise ApiProblem(
            422,
            "validation_error",
            f"cursor: must be a next_cursor value this API returned (at most {MAX_CURSOR})",
            field="cursor",
        )
    if offset:
        cursor = await _cursor_after(ctx, offset, order_status, symbol, since)
        if cursor == _PAST_THE_END:
            return OrderPageOut(orders=[], next_cursor=None)
    page = await ctx.execution.list_orders(
        status=order_status, symbol=symbol, since=since, limit=limit, cursor=cursor
    )
    return OrderPageOut(
        orders=[OrderOut.of(order) for order in page.orders], next_cursor=page.next_cursor
    )


_PAST_THE_END = "past-the-end"


async def _cursor_after(
    ctx: Ctx,
    offset: int,
    order_status: list[OrderStatus] | None,
    symbol: str | None,
    since: datetime | None,
) -> str | None:
    """The cursor that skips ``offset`` matching orders: offset paging on top of the store's
    cursor paging (which stays exact while orders are added, unlike OFFSET)."""
    cursor: str | None = None
    remaining = offset
    while remaining > 0:
        step = min(remaining, 1000)
        page = await ctx.execution.list_orders(
            status=order_status, symbol=symbol, since=since, limit=step, cursor=cursor
        )
        if page.next_cursor is None:
            return _PAST_THE_END
        cursor = page.next_cursor
        remaining -= step
    return cursor


@router.get(
    "/calculate/{symbol}",
    response_model=QuantityQuote,
    responses=_WITH_404,
    summary="The quantity a quote amount buys or sells now, after the symbol's rounding",
)
async def calculate_quantity(
    symbol: SymbolPath,
    side: OrderSide,
    amount: Annotated[PositiveAmount, Query(description="Quote amount, e.g. 100 (USDT)")],
    ctx: Ctx,
    caller: ReadAccess,
) -> QuantityQuote:
    await require_known_symbol(ctx, symbol, required=True)
    quantity: Decimal = await ctx.execution.calculate_quantity(symbol, side, amount)
    return QuantityQuote(symbol=symbol, side=side, quote_amount=amount, quantity=quantity)
