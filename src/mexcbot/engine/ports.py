"""The `Exchange` port: what the execution engine needs from an exchange, in domain terms.

The engine never sees MEXC's wire format or its client: `mexcbot.mexc.exchange.MexcExchange` adapts
the MEXC client to this protocol. Outcomes that matter for never losing an order are typed here so
the engine can act on them without knowing which exchange produced them:

* `ExchangeRejection`: the exchange definitely did NOT accept the write (business error);
  `ExchangeThrottled` (429) is the kind that may be retried with the same client order id.
* `SubmitOutcomeUnknown`: the request may or may not have been executed (timeout, 5xx, dropped
  connection). The order must be resolved by querying its client order id, never re-sent.
* `SubmitNotSent`: the request never left this process (connection refused): nothing exists.
* `ExchangeOrderMissing`: the exchange knows no order with that id.
* `ExchangeUnreachable`: a read failed after the adapter's own retries.
* `ExchangeBusy`: a market-data or account read was refused before sending because the exchange
  budget would not admit it within the read wait bound; try again after `retry_after` seconds.

Besides orders, the port serves everything else the bot reads from an exchange (market data,
balances, symbol rules, its own health), so no caller above the engine needs the MEXC client.
The account and the market also arrive as streams (`account_updates`, `price_updates`): the
stream drives the state, REST closes the gaps. A stream may miss pushes while it reconnects, so it
marks every such moment with `StreamGap` / `StreamResumed` and the consumer reconciles over REST.
`OrderWriter` is the other port of the placement hot path: where the intent and the ack of an
order are made durable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from mexcbot.domain.market import Balance, Kline, OrderBook, PublicTrade, Ticker24h
from mexcbot.domain.orders import (
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.freshness import Fresh
from mexcbot.store.audit import PlacementAudit


class ExchangePortError(Exception):
    """Base of the failures an `Exchange` reports."""


class ExchangeRejection(ExchangePortError):
    """The exchange refused the request; the order does not exist. `code` is the exchange's."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"exchange rejected the request: {code} {message}")
        self.code = code
        self.message = message


class ExchangeThrottled(ExchangeRejection):
    """Rate limited (HTTP 429): refused before processing, so sending the SAME order (same
    client order id) again after `retry_after` seconds is safe."""

    def __init__(self, code: int | None, message: str, retry_after: float | None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class SubmitOutcomeUnknown(ExchangePortError):
    """The write may have been executed; resolve by querying the client order id."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SubmitNotSent(ExchangePortError):
    """The request could not be sent at all (e.g. connection refused): nothing was executed."""


class ExchangeOrderMissing(ExchangePortError):
    """The exchange has no order with the given id (never received, or not (yet) visible)."""


class ExchangeUnreachable(ExchangePortError):
    """A read kept failing; the state on the exchange is not known right now."""


class ExchangeBusy(ExchangePortError):
    """A read would have waited for the exchange's rate-limit budget longer than allowed, so it
    was not sent. Orders and cancels have their own headroom and never raise this."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The exchange accepted an order; nothing about its execution is known yet."""

    exchange_order_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderReport:
    """An order as the exchange reports it (query, cancel, open and recent orders).

    `status` is None when the exchange reported a status this bot does not know: such a report
    must not move the order's state.
    """

    symbol: str
    exchange_order_id: str
    client_order_id: str | None
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    status: OrderStatus | None
    price: Decimal | None
    quantity: Decimal | None
    quote_amount: Decimal | None
    executed_qty: Decimal
    cumulative_quote_qty: Decimal
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TradeReport:
    """One execution of one of the account's orders."""

    symbol: str
    trade_id: str
    exchange_order_id: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    at: datetime
    client_order_id: str | None = None
    """Sent by the user stream (REST trades leave it None): finds an order not yet acknowledged."""


@dataclass(frozen=True, slots=True)
class BalanceReport:
    """One asset's balance right after a change, as the account stream reports it."""

    asset: str
    free: Decimal
    locked: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class PriceTick:
    """A symbol's latest prices from the market stream: a trade sets `last`, a best-price
    change `bid`/`ask`; the others are None (not known from this push)."""

    symbol: str
    last: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    at: datetime
    volume: Decimal | None = None
    """The base quantity the push's trades traded (None: a best-price push)."""


@dataclass(frozen=True, slots=True)
class StreamGap:
    """The stream lost its connection: pushes may be missed until the next `StreamResumed`."""

    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StreamResumed:
    """The stream is (re)connected and subscribed: what happened before must be read by REST."""

    at: datetime


#: What the account stream yields: an order's new state, one execution, a balance, or a marker.
AccountUpdate = OrderReport | TradeReport | BalanceReport | StreamGap | StreamResumed
#: What the market stream yields.
PriceUpdate = PriceTick | StreamGap | StreamResumed


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """Best bid/ask and last trade price of a symbol; any may be None on an empty market."""

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None


@dataclass(frozen=True, slots=True)
class ExchangeDiagnostics:
    """How the connection to the exchange is doing, for `/api/v1/status` and metrics."""

    clock_offset_ms: int
    rate_limit_wait_seconds: float
    """Total time requests waited for the exchange's rate-limit budget."""
    rate_limit_headroom: dict[str, float] | None
    """Per endpoint used so far, the free share of its tightest budget; None when off."""
    read_wait_limit_seconds: float | None = None
    """Longest a read waits for budget before `ExchangeBusy`; None when unbounded."""
    queued_reads: int = 0
    """Reads waiting for budget right now."""


class Exchange(Protocol):
    """The exchange as the engine uses it. Every method may raise `ExchangePortError`."""

    async def sync_time(self) -> None:
        """Align request timestamps with the exchange clock."""

    async def ping(self) -> None:
        """Return if the exchange answers; raise `ExchangeUnreachable` otherwise."""

    def diagnostics(self) -> ExchangeDiagnostics:
        """Clock offset and rate-limit state as the adapter knows them now (no request)."""

    # --- market data and account: what users look at. These draw on the read share of the
    # exchange budget and raise `ExchangeBusy` rather than wait past the read wait bound. ---

    async def tickers(self) -> list[Ticker24h]:
        """24-hour statistics of every symbol."""

    async def ticker(self, symbol: str) -> Ticker24h:
        """24-hour statistics of one symbol."""

    async def last_prices(self) -> dict[str, Decimal]:
        """The last trade price of every symbol (one cheap request)."""

    async def order_book(self, symbol: str, limit: int) -> OrderBook:
        """The order book, best levels first."""

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Kline]:
        """Candles of `interval` (MEXC's names: 1m, 5m, 15m, 30m, 60m, 4h, 1d, 1W, 1M), oldest
        first."""

    async def recent_trades(self, symbol: str, limit: int) -> list[PublicTrade]:
        """The market's latest trades (anyone's), in the exchange's order."""

    async def balances(self) -> list[Balance]:
        """Free and locked balance of every asset the account holds."""

    # --- orders ---

    async def symbol_rules(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        """Trading rules of the given symbols (all listed symbols when None)."""

    async def price_quote(self, symbol: str) -> PriceQuote:
        """Current best prices of `symbol`."""

    async def submit(self, request: OrderRequest) -> Acknowledgement:
        """Place the order under `request.client_order_id`; never retried by the adapter."""

    async def query(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> OrderReport:
        """The order by exactly one of its ids; `ExchangeOrderMissing` when there is none."""

    async def cancel(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> OrderReport:
        """Cancel the order; `ExchangeOrderMissing` when it is unknown or no longer open;
        `SubmitOutcomeUnknown` when the outcome is unknown (query it)."""

    async def open_orders(self, symbol: str) -> list[OrderReport]:
        """The account's open orders on `symbol`."""

    async def recent_orders(self, symbol: str) -> list[OrderReport]:
        """The account's recent orders on `symbol`, open or not (exchange-defined window)."""

    async def trades(self, symbol: str, exchange_order_id: str) -> list[TradeReport]:
        """The executions of one order."""

    # --- streams ---

    def account_updates(self) -> AsyncIterator[AccountUpdate]:
        """The account's order changes, executions and balances as they happen, until the
        iterator is closed; reconnects by itself, marking every possible gap. It starts with a
        `StreamResumed` once connected."""

    def price_updates(self, symbols: Collection[str]) -> AsyncIterator[PriceUpdate]:
        """Trades and best bid/ask of `symbols` as they happen, with the same gap markers."""


@dataclass(frozen=True, slots=True)
class LiveConnection:
    """One websocket of the live market: its number, whether it is up, its channels."""

    connection: int
    connected: bool
    subscriptions: int
    last_push_age_s: float | None
    """Seconds since its last push reached the bot; None before the first."""


@dataclass(frozen=True, slots=True)
class LiveMarketStatus:
    """What the live market keeps now, for `/api/v1/status` and metrics (no request)."""

    watched: tuple[str, ...]
    connections: tuple[LiveConnection, ...]
    books_synced: int
    book_resyncs: int
    """Gaps and reconnects that made a book fetch its REST snapshot again, since start."""
    book_snapshots: int
    stale_after_s: float


class LiveMarket(Protocol):
    """Market state the adapter keeps current from its streams, for the symbols it watches.

    `watch` asks for a symbol's depth, trades and best prices (subscribed in the background, at
    most 30 channels per connection); the reads are synchronous and answer only while that state
    is exactly the exchange's as of the answer's `as_of`: a book synced by version, a trade list
    complete since its REST seed, on a connection that delivered a push within `stale_after_s`.
    Otherwise they answer None and the caller asks the exchange over REST.
    """

    def watch(self, symbol: str) -> None:
        """Start keeping `symbol`'s state (idempotent; never waits for the exchange)."""

    def unwatch(self, symbol: str) -> None:
        """Stop keeping `symbol`'s state and unsubscribe its channels."""

    def watched(self) -> frozenset[str]:
        """The symbols watched now."""

    def book(self, symbol: str, limit: int) -> Fresh[OrderBook] | None:
        """The best `limit` levels of each side, or None when the book cannot vouch for them."""

    def trades(self, symbol: str, limit: int) -> Fresh[list[PublicTrade]] | None:
        """The newest `limit` public trades, oldest first; None when the list may be incomplete."""

    def quote(self, symbol: str) -> Fresh[PriceQuote] | None:
        """Best bid/ask (from the stream) and the last trade price, or None when not current."""

    def status(self) -> LiveMarketStatus:
        """Watched symbols, connections and book sync counts."""

    def price_updates(self) -> AsyncIterator[PriceUpdate]:
        """Trades and best bid/ask of every watched symbol as they arrive, with gap markers for
        the stream as a whole: `StreamGap` when a connection is lost, `StreamResumed` once every
        connection is back (a connection opened for new symbols is none of these). Starts with
        a `StreamResumed` when the stream is up already. Watching a symbol adds it to the
        iteration: nothing is reopened."""

    async def close(self) -> None:
        """Close every connection and background task."""


class OrderWriter(Protocol):
    """Makes the two writes of the placement hot path durable: the intent before the submit and
    the acknowledgement after it. `app.py` picks the implementation (the store's prepared-statement
    `OrderJournal`, or `UnitOfWorkOrderWriter`); placement does not know which it got."""

    async def record_intent(self, order: Order) -> int:
        """Insert the PENDING_NEW order and commit; its row version. Raises the store's
        `DuplicateClientOrderId` when the client order id exists."""

    async def record_ack(
        self, order: Order, expected_version: int, audit: PlacementAudit | None = None
    ) -> int:
        """Write the acknowledgement's columns if the row is still at `expected_version` and
        commit; the new version. Raises `ConcurrentOrderUpdate` when someone changed it first.
        With `audit`, its entry (target: the client order id) commits in the same transaction
        and `audit.recorded` is set."""

    async def close(self) -> None:
        """Release connections."""
