"""UnitOfWork: an order change and its side effects commit together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from mexcbot.domain.orders import Fill, Order, OrderSide, OrderStatus, OrderType
from mexcbot.store import UnitOfWork

UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2025, 3, 1, tzinfo=UTC)


class Crash(Exception):
    pass


def new_order() -> Order:
    return Order.place(
        symbol="MXUSDT",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(10),
        price=Decimal("2.5"),
        created_at=T0,
    )


def fill_of(order: Order, trade_id: str = "trade-1") -> Fill:
    return Fill(
        exchange_trade_id=trade_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        price=Decimal("2.5"),
        qty=Decimal(4),
        quote_qty=Decimal(10),
        commission=Decimal("0.01"),
        commission_asset="USDT",
        is_maker=False,
        time=T0,
    )


async def snapshot(uow_factory: UowFactory, order: Order) -> tuple[object, ...]:
    async with uow_factory() as uow:
        loaded = await uow.orders.get_by_client_id(order.client_order_id)
        fills = await uow.fills.list_for_order(order.client_order_id)
        audit = await uow.audit.recent()
    assert loaded is not None
    return loaded.status, loaded.executed_qty, len(fills), len(audit)


async def persisted(uow_factory: UowFactory) -> Order:
    order = new_order()
    async with uow_factory() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def apply_fill(uow: UnitOfWork, order: Order) -> None:
    loaded = await uow.orders.get_by_client_id(order.client_order_id, for_update=True)
    assert loaded is not None
    loaded.apply_exchange_update(OrderStatus.PARTIALLY_FILLED, Decimal(4), Decimal(10), T0)
    fill = fill_of(loaded)
    if await uow.fills.add_if_new(fill):
        loaded.record_fill(fill)
    await uow.audit.append(actor="system", action="order.fill", result="ok", target="x")


async def test_fill_order_and_audit_land_together(uow_factory: UowFactory) -> None:
    order = await persisted(uow_factory)
    async with uow_factory() as uow:
        await apply_fill(uow, order)
        await uow.commit()
    assert await snapshot(uow_factory, order) == (OrderStatus.PARTIALLY_FILLED, Decimal(4), 1, 1)


async def test_exception_mid_way_leaves_nothing(uow_factory: UowFactory) -> None:
    order = await persisted(uow_factory)

    async def crash_after_fill() -> None:
        async with uow_factory() as uow:
            await apply_fill(uow, order)
            raise Crash

    with pytest.raises(Crash):
        await crash_after_fill()
    assert await snapshot(uow_factory, order) == (OrderStatus.PENDING_NEW, Decimal(0), 0, 0)


async def test_leaving_without_commit_rolls_back(uow_factory: UowFactory) -> None:
    order = await persisted(uow_factory)
    async with uow_factory() as uow:
        await apply_fill(uow, order)
    assert await snapshot(uow_factory, order) == (OrderStatus.PENDING_NEW, Decimal(0), 0, 0)


async def test_database_error_mid_way_rolls_back_everything(uow_factory: UowFactory) -> None:
    order = await persisted(uow_factory)
    stranger = new_order()  # never stored: its fill breaks the foreign key

    async def fill_then_fail() -> None:
        async with uow_factory() as uow:
            await apply_fill(uow, order)
            await uow.fills.add_if_new(fill_of(stranger, "trade-2"))
            await uow.commit()

    with pytest.raises(IntegrityError):
        await fill_then_fail()
    assert await snapshot(uow_factory, order) == (OrderStatus.PENDING_NEW, Decimal(0), 0, 0)


async def test_work_after_a_commit_is_a_new_transaction(uow_factory: UowFactory) -> None:
    order = await persisted(uow_factory)
    async with uow_factory() as uow:
        loaded = await uow.orders.get_by_client_id(order.client_order_id)
        assert loaded is not None
        loaded.acknowledge("ex-1", T0)
        await uow.commit()
        await uow.audit.append(actor="system", action="discarded", result="ok")
    assert await snapshot(uow_factory, order) == (OrderStatus.NEW, Decimal(0), 0, 0)


async def test_a_unit_of_work_cannot_be_entered_twice(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    async with uow:
        with pytest.raises(RuntimeError, match="already in use"):
            await uow.__aenter__()
