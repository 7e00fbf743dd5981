"""MexcClient: the async MEXC spot v3 REST adapter, one method per endpoint.

Sending, signing and the retry policy live in ``mexcbot.mexc.transport`` (read it before relying on
what a failure means); this module turns endpoint arguments into parameters and answers into typed
models. In short: reads and cancels are retried with backoff, order placement never is (a timeout or
5xx raises ``OutcomeUnknown`` carrying the client order ids, to be resolved by
``get_order(symbol, client_order_id=...)``), and a 700003 clock refusal is repaired once by
re-measuring the clock and re-sending the same request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final, TypeVar

from mexcbot.domain.orders import OrderSide, OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolRules
from mexcbot.mexc import constants as ep
from mexcbot.mexc import wire
from mexcbot.mexc.constants import Endpoint
from mexcbot.mexc.errors import MexcError, OutcomeUnknown, UnexpectedResponse
from mexcbot.mexc.models import (
    Account,
    AvgPrice,
    BatchOrderResult,
    BookTicker,
    ExchangeOrder,
    ExchangeTrade,
    Kline,
    NewOrder,
    OrderAck,
    OrderBook,
    PublicTrade,
    Ticker24h,
    TickerPrice,
    TradeFee,
)
from mexcbot.mexc.ratelimit import Priority, RateLimiter, WaitObserver
from mexcbot.mexc.signing import ParamValue
from mexcbot.mexc.transport import (
    MexcClientConfig,
    Params,
    RequestKind,
    RestTransport,
    WallClock,
)

__all__ = ["MexcClient", "MexcClientConfig"]

_T = TypeVar("_T")

_MAX_BATCH: Final = 20


class MexcClient:
    """Async MEXC spot REST client. Use as ``async with MexcClient(config) as client:``.

    ``on_rate_limit_wait(endpoint, seconds)`` is called whenever a request waited for rate-limit
    budget; ``rate_limit_wait_s`` is the cumulative wait. ``on_request(endpoint, seconds)`` is
    called after every HTTP round trip, failed ones included (latency metrics).
    """

    def __init__(
        self,
        config: MexcClientConfig,
        *,
        on_rate_limit_wait: WaitObserver | None = None,
        limiter: RateLimiter | None = None,
        on_request: WaitObserver | None = None,
        wall_clock: WallClock = time.time,
    ) -> None:
        """``limiter`` replaces the default MEXC-budget limiter (tests use a shorter window); it
        is ignored when ``config.rate_limit`` is off. ``wall_clock`` replaces ``time.time`` as the
        local clock signed timestamps are taken from (tests use a drifting one)."""
        if not config.rate_limit:
            active: RateLimiter | None = None
        else:
            active = limiter or RateLimiter(
                on_wait=on_rate_limit_wait, read_wait_limit_s=config.read_wait_limit_s
            )
        self._transport = RestTransport(
            config, limiter=active, on_request=on_request, wall_clock=wall_clock
        )
        self._call = self._transport.call

    async def __aenter__(self) -> MexcClient:
        self._transport.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    @property
    def time_offset_ms(self) -> int:
        """Server time minus local time, as measured by the last ``sync_time()``."""
        return self._transport.offset_ms

    @property
    def rate_limit_wait_s(self) -> float:
        limiter = self._transport.limiter
        return limiter.total_wait_s if limiter is not None else 0.0

    @property
    def read_wait_limit_s(self) -> float | None:
        """How long a read may wait for budget (``None``: unbounded or throttling off)."""
        limiter = self._transport.limiter
        return limiter.read_wait_limit_s if limiter is not None else None

    @property
    def queued_reads(self) -> int:
        """Reads waiting for rate-limit budget right now."""
        limiter = self._transport.limiter
        return limiter.queued_reads() if limiter is not None else 0

    @property
    def rate_limit_headroom(self) -> dict[str, float] | None:
        """Free share of each used endpoint's budget (``None`` when throttling is off)."""
        limiter = self._transport.limiter
        return limiter.headroom() if limiter is not None else None

    # --- market data -----------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._call(ep.PING, [])

    async def server_time(self) -> int:
        """The exchange clock in milliseconds."""
        return wire.parse_server_time(await self._call(ep.TIME, []))

    async def sync_time(self) -> int:
        """Measure the server-minus-local clock offset (mid-point of the round trip) and use it for
        every signed timestamp from now on. Returns the offset in milliseconds. The client also
        does this by itself when MEXC refuses a request with 700003."""
        return await self._transport.sync_clock()

    async def default_symbols(self) -> list[str]:
        """Symbols tradable through the API."""
        return wire.parse_default_symbols(await self._call(ep.DEFAULT_SYMBOLS, []))

    async def exchange_info(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        params: Params = []
        if symbols:
            params.append(("symbols", ",".join(symbols)))
        return _parsed(wire.parse_exchange_info, await self._call(ep.EXCHANGE_INFO, params))

    async def announcements(self) -> object:
        """The announcements answer as sent (its shape is unofficial: `mexc.listings` reads it)."""
        return await self._call(ep.ANNOUNCEMENTS, [])

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        """The rules of one symbol; ``MexcError`` if the exchange does not list it."""
        for rules in await self.exchange_info([symbol]):
            if rules.symbol == symbol:
                return rules
        raise MexcError(None, f"exchangeInfo does not list symbol {symbol}")

    async def depth(
        self, symbol: str, limit: int | None = None, *, priority: Priority = Priority.TRADING
    ) -> OrderBook:
        params = _with(("symbol", symbol), limit=limit)
        payload = await self._call(ep.DEPTH, params, priority=priority)
        return _parsed(wire.parse_depth, payload)

    async def recent_trades(
        self, symbol: str, limit: int | None = None, *, priority: Priority = Priority.TRADING
    ) -> list[PublicTrade]:
        params = _with(("symbol", symbol), limit=limit)
        payload = await self._call(ep.TRADES, params, priority=priority)
        return _parsed(wire.parse_public_trades, payload)

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int | None = None,
        priority: Priority = Priority.TRADING,
    ) -> list[Kline]:
        if interval not in ep.KLINE_INTERVALS:
            allowed = ", ".join(sorted(ep.KLINE_INTERVALS))
            raise ValueError(f"interval {interval!r} is not one of MEXC's intervals: {allowed}")
        params = _with(
            ("symbol", symbol),
            ("interval", interval),
            startTime=start_time,
            endTime=end_time,
            limit=limit,
        )
        return _parsed(wire.parse_klines, await self._call(ep.KLINES, params, priority=priority))

    async def avg_price(self, symbol: str) -> AvgPrice:
        payload = await self._call(ep.AVG_PRICE, [("symbol", symbol)])
        return _parsed(wire.parse_avg_price, payload)

    async def ticker_24h(self, symbol: str, *, priority: Priority = Priority.TRADING) -> Ticker24h:
        return (await self._tickers(ep.TICKER_24H, wire.parse_tickers_24h, symbol, priority))[0]

    async def tickers_24h(self, *, priority: Priority = Priority.TRADING) -> list[Ticker24h]:
        return await self._tickers(ep.TICKER_24H, wire.parse_tickers_24h, None, priority)

    async def ticker_price(self, symbol: str) -> TickerPrice:
        return (await self._tickers(ep.TICKER_PRICE, wire.parse_ticker_prices, symbol))[0]

    async def ticker_prices(self) -> list[TickerPrice]:
        return await self._tickers(ep.TICKER_PRICE, wire.parse_ticker_prices, None)

    async def book_ticker(self, symbol: str) -> BookTicker:
        return (await self._tickers(ep.BOOK_TICKER, wire.parse_book_tickers, symbol))[0]

    async def book_tickers(self) -> list[BookTicker]:
        return await self._tickers(ep.BOOK_TICKER, wire.parse_book_tickers, None)

    async def _tickers(
        self,
        endpoint: Endpoint,
        parse: Callable[[object], list[_T]],
        symbol: str | None,
        priority: Priority = Priority.TRADING,
    ) -> list[_T]:
        if symbol is None:
            payload = await self._call(
                endpoint, [], weight=endpoint.weight_unfiltered, priority=priority
            )
        else:
            payload = await self._call(endpoint, [("symbol", symbol)], priority=priority)
        items = _parsed(parse, payload)
        if not items:
            raise UnexpectedResponse(None, f"{endpoint.key}: empty answer")
        return items

    # --- trading ---------------------------------------------------------------------------------

    async def place_order(
        self,
        symbol: str,
        side: OrderSide,
        order_type: OrderType,
        time_in_force: TimeInForce = TimeInForce.GTC,
        *,
        quantity: Decimal | None = None,
        quote_order_qty: Decimal | None = None,
        price: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> OrderAck:
        """Place one order; never retried after a failure (only a 700003 clock refusal is re-sent
        once, same client order id). Without ``client_order_id`` one is generated, so an
        ``OutcomeUnknown`` can always be resolved by querying it."""
        client_id = client_order_id or uuid.uuid4().hex
        params = wire.order_params(
            symbol, side, order_type, time_in_force, quantity, quote_order_qty, price, client_id
        )
        payload = await self._call(
            ep.NEW_ORDER, params, kind=RequestKind.PLACE, client_order_ids=(client_id,)
        )
        try:
            return wire.parse_order_ack(payload, client_id)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            # The order was accepted but its ack is unreadable: its details are still unknown.
            raise OutcomeUnknown(
                f"{ep.NEW_ORDER.key}: unreadable acknowledgement ({exc})",
                client_order_ids=(client_id,),
            ) from None

    async def test_order(
        self,
        symbol: str,
        side: OrderSide,
        order_type: OrderType,
        time_in_force: TimeInForce = TimeInForce.GTC,
        *,
        quantity: Decimal | None = None,
        quote_order_qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Have the exchange validate an order without placing it (raises what a real one would)."""
        params = wire.order_params(
            symbol, side, order_type, time_in_force, quantity, quote_order_qty, price, None
        )
        await self._call(ep.TEST_ORDER, params)

    async def place_batch_orders(
        self, symbol: str, orders: Sequence[NewOrder]
    ) -> list[BatchOrderResult]:
        """Place up to 20 orders on one symbol in one request; retried only like ``place_order``
        (a 700003 clock refusal is re-sent once). Each result carries
        either the order id or the typed error of that item. Orders without a client id get one."""
        if not 0 < len(orders) <= _MAX_BATCH:
            raise ValueError(f"orders must hold 1..{_MAX_BATCH} orders, got {len(orders)}")
        named = [o if o.client_order_id else _with_client_id(o, uuid.uuid4().hex) for o in orders]
        client_ids = tuple(o.client_order_id or "" for o in named)
        params: Params = [("batchOrders", wire.batch_orders_json(symbol, named))]
        payload = await self._call(
            ep.BATCH_ORDERS, params, kind=RequestKind.PLACE, client_order_ids=client_ids
        )
        try:
            return wire.parse_batch_results(payload)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise OutcomeUnknown(
                f"{ep.BATCH_ORDERS.key}: unreadable answer ({exc})", client_order_ids=client_ids
            ) from None

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        params = _order_ref(symbol, order_id, client_order_id)
        ids = (client_order_id,) if client_order_id else ()
        cancel = RequestKind.CANCEL
        payload = await self._call(ep.CANCEL_ORDER, params, kind=cancel, client_order_ids=ids)
        return _parsed(wire.parse_order, payload)

    async def cancel_open_orders(self, symbols: str | Sequence[str]) -> list[ExchangeOrder]:
        """Cancel every open order on up to 5 symbols. The ``status`` MEXC reports in this answer
        may be the pre-cancel one: do not rely on it."""
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        if not 0 < len(names) <= 5:
            raise ValueError(f"symbols must name 1..5 symbols, got {len(names)}")
        params: Params = [("symbol", ",".join(names))]
        payload = await self._call(ep.CANCEL_OPEN_ORDERS, params, kind=RequestKind.CANCEL)
        return _parsed(wire.parse_orders, payload)

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        params = _order_ref(symbol, order_id, client_order_id)
        return _parsed(wire.parse_order, await self._call(ep.QUERY_ORDER, params))

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        params = _with(symbol=symbol)
        return _parsed(wire.parse_orders, await self._call(ep.OPEN_ORDERS, params))

    async def all_orders(
        self,
        symbol: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int | None = None,
    ) -> list[ExchangeOrder]:
        """Orders of ``symbol``; MEXC defaults to the last 24 h and looks back at most 7 days."""
        params = _with(("symbol", symbol), startTime=start_time, endTime=end_time, limit=limit)
        return _parsed(wire.parse_orders, await self._call(ep.ALL_ORDERS, params))

    async def account(self, *, priority: Priority = Priority.TRADING) -> Account:
        return _parsed(wire.parse_account, await self._call(ep.ACCOUNT, [], priority=priority))

    async def my_trades(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int | None = None,
    ) -> list[ExchangeTrade]:
        params = _with(
            ("symbol", symbol),
            orderId=order_id,
            startTime=start_time,
            endTime=end_time,
            limit=limit,
        )
        return _parsed(wire.parse_trades, await self._call(ep.MY_TRADES, params))

    async def trade_fee(self, symbol: str) -> TradeFee:
        payload = await self._call(ep.TRADE_FEE, [("symbol", symbol)])
        return _parsed(wire.parse_trade_fee, payload)

    # --- user data stream ------------------------------------------------------------------------

    async def create_listen_key(self) -> str:
        """A listen key for the user-data stream, valid 60 minutes (keep it alive every 30)."""
        return _parsed(wire.parse_listen_key, await self._call(ep.LISTEN_KEY_CREATE, []))

    async def keepalive_listen_key(self, listen_key: str) -> None:
        await self._call(ep.LISTEN_KEY_KEEPALIVE, [("listenKey", listen_key)])

    async def close_listen_key(self, listen_key: str) -> None:
        await self._call(ep.LISTEN_KEY_CLOSE, [("listenKey", listen_key)])

    async def listen_keys(self) -> list[str]:
        return _parsed(wire.parse_listen_keys, await self._call(ep.LISTEN_KEY_LIST, []))


def _parsed(parse: Callable[[object], _T], payload: object) -> _T:
    """Run a wire parser, turning a shape mismatch into ``UnexpectedResponse``."""
    try:
        return parse(payload)
    except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
        name = getattr(parse, "__name__", "parser")
        raise UnexpectedResponse(None, f"{name}: {type(exc).__name__}: {exc}") from None


def _with(*required: tuple[str, ParamValue], **optional: ParamValue | None) -> Params:
    """Required parameters followed by the optional ones that are set."""
    params: Params = list(required)
    params.extend((key, value) for key, value in optional.items() if value is not None)
    return params


def _order_ref(symbol: str, order_id: str | None, client_order_id: str | None) -> Params:
    if (order_id is None) == (client_order_id is None):
        raise ValueError("give exactly one of order_id and client_order_id")
    if order_id is not None:
        return [("symbol", symbol), ("orderId", order_id)]
    assert client_order_id is not None
    return [("symbol", symbol), ("origClientOrderId", client_order_id)]


def _with_client_id(order: NewOrder, client_order_id: str) -> NewOrder:
    return NewOrder(
        order.side,
        order.order_type,
        order.time_in_force,
        order.quantity,
        order.quote_order_qty,
        order.price,
        client_order_id,
    )
