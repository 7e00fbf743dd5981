"""Exact decimals on both databases: what goes in comes out, digit for digit, no float noise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Context, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mexcbot.domain.orders import Order, OrderSide, OrderType
from mexcbot.store import DecimalOutOfRange, UnitOfWork

UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2025, 3, 1, tzinfo=UTC)
WIDE = Context(prec=80)  # the default 28-digit context would itself round
LARGEST = Decimal("99999999999999999999.999999999999999999")

positive_decimals = st.decimals(
    min_value=Decimal("0.000000000000000001"),
    max_value=LARGEST,
    places=18,
    allow_nan=False,
    allow_infinity=False,
)


async def round_trip(uow_factory: UowFactory, quantity: Decimal, price: Decimal) -> Order:
    order = Order.place(
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
        created_at=T0,
    )
    async with uow_factory() as uow:
        await uow.orders.add(order)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.orders.get_by_client_id(order.client_order_id)
    assert loaded is not None
    return loaded


@pytest.mark.parametrize(
    "value",
    [
        "0.000000000000000001",
        "12345678901234567890.123456789",
        "99999999999999999999.999999999999999999",
        "0.1",
        "0.3",
        "1E+3",
        "2.50000",
    ],
)
async def test_known_hard_values_round_trip_exactly(uow_factory: UowFactory, value: str) -> None:
    loaded = await round_trip(uow_factory, Decimal(value), Decimal(value))
    assert loaded.request.quantity == Decimal(value)
    # canonical form on both databases: no exponent, no trailing zeros
    assert loaded.request.price is not None
    assert format(loaded.request.price, "f") == format(Decimal(value).normalize(WIDE), "f")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(quantity=positive_decimals, price=positive_decimals)
async def test_any_decimal_in_range_round_trips(
    uow_factory: UowFactory, quantity: Decimal, price: Decimal
) -> None:
    loaded = await round_trip(uow_factory, quantity, price)
    assert loaded.request.quantity == quantity
    assert loaded.request.price == price
    assert loaded.request.quantity is not None
    assert format(loaded.request.quantity, "f") == format(quantity.normalize(WIDE), "f")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("0.0000000000000000001", "more than 18 decimal places"),
        ("100000000000000000000", "more than 20 integer digits"),
    ],
)
async def test_values_a_column_cannot_hold_exactly_are_refused(
    uow_factory: UowFactory, value: str, rule: str
) -> None:
    with pytest.raises(Exception, match=rule) as caught:
        await round_trip(uow_factory, Decimal(value), Decimal(1))
    assert isinstance(caught.value, DecimalOutOfRange) or isinstance(
        caught.value.__cause__, DecimalOutOfRange
    )
