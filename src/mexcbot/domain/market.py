"""Market and account values the engine and its callers read: order books, candles, tickers,
public trades and balances. Frozen, Decimal for every price and amount; exchange times are
milliseconds since the epoch (``int``).

The MEXC adapter builds these from MEXC's answers (and later from its streams); the engine serves
them to the API, so no caller needs to know the exchange's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class PriceLevel:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    last_update_id: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class PublicTrade:
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    is_buyer_maker: bool
    trade_id: str | None


@dataclass(frozen=True, slots=True)
class Kline:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int
    quote_volume: Decimal


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """24 h statistics; any figure MEXC sends as null or "" is ``None``."""

    symbol: str
    price_change: Decimal | None
    price_change_percent: Decimal | None
    prev_close_price: Decimal | None
    last_price: Decimal | None
    bid_price: Decimal | None
    bid_qty: Decimal | None
    ask_price: Decimal | None
    ask_qty: Decimal | None
    open_price: Decimal | None
    high_price: Decimal | None
    low_price: Decimal | None
    volume: Decimal | None
    quote_volume: Decimal | None
    open_time: int | None
    close_time: int | None
    count: int | None
    prices_as_of: datetime | None = None
    """When last/bid/ask were true, where they are newer than the statistics (overlaid from the
    market stream); None when every figure is from the same snapshot."""


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal
