"""SymbolRules: quantization and the order checks, including property tests for rounding."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mexcbot.domain.orders import OrderSide, OrderType, TimeInForce
from mexcbot.domain.symbols import OrderRuleViolation, SymbolRules, SymbolStatus, TradeSideType

D = Decimal
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
    max_notional=D("2000"),
    min_notional_market=D("5"),
    max_notional_market=D("1000"),
    order_types=frozenset({OrderType.LIMIT, OrderType.MARKET}),
    bid_multiplier_up=D("5"),
    ask_multiplier_down=D("0.2"),
)

amounts = st.decimals(min_value=D("0.000001"), max_value=D("1000000"), places=8)


@settings(max_examples=200)
@given(amounts)
def test_quantity_quantization_is_down_idempotent_and_precise(quantity: Decimal) -> None:
    quantized = RULES.quantize_quantity(quantity)
    assert quantized <= quantity
    assert quantity - quantized < RULES.quantity_step
    assert RULES.quantize_quantity(quantized) == quantized
    assert -quantized.as_tuple().exponent <= RULES.quantity_precision  # type: ignore[operator]


@settings(max_examples=200)
@given(amounts, st.sampled_from([OrderSide.BUY, OrderSide.SELL]))
def test_price_quantization_rounds_in_the_sides_favour(price: Decimal, side: OrderSide) -> None:
    quantized = RULES.quantize_price(price, side)
    if side is OrderSide.BUY:
        assert quantized <= price
    else:
        assert quantized >= price
    assert abs(price - quantized) < RULES.price_step
    assert RULES.quantize_price(quantized, side) == quantized
    assert -quantized.as_tuple().exponent <= RULES.price_precision  # type: ignore[operator]


@settings(max_examples=200)
@given(amounts, st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4))
def test_quantity_for_quote_never_overspends(quote: Decimal, price: Decimal) -> None:
    quantity = RULES.quantity_for_quote(quote, price)
    assert quantity * price <= quote
    assert (quantity + RULES.quantity_step) * price > quote
    assert RULES.quantize_quantity(quantity) == quantity


def test_explicit_rounding_wins() -> None:
    assert RULES.quantize_price(D("1.00005"), OrderSide.BUY, rounding=ROUND_HALF_UP) == D("1.0001")
    assert RULES.quantize_price(D("1.00005")) == D("1.0000")  # half-even without a side


def test_valid_limit_order_passes() -> None:
    RULES.validate(OrderSide.BUY, OrderType.LIMIT, quantity=D("10"), price=D("1.5"))
    RULES.validate(
        OrderSide.SELL,
        OrderType.LIMIT,
        TimeInForce.IOC,
        quantity=D("1"),
        price=D("1"),
        last_price=D("2"),
    )


def test_valid_market_orders_pass() -> None:
    RULES.validate(OrderSide.BUY, OrderType.MARKET, quote_order_qty=D("10"))
    RULES.validate(OrderSide.SELL, OrderType.MARKET, quantity=D("10"), last_price=D("1"))


def _violation(rules: SymbolRules = RULES, **order: object) -> OrderRuleViolation:
    side = order.pop("side", OrderSide.BUY)
    order_type = order.pop("order_type", OrderType.LIMIT)
    with pytest.raises(OrderRuleViolation) as info:
        rules.validate(side, order_type, **order)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize(
    ("order", "field", "rule"),
    [
        ({"quantity": D("1.001"), "price": D("2")}, "quantity", "quantity_precision"),
        ({"quantity": D("10"), "price": D("1.00001")}, "price", "price_precision"),
        ({"quantity": D("0.05"), "price": D("100")}, "quantity", "min_quantity"),
        ({"quantity": D("0.5"), "price": D("1")}, "quantity", "min_notional"),
        ({"quantity": D("3000"), "price": D("1")}, "quantity", "max_notional"),
        ({"quantity": D("1"), "price": D("0")}, "price", "positive"),
        ({"quantity": D("-1"), "price": D("1")}, "quantity", "positive"),
        ({"quantity": D("1")}, "price", "required"),
        ({"price": D("1")}, "quantity", "required"),
        (
            {"order_type": OrderType.LIMIT_MAKER, "quantity": D("1"), "price": D("1")},
            "order_type",
            "allowed_order_types",
        ),
        (
            {"quantity": D("10"), "price": D("11"), "last_price": D("2")},
            "price",
            "percent_price_by_side",
        ),
        (
            {"side": OrderSide.SELL, "quantity": D("10"), "price": D("0.3"), "last_price": D("2")},
            "price",
            "percent_price_by_side",
        ),
        (
            {"order_type": OrderType.MARKET, "quote_order_qty": D("4")},
            "quote_order_qty",
            "min_notional_market",
        ),
        (
            {"order_type": OrderType.MARKET, "quote_order_qty": D("1001")},
            "quote_order_qty",
            "max_notional_market",
        ),
        (
            {"order_type": OrderType.MARKET, "quantity": D("1"), "quote_order_qty": D("10")},
            "quantity",
            "exactly_one_amount",
        ),
        (
            {"order_type": OrderType.MARKET, "quantity": D("1"), "last_price": D("1")},
            "quantity",
            "min_notional_market",
        ),
        (
            {"order_type": OrderType.MARKET, "quantity": D("10"), "price": D("1")},
            "price",
            "market_without_price",
        ),
        (
            {
                "order_type": OrderType.MARKET,
                "quote_order_qty": D("10"),
                "time_in_force": TimeInForce.IOC,
            },
            "time_in_force",
            "market_gtc_only",
        ),
    ],
)
def test_violations_name_field_and_rule(order: dict[str, object], field: str, rule: str) -> None:
    error = _violation(**order)
    assert (error.field, error.rule) == (field, rule)
    assert field in str(error)
    assert rule in str(error)
    assert "METALUSDT" in str(error)


@pytest.mark.parametrize(
    ("changes", "side", "field", "rule"),
    [
        ({"status": SymbolStatus.PAUSED}, OrderSide.BUY, "symbol", "tradable"),
        ({"spot_trading_allowed": False}, OrderSide.BUY, "symbol", "tradable"),
        ({"trade_side_type": TradeSideType.SELL_ONLY}, OrderSide.BUY, "side", "trade_side_type"),
        ({"trade_side_type": TradeSideType.BUY_ONLY}, OrderSide.SELL, "side", "trade_side_type"),
        ({"trade_side_type": TradeSideType.CLOSED}, OrderSide.SELL, "side", "trade_side_type"),
    ],
)
def test_market_state_violations(
    changes: dict[str, object], side: OrderSide, field: str, rule: str
) -> None:
    rules = replace(RULES, **changes)  # type: ignore[arg-type]
    error = _violation(rules, side=side, quantity=D("10"), price=D("1"))
    assert (error.field, error.rule) == (field, rule)
    assert not rules.is_tradable or field == "side"


def test_quantity_for_quote_rejects_non_positive_price() -> None:
    with pytest.raises(OrderRuleViolation) as info:
        RULES.quantity_for_quote(D("10"), D("0"))
    assert info.value.field == "price"
