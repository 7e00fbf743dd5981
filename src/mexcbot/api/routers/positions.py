"""Position routes under ``/api/v1/positions``: open with a buy (or adopt existing fills or
holdings), list, read, change the exits, close, delete, and the performance summary.

Exits are evaluated by the engine (`mexcbot.engine.positions`); these routes only change what
it evaluates. Every error is a problem document from the one table in api/errors.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from mexcbot.api.context import ApiContext, Ctx, ReadAccess, TradeAccess, audit_target
from mexcbot.api.errors import ApiProblem, problem_responses
from mexcbot.api.idempotency import idempotency_parameter, scoped_key
from mexcbot.api.numbers import PlainInt
from mexcbot.api.position_schemas import (
    AdoptIn,
    ClosedPositionOut,
    OpenedPositionOut,
    OpenPositionBody,
    PositionOut,
    PositionPageOut,
    SummaryOut,
    UpdatePositionBody,
)
from mexcbot.api.schemas import OrderOut, Symbol
from mexcbot.api.symbols import require_known_symbol
from mexcbot.api.times import since_in_utc
from mexcbot.domain.positions import Position, PositionStatus, PositionType

router = APIRouter(prefix="/api/v1/positions", tags=["positions"])

PositionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The position's id")]
_COMMON = problem_responses(401, 403, 422, 429)
_WITH_404 = {**_COMMON, **problem_responses(404, 409)}
_OPEN = (
    "With `quote_amount` (or `quantity`) the position opens with a market buy whose fills fill "
    "it; a repeat with the same `Idempotency-Key` answers the position the first request opened "
    "and buys nothing (a different buy under the key is 409). With `adopt` it opens on what "
    "the account already holds, and no order is sent: "
    "`adopt.order_ids` takes the stored fills of filled BUY orders the bot knows (client or "
    "exchange ids; not an order a position already holds), `adopt.quantity` with "
    "`adopt.entry_price` takes holdings bought elsewhere. Either way the quantity, plus what "
    "open positions on the same base asset hold, may not exceed the free balance of the base "
    "asset (422 `adoption_refused`, naming the field). The exits are armed at once."
)


def _out(ctx: ApiContext, position: Position) -> PositionOut:
    return PositionOut.of(position, ctx.positions.mark(position.symbol))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OpenedPositionOut,
    responses={**_WITH_404, **problem_responses(400, 503)},
    summary="Open a manual position with a market buy (or adopt fills or holdings), arm its exits",
    description=_OPEN,
    openapi_extra={"parameters": [idempotency_parameter("the position the first one opened")]},
)
async def open_position(
    body: OpenPositionBody, request: Request, ctx: Ctx, caller: TradeAccess
) -> OpenedPositionOut:
    if body.adopt is not None:
        return await _adopt(body, body.adopt, request, ctx)
    if (body.quote_amount is None) == (body.quantity is None):
        raise ApiProblem(
            422,
            "validation_error",
            "quote_amount: give exactly one of quote_amount or quantity",
            field="quote_amount",
        )
    await require_known_symbol(ctx, body.symbol)
    position, order = await ctx.positions.open_with_buy(
        body.symbol,
        quote_amount=body.quote_amount,
        quantity=body.quantity,
        exits=body.exits.plan() if body.exits else None,
        notes=body.notes,
        idempotency_key=scoped_key(request, caller.name, "position"),
    )
    audit_target(request, f"position:{position.id}")
    return OpenedPositionOut(position=_out(ctx, position), entry_order=OrderOut.of(order))


async def _adopt(
    body: OpenPositionBody, adopt: AdoptIn, request: Request, ctx: Ctx
) -> OpenedPositionOut:
    if body.quote_amount is not None or body.quantity is not None:
        field = "quote_amount" if body.quote_amount is not None else "quantity"
        raise ApiProblem(
            422, "validation_error", f"{field}: an adoption buys nothing; drop it", field=field
        )
    by_orders, by_holdings = adopt.order_ids is not None, adopt.quantity is not None
    if by_orders == by_holdings:
        raise ApiProblem(
            422,
            "validation_error",
            "adopt: give exactly one of adopt.order_ids or adopt.quantity (with entry_price)",
            field="adopt",
        )
    if by_holdings and adopt.entry_price is None:
        raise ApiProblem(
            422,
            "validation_error",
            "adopt.entry_price: needed with adopt.quantity (what the holdings cost per unit)",
            field="adopt.entry_price",
        )
    if by_orders and adopt.entry_price is not None:
        raise ApiProblem(
            422,
            "validation_error",
            "adopt.entry_price: the orders' fills give the entry; drop it",
            field="adopt.entry_price",
        )
    await require_known_symbol(ctx, body.symbol)
    exits = body.exits.plan() if body.exits else None
    if adopt.order_ids is not None:
        position = await ctx.positions.adopt_orders(
            body.symbol, adopt.order_ids, exits=exits, notes=body.notes
        )
    else:
        assert adopt.quantity is not None
        assert adopt.entry_price is not None
        position = await ctx.positions.adopt_holdings(
            body.symbol,
            quantity=adopt.quantity,
            entry_price=adopt.entry_price,
            exits=exits,
            notes=body.notes,
        )
    audit_target(request, f"position:{position.id}")
    return OpenedPositionOut(position=_out(ctx, position), entry_order=None)


@router.get(
    "", response_model=PositionPageOut, responses=_COMMON, summary="Positions, newest first"
)
async def list_positions(
    ctx: Ctx,
    caller: ReadAccess,
    position_status: Annotated[PositionStatus | None, Query(alias="status")] = None,
    symbol: Annotated[Symbol | None, Query()] = None,
    type: Annotated[PositionType | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; opened at or after")] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=500)] = 50,
    offset: Annotated[PlainInt, Query(ge=0, le=1_000_000)] = 0,
) -> PositionPageOut:
    page = await ctx.positions.list(
        status=position_status,
        symbol=symbol,
        type=type,
        since=since_in_utc(since),
        limit=limit,
        offset=offset,
    )
    return PositionPageOut(positions=[_out(ctx, p) for p in page.positions], total=page.total)


@router.get("/open", response_model=list[PositionOut], responses=_COMMON, summary="Open positions")
async def open_positions(ctx: Ctx, caller: ReadAccess) -> list[PositionOut]:
    return [_out(ctx, p) for p in ctx.positions.open_positions()]


@router.get(
    "/summary",
    response_model=SummaryOut,
    responses=_COMMON,
    summary="Performance of closed positions: win rate, PnL, profit factor, drawdown, by day",
)
async def summary(
    ctx: Ctx,
    caller: ReadAccess,
    since: Annotated[datetime | None, Query(description="ISO 8601; opened at or after")] = None,
) -> SummaryOut:
    perf = await ctx.positions.summary(since=since_in_utc(since))
    return SummaryOut.of(perf, len(ctx.positions.open_positions()))


@router.get("/{position_id}", response_model=PositionOut, responses=_WITH_404, summary="A position")
async def get_position(position_id: PositionId, ctx: Ctx, caller: ReadAccess) -> PositionOut:
    return _out(ctx, await ctx.positions.get(position_id))


@router.put(
    "/{position_id}",
    response_model=PositionOut,
    responses=_WITH_404,
    summary="Change the exits (stop-loss, trailing, take-profit ladder) and notes",
)
async def update_position(
    position_id: PositionId,
    body: UpdatePositionBody,
    request: Request,
    ctx: Ctx,
    caller: TradeAccess,
) -> PositionOut:
    audit_target(request, f"position:{position_id}")
    exits = body.exits.plan() if body.exits is not None else None
    position = await ctx.positions.set_exits(position_id, exits, notes=body.notes)
    return _out(ctx, position)


@router.put(
    "/{position_id}/close",
    response_model=ClosedPositionOut,
    responses={**_WITH_404, **problem_responses(400, 503)},
    summary="Sell what is left at market; dust below the exchange minimum is a 409, not hidden",
)
async def close_position(
    position_id: PositionId, request: Request, ctx: Ctx, caller: TradeAccess
) -> ClosedPositionOut:
    audit_target(request, f"position:{position_id}")
    position, order = await ctx.positions.close(position_id)
    return ClosedPositionOut(
        position=_out(ctx, position), exit_order=OrderOut.of(order) if order else None
    )


@router.delete(
    "/{position_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_WITH_404,
    summary="Delete a closed position and its fill history",
)
async def delete_position(
    position_id: PositionId, request: Request, ctx: Ctx, caller: TradeAccess
) -> Response:
    audit_target(request, f"position:{position_id}")
    await ctx.positions.delete(position_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
