"""Builders shared by the position tests: a symbol's rules, a position, fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from mexcbot.domain.orders import OrderSide, OrderType
from mexcbot.domain.positions import Position, PositionFill, PositionType
from mexcbot.domain.symbols import SymbolRules, SymbolStatus

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RULES = SymbolRules(
    symbol="METALUSDT",
    base_asset="METAL",
    quote_asset="USDT",
    status=SymbolStatus.ONLINE,
    spot_trading_allowed=True,
    quantity_precision=2,
    price_precision=4,
    min_quantity=D("0.1"),
    min_notional=D("1"),
    max_notional=None,
    min_notional_market=D("5"),
    max_notional_market=None,
    order_types=frozenset({OrderType.LIMIT, OrderType.MARKET}),
)
_trade_ids = count(1)


def position() -> Position:
    return Position(
        symbol="METALUSDT",
        base_asset="METAL",
        quote_asset="USDT",
        type=PositionType.MANUAL,
        opened_at=T0,
        id=7,
    )


def fill(
    side: OrderSide,
    price: str | Decimal,
    quantity: str | Decimal,
    *,
    fee: str | Decimal = "0",
    fee_asset: str = "USDT",
    order: str = "mxb-order",
) -> PositionFill:
    n = next(_trade_ids)
    return PositionFill(
        client_order_id=order,
        exchange_trade_id=f"t{n}",
        side=side,
        price=D(price),
        quantity=D(quantity),
        commission=D(fee),
        commission_asset=fee_asset,
        time=T0 + timedelta(seconds=n),
    )
