"""MexcExchange: the MEXC client adapted to the engine's `Exchange` port.

A thin translation layer: MEXC models become the port's reports (exchange milliseconds become UTC
datetimes) and the client's typed errors become the port's outcome types. The decisive mapping for
never losing an order: a placement that timed out, got a 5xx or lost its connection is
`SubmitOutcomeUnknown` (the order may exist); a 429 or a business error is `ExchangeRejection` (MEXC
refused it before processing, the order does not exist); a connection that never opened is
`SubmitNotSent`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from mexcbot.domain.market import Balance, Kline, OrderBook, PublicTrade, Ticker24h
from mexcbot.domain.orders import OrderRequest, OrderStatus
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.ports import (
    AccountUpdate,
    Acknowledgement,
    ExchangeBusy,
    ExchangeDiagnostics,
    ExchangeOrderMissing,
    ExchangeRejection,
    ExchangeThrottled,
    ExchangeUnreachable,
    OrderReport,
    PriceQuote,
    PriceUpdate,
    SubmitNotSent,
    SubmitOutcomeUnknown,
    TradeReport,
)
from mexcbot.mexc.errors import (
    BudgetExhausted,
    ExchangeUnavailable,
    MexcError,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
)
from mexcbot.mexc.models import ExchangeOrder, ExchangeTrade
from mexcbot.mexc.ratelimit import Priority
from mexcbot.mexc.rest import MexcClient
from mexcbot.mexc.stream_adapter import MexcStreams
from mexcbot.mexc.streams import StreamConfig

_T = TypeVar("_T")
#: The budget lane of the port's market-data and account reads (see `Exchange`).
_READ = Priority.READ
#: "Invalid symbol." answers to exchangeInfo (-1121 from the matching engine, 30014/30021 docs).
_INVALID_SYMBOL_CODES = frozenset({-1121, 30014, 30021})


def _at(ms: int | None) -> datetime:
    if ms is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(ms / 1000, UTC)


def _report(order: ExchangeOrder) -> OrderReport:
    # MEXC reports price/origQty "0" for a market order bought by quote amount.
    price = order.price if order.price > 0 else None
    quantity = order.orig_qty if order.orig_qty > 0 else None
    quote = order.orig_quote_order_qty
    status = None if order.status is OrderStatus.UNKNOWN else order.status
    created = _at(order.time)
    return OrderReport(
        symbol=order.symbol,
        exchange_order_id=order.order_id,
        client_order_id=order.client_order_id,
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        status=status,
        price=price,
        quantity=quantity,
        quote_amount=quote if quote is not None and quote > 0 else None,
        executed_qty=order.executed_qty,
        cumulative_quote_qty=order.cummulative_quote_qty,
        created_at=created,
        updated_at=_at(order.update_time) if order.update_time is not None else created,
    )


def _trade(trade: ExchangeTrade) -> TradeReport:
    return TradeReport(
        symbol=trade.symbol,
        trade_id=trade.trade_id,
        exchange_order_id=trade.order_id,
        price=trade.price,
        qty=trade.qty,
        quote_qty=trade.quote_qty,
        commission=trade.commission,
        commission_asset=trade.commission_asset,
        is_maker=trade.is_maker,
        at=_at(trade.time),
    )


async def _read(call: Awaitable[_T]) -> _T:
    """Run a read; an unknown order is `ExchangeOrderMissing`, any other failure unreachable."""
    try:
        return await call
    except OrderNotFound as exc:
        raise ExchangeOrderMissing(exc.msg) from None
    except BudgetExhausted as exc:
        raise ExchangeBusy(exc.msg, exc.retry_after) from None
    except MexcError as exc:
        raise ExchangeUnreachable(str(exc)) from None


class MexcExchange:
    """The `Exchange` port over a `MexcClient` (the caller owns the client's lifetime).

    `streams` configures the websocket (its `url`: MEXC's by default, ``<sim url>/ws`` on the
    simulator); the streams open only when `account_updates` / `price_updates` are iterated.
    """

    def __init__(self, client: MexcClient, streams: StreamConfig | None = None) -> None:
        self._client = client
        self._streams = MexcStreams(client, streams or StreamConfig())

    async def sync_time(self) -> None:
        await _read(self._client.sync_time())

    async def ping(self) -> None:
        await _read(self._client.ping())

    def diagnostics(self) -> ExchangeDiagnostics:
        client = self._client
        return ExchangeDiagnostics(
            clock_offset_ms=client.time_offset_ms,
            rate_limit_wait_seconds=client.rate_limit_wait_s,
            rate_limit_headroom=client.rate_limit_headroom,
            read_wait_limit_seconds=client.read_wait_limit_s,
            queued_reads=client.queued_reads,
        )

    async def tickers(self) -> list[Ticker24h]:
        return await _read(self._client.tickers_24h(priority=_READ))

    async def ticker(self, symbol: str) -> Ticker24h:
        return await _read(self._client.ticker_24h(symbol, priority=_READ))

    async def last_prices(self) -> dict[str, Decimal]:
        return {price.symbol: price.price for price in await _read(self._client.ticker_prices())}

    async def order_book(self, symbol: str, limit: int) -> OrderBook:
        return await _read(self._client.depth(symbol, limit, priority=_READ))

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Kline]:
        return await _read(self._client.klines(symbol, interval, limit=limit, priority=_READ))

    async def recent_trades(self, symbol: str, limit: int) -> list[PublicTrade]:
        return await _read(self._client.recent_trades(symbol, limit, priority=_READ))

    async def balances(self) -> list[Balance]:
        return list((await _read(self._client.account(priority=_READ))).balances)

    async def symbol_rules(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        try:
            return await self._client.exchange_info(symbols)
        except MexcError as exc:
            if exc.code in _INVALID_SYMBOL_CODES:
                return []  # MEXC refuses the whole request when one symbol is unknown
            raise ExchangeUnreachable(str(exc)) from None

    async def price_quote(self, symbol: str) -> PriceQuote:
        book = await _read(self._client.book_ticker(symbol))
        last = await _read(self._client.ticker_price(symbol))
        return PriceQuote(symbol, book.bid_price, book.ask_price, last.price)

    async def submit(self, request: OrderRequest) -> Acknowledgement:
        try:
            ack = await self._client.place_order(
                request.symbol,
                request.side,
                request.type,
                request.time_in_force,
                quantity=request.quantity,
                quote_order_qty=request.quote_amount,
                price=request.price,
                client_order_id=request.client_order_id,
            )
        except OutcomeUnknown as exc:
            raise SubmitOutcomeUnknown(exc.msg) from None
        except ExchangeUnavailable as exc:
            raise SubmitNotSent(exc.msg) from None
        except RateLimited as exc:
            code = exc.code if exc.code is not None else exc.http_status
            raise ExchangeThrottled(code, exc.msg, exc.retry_after) from None
        except MexcError as exc:
            raise ExchangeRejection(exc.code, exc.msg) from None
        return Acknowledgement(ack.order_id, _at(ack.transact_time))

    async def query(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> OrderReport:
        order = await _read(
            self._client.get_order(
                symbol, order_id=exchange_order_id, client_order_id=client_order_id
            )
        )
        return _report(order)

    async def cancel(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> OrderReport:
        try:
            order = await self._client.cancel_order(
                symbol, order_id=exchange_order_id, client_order_id=client_order_id
            )
        except OrderNotFound as exc:
            raise ExchangeOrderMissing(exc.msg) from None
        except OutcomeUnknown as exc:
            raise SubmitOutcomeUnknown(exc.msg) from None
        except ExchangeUnavailable as exc:
            raise ExchangeUnreachable(exc.msg) from None
        except MexcError as exc:
            raise ExchangeRejection(exc.code, exc.msg) from None
        return _report(order)

    async def open_orders(self, symbol: str) -> list[OrderReport]:
        return [_report(order) for order in await _read(self._client.open_orders(symbol))]

    async def recent_orders(self, symbol: str) -> list[OrderReport]:
        orders = await _read(self._client.all_orders(symbol, limit=1000))
        return [_report(order) for order in orders]

    async def trades(self, symbol: str, exchange_order_id: str) -> list[TradeReport]:
        trades = await _read(self._client.my_trades(symbol, order_id=exchange_order_id, limit=100))
        return [_trade(trade) for trade in trades]

    def account_updates(self) -> AsyncIterator[AccountUpdate]:
        return self._streams.account_updates()

    def price_updates(self, symbols: Collection[str]) -> AsyncIterator[PriceUpdate]:
        return self._streams.price_updates(symbols)
