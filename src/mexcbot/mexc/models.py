"""Typed results of the MEXC REST API: frozen dataclasses, Decimal for every price and amount.

Market values the engine shares (books, candles, tickers, balances) live in
``mexcbot.domain.market`` and are re-exported here.

Times are exchange milliseconds since the epoch (``int``), ids are strings (MEXC order ids look like
``C02__426060921085927424065``). Built only by ``mexcbot.mexc.wire``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mexcbot.domain.market import Balance, Kline, OrderBook, PriceLevel, PublicTrade, Ticker24h
from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.mexc.errors import MexcError


@dataclass(frozen=True, slots=True)
class OrderAck:
    """MEXC's answer to a placed order: an acknowledgement only, no status and no fills."""

    symbol: str
    order_id: str
    client_order_id: str | None
    price: Decimal | None
    orig_qty: Decimal | None
    type: OrderType
    side: OrderSide
    transact_time: int
    time_in_force: TimeInForce = TimeInForce.GTC


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as the exchange reports it (query, cancel, open/all orders)."""

    symbol: str
    order_id: str
    client_order_id: str | None
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal
    status: OrderStatus
    type: OrderType
    side: OrderSide
    time: int | None
    update_time: int | None
    orig_quote_order_qty: Decimal | None
    time_in_force: TimeInForce = TimeInForce.GTC


@dataclass(frozen=True, slots=True)
class ExchangeTrade:
    """One of the account's fills (myTrades)."""

    symbol: str
    trade_id: str
    order_id: str
    client_order_id: str | None
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass(frozen=True, slots=True)
class Account:
    can_trade: bool
    can_withdraw: bool
    can_deposit: bool
    account_type: str
    balances: tuple[Balance, ...]
    permissions: tuple[str, ...]
    update_time: int | None

    def balance(self, asset: str) -> Balance:
        """The balance of ``asset`` (zero when the account never held it)."""
        for entry in self.balances:
            if entry.asset == asset:
                return entry
        return Balance(asset, Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class NewOrder:
    """One order of a ``place_batch_orders`` call (the same inputs as ``place_order``)."""

    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.GTC
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOrderResult:
    """One item of a batchOrders answer: either ``order_id`` is set or ``error`` is."""

    client_order_id: str | None
    order_id: str | None
    error: MexcError | None


@dataclass(frozen=True, slots=True)
class AvgPrice:
    mins: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class TickerPrice:
    symbol: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class BookTicker:
    symbol: str
    bid_price: Decimal | None
    bid_qty: Decimal | None
    ask_price: Decimal | None
    ask_qty: Decimal | None


@dataclass(frozen=True, slots=True)
class TradeFee:
    maker_commission: Decimal
    taker_commission: Decimal


__all__ = [
    "Account",
    "AvgPrice",
    "Balance",
    "BatchOrderResult",
    "BookTicker",
    "ExchangeOrder",
    "ExchangeTrade",
    "Kline",
    "NewOrder",
    "OrderAck",
    "OrderBook",
    "PriceLevel",
    "PublicTrade",
    "Ticker24h",
    "TickerPrice",
    "TradeFee",
]
