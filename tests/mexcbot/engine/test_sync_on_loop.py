"""OrderSync.apply through the loop writer (FillWriter.merge): the same rows, events and refusals
as through a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.domain.orders import Order, OrderStatus, TimeInForce
from mexcbot.engine.bus import EventBus
from mexcbot.engine.orders.sync import OrderSync
from mexcbot.engine.ports import Exchange, OrderReport, TradeReport
from mexcbot.store import UnitOfWork
from mexcbot.store.fill_writer import FillWriter
from tests.fixtures.orders import T0, make_order
from tests.fixtures.recorder import EventRecorder

SQLITE = pytest.mark.parametrize("database_backend", ["sqlite"])
NO_EXCHANGE = cast(Exchange, None)  # apply never asks the exchange


async def stored(uow_factory: Callable[[], UnitOfWork], exchange_id: str) -> Order:
    order = make_order(quantity=Decimal("0.0003"))
    order.acknowledge(exchange_id, T0)
    async with uow_factory() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


def filled(order: Order) -> tuple[OrderReport, TradeReport]:
    assert order.exchange_order_id is not None
    report = OrderReport(
        symbol=order.symbol,
        exchange_order_id=order.exchange_order_id,
        client_order_id=order.client_order_id,
        side=order.request.side,
        type=order.request.type,
        time_in_force=TimeInForce.GTC,
        status=OrderStatus.FILLED,
        price=order.request.price,
        quantity=order.request.quantity,
        quote_amount=None,
        executed_qty=Decimal("0.0003"),
        cumulative_quote_qty=Decimal("19.237035"),
        created_at=T0,
        updated_at=T0 + timedelta(seconds=1),
    )
    trade = TradeReport(
        symbol=order.symbol,
        trade_id="t-" + order.exchange_order_id,
        exchange_order_id=order.exchange_order_id,
        price=Decimal("64123.45"),
        qty=Decimal("0.0003"),
        quote_qty=Decimal("19.237035"),
        commission=Decimal("0.0000003"),
        commission_asset="BTC",
        is_maker=False,
        at=T0 + timedelta(seconds=1),
    )
    return report, trade


async def rows(engine: AsyncEngine, table: str, key: str) -> list[dict[str, Any]]:
    """Rows as stored, without what differs between two orders by construction."""
    skip = {"id", "updated_at", "time", "client_order_id", "exchange_order_id", "target", key}
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")
        return [{k: v for k, v in r.items() if k not in skip} for r in result.mappings().all()]


@SQLITE
async def test_a_report_merged_on_the_loop_writes_what_a_unit_of_work_writes(
    engine: AsyncEngine, uow_factory: Callable[[], UnitOfWork]
) -> None:
    on_loop_events, uow_events = EventBus(), EventBus()
    on_loop_seen, uow_seen = EventRecorder(on_loop_events), EventRecorder(uow_events)
    writer = FillWriter(engine)
    try:
        opened: list[UnitOfWork] = []

        def counted() -> UnitOfWork:
            opened.append(uow_factory())
            return opened[-1]

        on_loop = OrderSync(NO_EXCHANGE, counted, on_loop_events, fill_writer=writer)
        through_uow = OrderSync(NO_EXCHANGE, uow_factory, uow_events)
        first, second = await stored(uow_factory, "ex-1"), await stored(uow_factory, "ex-2")
        report_1, trade_1 = filled(first)
        report_2, trade_2 = filled(second)

        done = await on_loop.apply(first.client_order_id, report_1, [trade_1], action="order.x")
        same = await through_uow.apply(
            second.client_order_id, report_2, [trade_2], action="order.x"
        )
        again = await on_loop.apply(first.client_order_id, report_1, [trade_1], action="order.x")
    finally:
        writer.close()

    assert writer.busy_fallbacks == 0
    assert opened == []  # both applies ran on the loop, no unit of work
    assert (done.changed, done.previous_status, done.contradiction) == (True, "NEW", None)
    assert (same.changed, same.previous_status, same.contradiction) == (True, "NEW", None)
    assert done.order.status is OrderStatus.FILLED
    assert [fill.exchange_trade_id for fill in done.new_fills] == ["t-ex-1"]
    assert not again.changed
    assert not again.new_fills
    async with uow_factory() as uow:
        loaded = await uow.orders.get_by_client_id(first.client_order_id)
        assert loaded is not None
        assert uow.orders.version_of(loaded) == 2
    orders = await rows(engine, "orders", "created_at")
    assert orders[0] == orders[1]
    fills = await rows(engine, "fills", "exchange_trade_id")
    assert len(fills) == 2
    assert fills[0] == fills[1]
    audit = await rows(engine, "audit_log", "detail")
    assert len(audit) == 2
    assert audit[0] == audit[1]
    for seen in (on_loop_seen, uow_seen):
        assert [u.order.status for u in seen.updates] == [OrderStatus.FILLED]
        assert [f.fill.qty for f in seen.fills] == [Decimal("0.0003")]


@SQLITE
async def test_a_report_that_contradicts_a_rejected_order_is_not_written(
    engine: AsyncEngine, uow_factory: Callable[[], UnitOfWork]
) -> None:
    events = EventBus()
    seen = EventRecorder(events)
    order = make_order(quantity=Decimal("0.0003"))
    order.reject(-2010, "insufficient balance")
    async with uow_factory() as uow:
        await uow.orders.add(order)
        await uow.commit()
    writer = FillWriter(engine)
    try:
        sync = OrderSync(NO_EXCHANGE, uow_factory, events, fill_writer=writer)
        pushed = make_order(quantity=Decimal("0.0003"))
        pushed.acknowledge("ex-9", T0)
        report, trade = filled(pushed)
        outcome = await sync.apply(order.client_order_id, report, [trade], action="order.x")
    finally:
        writer.close()

    assert outcome.contradiction is not None
    assert "REJECTED" in outcome.contradiction
    assert not outcome.new_fills
    assert seen.updates == []
    assert seen.fills == []
    async with uow_factory() as uow:
        loaded = await uow.orders.get_by_client_id(order.client_order_id)
        assert loaded is not None
        assert loaded.status is OrderStatus.REJECTED
        assert await uow.fills.list_for_order(order.client_order_id) == []
        assert await uow.audit.recent() == []
