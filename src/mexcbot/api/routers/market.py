"""Market data and account routes: tickers, order book, klines, symbols with rules, balances.

Everything comes from the engine's `MarketData` service: every symbol is checked against the
shared symbol catalog first, so an unknown one is a 404 that costs the exchange nothing. A book,
the recent trades and a ticker come from live stream state once the symbol is watched (its first
read asks for that), else from a short shared REST cache. Answers may be shared with other readers
for a moment, so each says how old it is: ``as_of`` in the body (per item in lists) and
``X-Data-Age`` (seconds) as a header. When the exchange budget cannot serve
a read within the read wait bound, the answer is 503 with Retry-After at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from mexcbot.api.context import ApiContext, Ctx, ReadAccess, caller_with_role
from mexcbot.api.errors import problem_responses
from mexcbot.api.numbers import PlainInt
from mexcbot.api.read_bodies import DATA_AGE_HEADER, SharedBodies, fresh_response
from mexcbot.api.schemas import (
    BalanceOut,
    KlineOut,
    OrderBookOut,
    PriceLevelOut,
    PublicTradeOut,
    SymbolOut,
    SymbolPath,
    TickerOut,
)
from mexcbot.domain.market import Ticker24h
from mexcbot.domain.tokens import TokenRole
from mexcbot.engine.reads import Fresh, utc_now

router = APIRouter(prefix="/api/v1", tags=["market"])

_COMMON = problem_responses(401, 403, 422, 429, 503)
_WITH_404 = {**_COMMON, **problem_responses(404)}


class KlineInterval(StrEnum):
    """MEXC's candle intervals (note 60m, not 1h)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    M60 = "60m"
    H4 = "4h"
    D1 = "1d"
    W1 = "1W"
    MONTH1 = "1M"


_V = TypeVar("_V")
#: The polled routes (balances, a ticker, a book) read their caller and context themselves and
#: return bodies encoded once per state (api/read_bodies.py): FastAPI's dependency solving and
#: response-model validation were most of their CPU time (py-spy, benchmarks/many_clients.py).
#: This documents their bearer security in OpenAPI as the `ReadAccess` dependency would.
_BEARER: dict[str, object] = {"security": [{"HTTPBearer": []}]}
_BODIES = SharedBodies()
_TICKER = TypeAdapter(TickerOut)
_BOOK = TypeAdapter(OrderBookOut)
_BALANCES = TypeAdapter(list[BalanceOut])


async def _reader(request: Request) -> ApiContext:
    """The context of a caller holding the read role (what `ReadAccess` checks)."""
    await caller_with_role(request, TokenRole.READ)
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _aged(response: Response, fresh: Fresh[_V]) -> datetime:
    """Tell the reader how old the answer is; return its time for the body's ``as_of``."""
    response.headers[DATA_AGE_HEADER] = f"{fresh.age_s(utc_now()):.3f}"
    return fresh.as_of


def _ticker(ticker: Ticker24h, as_of: datetime) -> TickerOut:
    return TickerOut(
        symbol=ticker.symbol,
        last_price=ticker.last_price,
        bid_price=ticker.bid_price,
        ask_price=ticker.ask_price,
        high_price=ticker.high_price,
        low_price=ticker.low_price,
        volume=ticker.volume,
        quote_volume=ticker.quote_volume,
        price_change_percent=ticker.price_change_percent,
        as_of=as_of,
        prices_as_of=ticker.prices_as_of,
    )


@router.get("/market/tickers", response_model=list[TickerOut], responses=_COMMON)
async def tickers(ctx: Ctx, caller: ReadAccess, response: Response) -> list[TickerOut]:
    """24-hour statistics of every symbol."""
    fresh = await ctx.market.tickers()
    as_of = _aged(response, fresh)
    return [_ticker(t, as_of) for t in fresh.value]


@router.get(
    "/market/tickers/{symbol}",
    response_model=TickerOut,
    responses=_WITH_404,
    openapi_extra=_BEARER,
)
async def ticker(symbol: SymbolPath, request: Request) -> Response:
    """24-hour statistics of one symbol. Once the symbol is watched, last/bid/ask come from the
    market stream (``prices_as_of``) over REST statistics refreshed every few seconds
    (``as_of``)."""
    ctx = await _reader(request)
    fresh = await ctx.market.ticker(symbol)
    body = _BODIES.body(
        ("ticker", symbol), fresh, lambda: _TICKER.dump_json(_ticker(fresh.value, fresh.as_of))
    )
    return fresh_response(body, fresh)


@router.get(
    "/market/depth/{symbol}",
    response_model=OrderBookOut,
    responses=_WITH_404,
    openapi_extra=_BEARER,
)
async def order_book(
    symbol: SymbolPath,
    request: Request,
    limit: Annotated[PlainInt, Query(ge=1, le=5000)] = 100,
) -> Response:
    """The order book: best bids and asks first. Once the symbol is watched (its first read asks
    for it) the book is the bot's local copy, synced by version from the stream (``limit`` up to
    1000); ``as_of`` is when its connection last delivered a push."""
    ctx = await _reader(request)
    fresh = await ctx.market.order_book(symbol, limit)

    def encode() -> bytes:
        book = fresh.value
        return _BOOK.dump_json(
            OrderBookOut(
                symbol=symbol,
                last_update_id=book.last_update_id,
                bids=[PriceLevelOut(price=level.price, quantity=level.qty) for level in book.bids],
                asks=[PriceLevelOut(price=level.price, quantity=level.qty) for level in book.asks],
                as_of=fresh.as_of,
            )
        )

    return fresh_response(_BODIES.body(("depth", symbol, limit), fresh, encode), fresh)


@router.get(
    "/market/trades/{symbol}",
    response_model=list[PublicTradeOut],
    responses=_WITH_404,
    summary="The market's recent trades",
)
async def recent_trades(
    symbol: SymbolPath,
    ctx: Ctx,
    caller: ReadAccess,
    response: Response,
    limit: Annotated[PlainInt, Query(ge=1, le=1000)] = 50,
) -> list[PublicTradeOut]:
    """The latest trades of anyone on the market, oldest first. Once the symbol is watched they
    come from the stream (a REST seed plus every pushed trade, up to 1000), else from REST."""
    fresh = await ctx.market.recent_trades(symbol, limit)
    _aged(response, fresh)
    return [
        PublicTradeOut(
            price=trade.price,
            quantity=trade.qty,
            quote_quantity=trade.quote_qty,
            time=trade.time,
            is_buyer_maker=trade.is_buyer_maker,
            trade_id=trade.trade_id,
        )
        for trade in fresh.value
    ]


@router.get("/market/klines/{symbol}", response_model=list[KlineOut], responses=_WITH_404)
async def klines(
    symbol: SymbolPath,
    ctx: Ctx,
    caller: ReadAccess,
    response: Response,
    interval: KlineInterval = KlineInterval.M1,
    limit: Annotated[PlainInt, Query(ge=1, le=1000)] = 100,
) -> list[KlineOut]:
    """Candles, oldest first."""
    fresh = await ctx.market.candles(symbol, interval.value, limit)
    _aged(response, fresh)
    rows = fresh.value
    return [
        KlineOut(
            open_time=row.open_time,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
            close_time=row.close_time,
            quote_volume=row.quote_volume,
        )
        for row in rows
    ]


@router.get("/market/symbols", response_model=list[SymbolOut], responses=_COMMON)
async def symbols(ctx: Ctx, caller: ReadAccess) -> list[SymbolOut]:
    """Every symbol with its trading rules (precisions, minimum and maximum notional)."""
    return [SymbolOut.of(rules) for rules in await ctx.market.symbols()]


@router.get("/market/symbols/{symbol}", response_model=SymbolOut, responses=_WITH_404)
async def symbol_rules(symbol: SymbolPath, ctx: Ctx, caller: ReadAccess) -> SymbolOut:
    """One symbol's trading rules."""
    return SymbolOut.of(await ctx.market.symbol(symbol))


@router.get(
    "/account/balances",
    response_model=list[BalanceOut],
    responses=_COMMON,
    openapi_extra=_BEARER,
)
async def balances(request: Request) -> Response:
    """Free and locked balance of every asset the account holds."""
    ctx = await _reader(request)
    fresh = await ctx.market.balances()

    def encode() -> bytes:
        as_of = fresh.as_of
        return _BALANCES.dump_json(
            [
                BalanceOut(asset=b.asset, free=b.free, locked=b.locked, as_of=as_of)
                for b in fresh.value
            ]
        )

    return fresh_response(_BODIES.body("balances", fresh, encode), fresh)
