"""MexcStreams: MEXC's websocket streams adapted to the `Exchange` port's account and price feeds.

The user data stream's pushes become the port's `OrderReport`, `TradeReport` and `BalanceReport`;
the market stream's trades and best prices become `PriceTick`s; every connection change becomes a
`StreamGap` / `StreamResumed` marker, so the engine knows when to reconcile over REST. A push the
port cannot express exactly (a stop-limit or OCO order, an unknown side) is logged and dropped: it
must not move an order's state, and reconciliation reads such orders over REST anyway.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from decimal import Decimal

from mexcbot.engine.ports import (
    AccountUpdate,
    BalanceReport,
    OrderReport,
    PriceTick,
    PriceUpdate,
    StreamGap,
    StreamResumed,
    TradeReport,
)
from mexcbot.mexc.streams import (
    BalanceUpdate,
    BookTickerUpdate,
    FillUpdate,
    ListenKeys,
    MarketStream,
    OrderUpdate,
    StreamConfig,
    StreamConnected,
    StreamDisconnected,
    StreamItem,
    Trades,
    UserDataStream,
    channels,
)

log = logging.getLogger(__name__)


def _at(ms: int) -> datetime:
    """Exchange milliseconds as UTC; a push without a time (proto3 zero) is stamped now."""
    if ms <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(ms / 1000, UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _marker(item: StreamItem) -> StreamGap | StreamResumed | None:
    if isinstance(item, StreamConnected):
        return StreamResumed(_now())
    if isinstance(item, StreamDisconnected):
        return StreamGap(item.reason, _now())
    return None


def order_report(update: OrderUpdate) -> OrderReport | None:
    """The push as the port's order report; None for an order the port cannot express."""
    side, order_type, time_in_force = update.side, update.order_type, update.time_in_force
    if side is None or order_type is None or time_in_force is None:
        log.info("order push for %s not expressible (side/type unknown): dropped", update.order_id)
        return None
    updated = _at(update.send_time or update.create_time)
    price, quantity = update.price, update.quantity  # "0" for a market order by quote amount
    return OrderReport(
        symbol=update.symbol,
        exchange_order_id=update.order_id,
        client_order_id=update.client_order_id,
        side=side,
        type=order_type,
        time_in_force=time_in_force,
        status=update.status,
        price=price if price else None,
        quantity=quantity if quantity else None,
        quote_amount=update.quote_amount,
        executed_qty=update.executed_qty,
        cumulative_quote_qty=update.cumulative_quote_qty,
        created_at=_at(update.created_at) if update.created_at else updated,
        updated_at=updated,
    )


def trade_report(update: FillUpdate) -> TradeReport:
    return TradeReport(
        symbol=update.symbol,
        trade_id=update.trade_id,
        exchange_order_id=update.order_id,
        price=update.price,
        qty=update.qty,
        quote_qty=update.quote_qty,
        commission=update.fee,
        commission_asset=update.fee_asset,
        is_maker=update.is_maker,
        at=_at(update.time),
        client_order_id=update.client_order_id,
    )


def balance_report(update: BalanceUpdate) -> BalanceReport:
    return BalanceReport(update.asset, update.free, update.locked, _at(update.time))


def account_update(item: StreamItem) -> AccountUpdate | None:
    """One user-stream item in port terms; None for what the engine does not need."""
    match item:
        case OrderUpdate():
            return order_report(item)
        case FillUpdate():
            return trade_report(item)
        case BalanceUpdate():
            return balance_report(item)
    return _marker(item)


def price_updates_of(item: StreamItem) -> list[PriceUpdate]:
    """One market-stream item in port terms (a trades push carries several trades: the last
    price is the newest one's)."""
    match item:
        case Trades():
            trades = item.trades
            if not trades:
                return []
            # The newest by time; of trades in the same millisecond the last pushed (max keeps
            # the first of equals, hence reversed).
            newest = max(reversed(trades), key=lambda trade: trade.time)
            volume = sum((trade.qty for trade in trades), Decimal(0))
            return [PriceTick(item.symbol, newest.price, None, None, _at(newest.time), volume)]
        case BookTickerUpdate():
            quote = item.quote
            at = _at(item.send_time or item.create_time)
            return [PriceTick(item.symbol, None, quote.bid_price, quote.ask_price, at)]
    marker = _marker(item)
    return [marker] if marker is not None else []


class MexcStreams:
    """Opens MEXC's streams on demand: each iterator owns its connection and closes it when the
    iteration ends (the consumer's task is cancelled or it breaks out)."""

    def __init__(self, listen_keys: ListenKeys, config: StreamConfig) -> None:
        self._listen_keys = listen_keys
        self._config = config

    @property
    def url(self) -> str:
        return self._config.url

    async def account_updates(self) -> AsyncIterator[AccountUpdate]:
        async with UserDataStream(self._listen_keys, self._config) as stream:
            async for item in stream:
                update = account_update(item)
                if update is not None:
                    yield update

    async def price_updates(self, symbols: Collection[str]) -> AsyncIterator[PriceUpdate]:
        async with MarketStream(self._config) as stream:
            subscriptions = [
                channel
                for symbol in sorted(set(symbols))
                for channel in (channels.trades(symbol), channels.book_ticker(symbol))
            ]
            await stream.subscribe(*subscriptions)
            async for item in stream:
                for update in price_updates_of(item):
                    yield update
