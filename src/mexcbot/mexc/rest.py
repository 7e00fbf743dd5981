"""MexcClient: the async MEXC spot v3 REST adapter (one pooled keep-alive aiohttp session).

Every parameter, ``signature`` last, travels in the query string with an empty body, as every major
MEXC client does. Failures are typed (``mexcbot.mexc.errors``) and the retry policy follows what is
safe for money:

* Reads (GET, ``order/test``, listen keys) are retried with exponential backoff on 429, 5xx,
  timeouts and connection errors, at most ``read_retries`` times, then raise ``ExchangeUnavailable``
  (or ``RateLimited``).
* Placing orders (``order`` POST, ``batchOrders``) is NEVER retried: a timeout, a dropped connection
  or a 5xx raises ``OutcomeUnknown`` carrying the client order ids; the caller resolves the order
  with ``get_order(symbol, client_order_id=...)``. A 429 raises ``RateLimited`` (MEXC refused the
  request before processing it, so the order does not exist).
* Cancels are retried like reads, because cancelling twice cannot cancel anything extra. If an
  attempt had an unknown outcome and a retry then answers "unknown order", the first attempt may
  have done the cancel (or the order may have filled meanwhile), so ``OutcomeUnknown`` is raised and
  the caller queries the order; exhausted retries also raise ``OutcomeUnknown``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Final, TypeVar

import aiohttp
from yarl import URL

from mexcbot.domain.orders import OrderSide, OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolRules
from mexcbot.mexc import constants as ep
from mexcbot.mexc import wire
from mexcbot.mexc.constants import Endpoint
from mexcbot.mexc.errors import (
    ExchangeUnavailable,
    IpBanned,
    MexcError,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    UnexpectedResponse,
    error_for,
)
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
from mexcbot.mexc.ratelimit import RateLimiter, WaitObserver
from mexcbot.mexc.signing import ParamValue, encode_query, sign

Params = list[tuple[str, ParamValue]]
_T = TypeVar("_T")

_TRANSPORT_ERRORS: Final = (aiohttp.ClientError, asyncio.TimeoutError)
_MAX_BATCH: Final = 20


class _Kind(Enum):
    READ = "read"
    CANCEL = "cancel"
    PLACE = "place"


@dataclass(frozen=True, slots=True)
class MexcClientConfig:
    """Immutable client settings. ``rate_limit=False`` turns client-side throttling off."""

    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    base_url: str = ep.DEFAULT_BASE_URL
    recv_window_ms: int = ep.DEFAULT_RECV_WINDOW_MS
    timeout_s: float = 10.0
    rate_limit: bool = True
    read_retries: int = 3
    retry_backoff_s: float = 0.2
    max_connections: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.recv_window_ms <= ep.MAX_RECV_WINDOW_MS:
            raise ValueError(
                f"recv_window_ms must be in 1..{ep.MAX_RECV_WINDOW_MS}, got {self.recv_window_ms}"
            )
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.read_retries < 0:
            raise ValueError(f"read_retries must be >= 0, got {self.read_retries}")


@dataclass(slots=True)
class _Reply:
    status: int
    body: bytes
    retry_after: float | None


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
    ) -> None:
        """``limiter`` replaces the default MEXC-budget limiter (tests use a shorter window); it
        is ignored when ``config.rate_limit`` is off."""
        self._config = config
        self._secret = config.api_secret.encode()
        self._base = config.base_url.rstrip("/")
        self._recv_window = f"recvWindow={config.recv_window_ms}&timestamp="
        if not config.rate_limit:
            self._limiter: RateLimiter | None = None
        else:
            self._limiter = limiter or RateLimiter(on_wait=on_rate_limit_wait)
        self._session: aiohttp.ClientSession | None = None
        self._offset_ms = 0
        self._on_request = on_request

    async def __aenter__(self) -> MexcClient:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def time_offset_ms(self) -> int:
        """Server time minus local time, as measured by the last ``sync_time()``."""
        return self._offset_ms

    @property
    def rate_limit_wait_s(self) -> float:
        return self._limiter.total_wait_s if self._limiter is not None else 0.0

    @property
    def rate_limit_headroom(self) -> dict[str, float] | None:
        """Free share of each used endpoint's budget (``None`` when throttling is off)."""
        return self._limiter.headroom() if self._limiter is not None else None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._config.max_connections, keepalive_timeout=30, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_s),
                headers={
                    ep.API_KEY_HEADER: self._config.api_key,
                    "Content-Type": "application/json",
                },
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    # --- transport -------------------------------------------------------------------------------

    def _url(self, endpoint: Endpoint, params: Params) -> URL:
        query = encode_query(params)
        if endpoint.signed:
            stamp = int(time.time() * 1000) + self._offset_ms
            query = (
                f"{query}&{self._recv_window}{stamp}" if query else f"{self._recv_window}{stamp}"
            )
            query = f"{query}&signature={sign(self._secret, query)}"
        url = f"{self._base}{endpoint.path}?{query}" if query else self._base + endpoint.path
        return URL(url, encoded=True)

    async def _exchange(self, endpoint: Endpoint, params: Params, weight: int) -> _Reply:
        """One HTTP round trip (after waiting for budget); transport errors propagate."""
        limiter = self._limiter
        if limiter is None:
            return await self._round_trip(endpoint, params)
        await limiter.acquire(endpoint, weight)
        try:
            return await self._round_trip(endpoint, params)
        finally:
            limiter.release(endpoint, weight)

    async def _round_trip(self, endpoint: Endpoint, params: Params) -> _Reply:
        if self._on_request is None:
            return await self._send_and_read(endpoint, params)
        started = time.perf_counter()
        try:
            return await self._send_and_read(endpoint, params)
        finally:
            self._on_request(endpoint.key, time.perf_counter() - started)

    async def _send_and_read(self, endpoint: Endpoint, params: Params) -> _Reply:
        session = self._session or self._ensure_session()
        async with session.request(endpoint.method, self._url(endpoint, params)) as response:
            body = await response.read()
            retry_after: float | None = None
            if response.status in (418, 429):
                retry_after = _retry_after(response.headers.get("Retry-After"))
            return _Reply(response.status, body, retry_after)

    async def _call(
        self,
        endpoint: Endpoint,
        params: Params,
        *,
        kind: _Kind = _Kind.READ,
        weight: int | None = None,
        client_order_ids: tuple[str, ...] = (),
    ) -> object:
        """Send with the retry policy of ``kind`` and return the decoded success payload."""
        cost = endpoint.weight if weight is None else weight
        attempts = 1 if kind is _Kind.PLACE else 1 + self._config.read_retries
        ambiguous = False
        failure = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._config.retry_backoff_s * 2 ** (attempt - 1))
            try:
                reply = await self._exchange(endpoint, params, cost)
            except aiohttp.ClientConnectorError as exc:
                # Opening the connection failed: nothing was sent, so nothing is ambiguous.
                failure = f"{endpoint.key}: cannot connect ({type(exc).__name__})"
                if kind is _Kind.PLACE:
                    raise ExchangeUnavailable(
                        None, f"{failure}; the request was not sent"
                    ) from None
                continue
            except _TRANSPORT_ERRORS as exc:
                ambiguous = True
                failure = f"{endpoint.key}: {type(exc).__name__} after sending"
                continue
            if reply.status >= 500:
                ambiguous = True
                failure = f"{endpoint.key}: HTTP {reply.status}"
                continue
            try:
                return self._payload(endpoint, reply, kind)
            except OrderNotFound:
                if kind is _Kind.CANCEL and ambiguous:
                    raise OutcomeUnknown(
                        f"{endpoint.key}: an earlier attempt may have cancelled the order",
                        client_order_ids=client_order_ids,
                    ) from None
                raise
            except RateLimited as exc:
                if kind is _Kind.PLACE or isinstance(exc, IpBanned) or attempt + 1 == attempts:
                    raise
                await self._honour_retry_after(endpoint, exc.retry_after)
        if kind is _Kind.READ or not ambiguous:
            raise ExchangeUnavailable(None, f"{failure} ({attempts} attempts)")
        raise OutcomeUnknown(failure, client_order_ids=client_order_ids)

    async def _honour_retry_after(self, endpoint: Endpoint, retry_after: float | None) -> None:
        seconds = 1.0 if retry_after is None else retry_after
        if self._limiter is not None:
            self._limiter.block(endpoint, seconds)
        else:
            await asyncio.sleep(seconds)

    def _payload(self, endpoint: Endpoint, reply: _Reply, kind: _Kind) -> object:
        status = reply.status
        if status in (418, 429):
            if self._limiter is not None and reply.retry_after is not None:
                self._limiter.block(endpoint, reply.retry_after)
            cls = IpBanned if status == 418 else RateLimited
            code, msg = _error_body(reply.body) or (status, "too many requests")
            raise cls(code, f"{endpoint.key}: {msg}", status, reply.retry_after)
        try:
            payload = wire.decode(reply.body)
        except ValueError:
            text = reply.body[:200].decode(errors="replace")
            if status >= 400:
                raise MexcError(None, f"{endpoint.key}: {text}", status) from None
            raise UnexpectedResponse(None, f"{endpoint.key}: not JSON: {text}", status) from None
        failure = wire.error_in(payload)
        if failure is not None:
            raise error_for(failure[0], failure[1], status, write=kind is not _Kind.READ)
        if status >= 400:
            raise MexcError(None, f"{endpoint.key}: HTTP {status}", status)
        return payload

    # --- market data -----------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._call(ep.PING, [])

    async def server_time(self) -> int:
        """The exchange clock in milliseconds."""
        return wire.parse_server_time(await self._call(ep.TIME, []))

    async def sync_time(self) -> int:
        """Measure the server-minus-local clock offset (mid-point of the round trip) and use it for
        every signed timestamp from now on. Returns the offset in milliseconds."""
        before = time.time() * 1000
        server = await self.server_time()
        after = time.time() * 1000
        self._offset_ms = round(server - (before + after) / 2)
        return self._offset_ms

    async def default_symbols(self) -> list[str]:
        """Symbols tradable through the API."""
        return wire.parse_default_symbols(await self._call(ep.DEFAULT_SYMBOLS, []))

    async def exchange_info(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        params: Params = []
        if symbols:
            params.append(("symbols", ",".join(symbols)))
        return _parsed(wire.parse_exchange_info, await self._call(ep.EXCHANGE_INFO, params))

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        """The rules of one symbol; ``MexcError`` if the exchange does not list it."""
        for rules in await self.exchange_info([symbol]):
            if rules.symbol == symbol:
                return rules
        raise MexcError(None, f"exchangeInfo does not list symbol {symbol}")

    async def depth(self, symbol: str, limit: int | None = None) -> OrderBook:
        params = _with(("symbol", symbol), limit=limit)
        return _parsed(wire.parse_depth, await self._call(ep.DEPTH, params))

    async def recent_trades(self, symbol: str, limit: int | None = None) -> list[PublicTrade]:
        params = _with(("symbol", symbol), limit=limit)
        return _parsed(wire.parse_public_trades, await self._call(ep.TRADES, params))

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int | None = None,
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
        return _parsed(wire.parse_klines, await self._call(ep.KLINES, params))

    async def avg_price(self, symbol: str) -> AvgPrice:
        payload = await self._call(ep.AVG_PRICE, [("symbol", symbol)])
        return _parsed(wire.parse_avg_price, payload)

    async def ticker_24h(self, symbol: str) -> Ticker24h:
        return (await self._tickers(ep.TICKER_24H, wire.parse_tickers_24h, symbol))[0]

    async def tickers_24h(self) -> list[Ticker24h]:
        return await self._tickers(ep.TICKER_24H, wire.parse_tickers_24h, None)

    async def ticker_price(self, symbol: str) -> TickerPrice:
        return (await self._tickers(ep.TICKER_PRICE, wire.parse_ticker_prices, symbol))[0]

    async def ticker_prices(self) -> list[TickerPrice]:
        return await self._tickers(ep.TICKER_PRICE, wire.parse_ticker_prices, None)

    async def book_ticker(self, symbol: str) -> BookTicker:
        return (await self._tickers(ep.BOOK_TICKER, wire.parse_book_tickers, symbol))[0]

    async def book_tickers(self) -> list[BookTicker]:
        return await self._tickers(ep.BOOK_TICKER, wire.parse_book_tickers, None)

    async def _tickers(
        self, endpoint: Endpoint, parse: Callable[[object], list[_T]], symbol: str | None
    ) -> list[_T]:
        if symbol is None:
            payload = await self._call(endpoint, [], weight=endpoint.weight_unfiltered)
        else:
            payload = await self._call(endpoint, [("symbol", symbol)])
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
        """Place one order; never retried. Without ``client_order_id`` one is generated, so an
        ``OutcomeUnknown`` can always be resolved by querying it."""
        client_id = client_order_id or uuid.uuid4().hex
        params = wire.order_params(
            symbol, side, order_type, time_in_force, quantity, quote_order_qty, price, client_id
        )
        payload = await self._call(
            ep.NEW_ORDER, params, kind=_Kind.PLACE, client_order_ids=(client_id,)
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
        """Place up to 20 orders on one symbol in one request; never retried. Each result carries
        either the order id or the typed error of that item. Orders without a client id get one."""
        if not 0 < len(orders) <= _MAX_BATCH:
            raise ValueError(f"orders must hold 1..{_MAX_BATCH} orders, got {len(orders)}")
        named = [o if o.client_order_id else _with_client_id(o, uuid.uuid4().hex) for o in orders]
        client_ids = tuple(o.client_order_id or "" for o in named)
        params: Params = [("batchOrders", wire.batch_orders_json(symbol, named))]
        payload = await self._call(
            ep.BATCH_ORDERS, params, kind=_Kind.PLACE, client_order_ids=client_ids
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
        payload = await self._call(ep.CANCEL_ORDER, params, kind=_Kind.CANCEL, client_order_ids=ids)
        return _parsed(wire.parse_order, payload)

    async def cancel_open_orders(self, symbols: str | Sequence[str]) -> list[ExchangeOrder]:
        """Cancel every open order on up to 5 symbols. The ``status`` MEXC reports in this answer
        may be the pre-cancel one: do not rely on it."""
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        if not 0 < len(names) <= 5:
            raise ValueError(f"symbols must name 1..5 symbols, got {len(names)}")
        params: Params = [("symbol", ",".join(names))]
        payload = await self._call(ep.CANCEL_OPEN_ORDERS, params, kind=_Kind.CANCEL)
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

    async def account(self) -> Account:
        return _parsed(wire.parse_account, await self._call(ep.ACCOUNT, []))

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


def _retry_after(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


def _error_body(body: bytes) -> tuple[int, str] | None:
    try:
        return wire.error_in(wire.decode(body))
    except ValueError:
        return None
