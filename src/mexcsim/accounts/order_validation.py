"""Validation of a new order's parameters against the symbol's rules, the way MEXC checks them.

Only the checks that need nothing but the parameters, the symbol's rules and the last price live
here; balances, open-order count and client-id uniqueness are account state and are checked by the
exchange.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from mexcsim import errors
from mexcsim.decimals import fmt, written_decimals
from mexcsim.errors import SimError, illegal_param, missing_param
from mexcsim.market.symbols import (
    ALL_ORDER_TYPES,
    TRADE_SIDE_BUY_ONLY,
    TRADE_SIDE_CLOSED,
    TRADE_SIDE_SELL_ONLY,
    SymbolSpec,
)
from mexcsim.request_fields import optional_positive_decimal, optional_str, required_str

CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"})
BANDED_TYPES = frozenset({"LIMIT", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"})
"""The types PERCENT_PRICE_BY_SIDE applies to (not LIMIT_MAKER, not MARKET)."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A syntactically and rule-wise valid new order (not yet checked against balances)."""

    side: str
    order_type: str
    price: Decimal | None
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    client_order_id: str | None


def parse_client_order_id(params: Mapping[str, object], name: str) -> str | None:
    value = optional_str(params, name)
    if value is not None and not CLIENT_ORDER_ID.match(value):
        raise illegal_param(name, "must be 1-32 characters of A-Z, a-z, 0-9, '_' or '-'")
    return value


def parse_order_request(
    spec: SymbolSpec, params: Mapping[str, object], last_price: Decimal | None
) -> OrderRequest:
    """Check a new order as MEXC does; raises `SimError` naming the field and the rule broken."""
    side = required_str(params, "side").upper()
    if side not in ("BUY", "SELL"):
        raise illegal_param("side", "legal values are BUY, SELL")
    order_type = required_str(params, "type").upper()
    if order_type not in ALL_ORDER_TYPES:
        raise illegal_param("type", f"legal values are {', '.join(ALL_ORDER_TYPES)}")
    if order_type not in spec.order_types:
        if order_type == "MARKET":
            raise errors.api_market_order_disabled()
        raise SimError(
            errors.ORDER_TYPE_NOT_ALLOWED,
            f"order type {order_type} is not allowed on {spec.symbol}; allowed: "
            f"{', '.join(spec.order_types)}",
        )
    _check_trade_side(spec, side)
    client_order_id = parse_client_order_id(params, "newClientOrderId")
    quantity = optional_positive_decimal(params, "quantity")
    quote_qty = optional_positive_decimal(params, "quoteOrderQty")
    price = optional_positive_decimal(params, "price")

    if order_type in PRICED_TYPES:
        if quantity is None:
            raise missing_param("quantity")
        if price is None:
            raise missing_param("price")
        quote_qty = None
    else:
        price = None
        if quantity is None and quote_qty is None:
            raise missing_param("quantity")
        if quantity is not None:
            quote_qty = None
    if price is not None:
        _check_decimals("price", price, spec.quote_asset_precision)
        if order_type in BANDED_TYPES:
            _check_price_band(spec, side, price, last_price)
    if quantity is not None:
        _check_decimals("quantity", quantity, spec.base_asset_precision)
        if quantity < spec.base_size_precision:
            raise SimError(
                errors.BELOW_MIN_QUANTITY,
                f"quantity {fmt(quantity)} is below the minimum quantity "
                f"{fmt(spec.base_size_precision)} of {spec.symbol}",
            )
    if quote_qty is not None:
        _check_decimals("quoteOrderQty", quote_qty, spec.quote_asset_precision)
    _check_notional(spec, order_type, price, quantity, quote_qty, last_price)
    return OrderRequest(side, order_type, price, quantity, quote_qty, client_order_id)


def _check_trade_side(spec: SymbolSpec, side: str) -> None:
    allowed = {
        TRADE_SIDE_BUY_ONLY: ("BUY",),
        TRADE_SIDE_SELL_ONLY: ("SELL",),
        TRADE_SIDE_CLOSED: (),
    }.get(spec.trade_side_type, ("BUY", "SELL"))
    if side not in allowed:
        raise SimError(
            errors.TRADE_SIDE_NOT_ALLOWED,
            f"{side} orders are not allowed on {spec.symbol} "
            f"(tradeSideType {spec.trade_side_type})",
        )


def _check_decimals(name: str, value: Decimal, allowed: int) -> None:
    if written_decimals(value) > allowed:
        raise errors.scale_invalid(name)


def _check_price_band(
    spec: SymbolSpec, side: str, price: Decimal, last_price: Decimal | None
) -> None:
    if last_price is None:
        return
    if side == "BUY" and price > last_price * spec.bid_multiplier_up:
        bound = fmt(last_price * spec.bid_multiplier_up)
        raise SimError(
            errors.PRICE_OUT_OF_BAND,
            f"price {fmt(price)} is above the PERCENT_PRICE_BY_SIDE limit {bound} for buys",
        )
    if side == "SELL" and price < last_price * spec.ask_multiplier_down:
        bound = fmt(last_price * spec.ask_multiplier_down)
        raise SimError(
            errors.PRICE_OUT_OF_BAND,
            f"price {fmt(price)} is below the PERCENT_PRICE_BY_SIDE limit {bound} for sells",
        )


def _check_notional(
    spec: SymbolSpec,
    order_type: str,
    price: Decimal | None,
    quantity: Decimal | None,
    quote_qty: Decimal | None,
    last_price: Decimal | None,
) -> None:
    if order_type == "MARKET":
        minimum, maximum = spec.quote_amount_precision_market, spec.max_quote_amount_market
        if quote_qty is not None:
            notional: Decimal | None = quote_qty
        else:
            notional = quantity * last_price if quantity is not None and last_price else None
    else:
        minimum, maximum = spec.quote_amount_precision, spec.max_quote_amount
        notional = price * quantity if price is not None and quantity is not None else None
    if notional is None:
        return
    if notional < minimum:
        raise errors.below_min_notional(fmt(minimum), spec.quote_asset)
    if notional > maximum:
        raise errors.above_max_notional(fmt(maximum), spec.quote_asset)
