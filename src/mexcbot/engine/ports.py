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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from mexcbot.domain.orders import OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolRules


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


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """Best bid/ask and last trade price of a symbol; any may be None on an empty market."""

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None


class Exchange(Protocol):
    """The exchange as the execution engine uses it. Every method may raise `ExchangePortError`."""

    async def sync_time(self) -> None:
        """Align request timestamps with the exchange clock."""

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
