"""OrderRepository and FillRepository on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from mexcbot.domain.orders import (
    Order,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from mexcbot.store import ConcurrentOrderUpdate, DuplicateClientOrderId, UnitOfWork
from tests.fixtures.orders import T0, make_fill, make_order

UowFactory = Callable[[], UnitOfWork]


async def store(uow_factory: UowFactory, *orders: Order) -> None:
    async with uow_factory() as uow:
        for order in orders:
            await uow.orders.add(order)
        await uow.commit()


async def test_order_round_trips_every_field(uow_factory: UowFactory) -> None:
    order = make_order(time_in_force=TimeInForce.GTC, origin=OrderOrigin.RULE, origin_ref="rule:12")
    await store(uow_factory, order)
    async with uow_factory() as uow:
        loaded = await uow.orders.get_by_client_id(order.client_order_id, for_update=True)
        assert loaded is not None
        assert loaded.request == order.request
        assert loaded.created_at == T0
        assert loaded.status is OrderStatus.PENDING_NEW
        loaded.acknowledge("C02__426060921085927424065", T0 + timedelta(seconds=1))
        loaded.apply_exchange_update(
            OrderStatus.PARTIALLY_FILLED,
            Decimal("0.0001"),
            Decimal("6.412345"),
            T0 + timedelta(seconds=2),
        )
        loaded.record_fill(make_fill(loaded, "t1"))
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.orders.get_by_exchange_id("C02__426060921085927424065")
        assert again is not None
        assert again.status is OrderStatus.PARTIALLY_FILLED
        assert again.executed_qty == Decimal("0.0001")
        assert again.cumulative_quote_qty == Decimal("6.412345")
        assert again.avg_price == Decimal("64123.45")
        assert again.fees == {"BTC": Decimal("0.0000001")}
        assert again.exchange_created_at == T0 + timedelta(seconds=1)
        assert again.exchange_updated_at == T0 + timedelta(seconds=2)
        assert again.exchange_updated_at.tzinfo is not None


async def test_rejected_and_external_orders_round_trip(uow_factory: UowFactory) -> None:
    rejected = make_order()
    rejected.reject(30004, "Insufficient position")
    external = Order.import_external(
        symbol="MXUSDT",
        side=OrderSide.SELL,
        type=OrderType.MARKET,
        exchange_order_id="ex-77",
        client_order_id=None,
        quantity=None,
        quote_amount=Decimal(20),
        price=None,
        created_at=T0,
    )
    await store(uow_factory, rejected, external)
    async with uow_factory() as uow:
        r = await uow.orders.get_by_client_id(rejected.client_order_id)
        e = await uow.orders.get_by_exchange_id("ex-77", symbol="MXUSDT")
        assert r is not None
        assert (r.status, r.reject_code, r.reject_message) == (
            OrderStatus.REJECTED,
            30004,
            "Insufficient position",
        )
        assert e is not None
        assert e.is_external
        assert e.request.quote_amount == Decimal(20)
        assert await uow.orders.get_by_exchange_id("ex-77", symbol="BTCUSDT") is None


async def test_client_order_id_is_unique_and_the_transaction_survives(
    uow_factory: UowFactory,
) -> None:
    first = make_order(idempotency_key="rule:1:listing:ABCUSDT")
    await store(uow_factory, first)
    async with uow_factory() as uow:
        with pytest.raises(DuplicateClientOrderId, match=first.client_order_id):
            await uow.orders.add(make_order(idempotency_key="rule:1:listing:ABCUSDT"))
        other = make_order()
        await uow.orders.add(other)  # the transaction is still usable
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.orders.get_by_client_id(other.client_order_id) is not None


async def test_fills_are_idempotent_per_trade_id(uow_factory: UowFactory) -> None:
    order = make_order()
    await store(uow_factory, order)
    async with uow_factory() as uow:
        assert await uow.fills.add_if_new(make_fill(order, "t1")) is True
        assert await uow.fills.add_if_new(make_fill(order, "t1")) is False
        assert await uow.fills.add_if_new(make_fill(order, "t2", qty="0.00002345")) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.fills.add_if_new(make_fill(order, "t2")) is False
        fills = await uow.fills.list_for_order(order.client_order_id)
        await uow.commit()
    assert [f.exchange_trade_id for f in fills] == ["t1", "t2"]
    assert fills[1] == make_fill(order, "t2", qty="0.00002345")


async def test_same_trade_id_on_another_symbol_is_a_different_fill(
    uow_factory: UowFactory,
) -> None:
    btc, eth = make_order("BTCUSDT"), make_order("ETHUSDT")
    await store(uow_factory, btc, eth)
    async with uow_factory() as uow:
        assert await uow.fills.add_if_new(make_fill(btc, "100"))
        assert await uow.fills.add_if_new(make_fill(eth, "100"))
        await uow.commit()


async def test_queries_by_status_and_symbol(uow_factory: UowFactory) -> None:
    pending = make_order("BTCUSDT", 0)
    new = make_order("BTCUSDT", 1)
    new.acknowledge("e1", T0)
    partial = make_order("ETHUSDT", 2)
    partial.acknowledge("e2", T0)
    partial.apply_exchange_update(OrderStatus.PARTIALLY_FILLED, Decimal("0.0001"), Decimal(6), T0)
    unknown = make_order("BTCUSDT", 3)
    unknown.mark_unknown("timeout")
    filled = make_order("BTCUSDT", 4)
    filled.apply_exchange_update(OrderStatus.FILLED, Decimal("0.00012345"), Decimal(8), T0)
    await store(uow_factory, pending, new, partial, unknown, filled)

    def ids(orders: list[Order]) -> set[str]:
        return {o.client_order_id for o in orders}

    async with uow_factory() as uow:
        assert ids(await uow.orders.list_non_terminal()) == ids([pending, new, partial, unknown])
        assert ids(await uow.orders.list_open()) == ids([new, partial])
        assert ids(await uow.orders.list_open("BTCUSDT")) == ids([new])
        page = await uow.orders.list(status={OrderStatus.FILLED, OrderStatus.UNKNOWN})
        assert ids(page.orders) == ids([unknown, filled])
        page = await uow.orders.list(symbol="ETHUSDT")
        assert ids(page.orders) == ids([partial])
        page = await uow.orders.list(since=T0 + timedelta(minutes=3))
        assert ids(page.orders) == ids([unknown, filled])
        assert page.next_cursor is None


async def test_history_and_cursor_paging_walk_every_order_once(uow_factory: UowFactory) -> None:
    orders = [make_order("BTCUSDT", minutes=i) for i in range(7)]
    await store(uow_factory, *orders, make_order("ETHUSDT", minutes=99))
    newest_first = [o.client_order_id for o in reversed(orders)]
    async with uow_factory() as uow:
        history = await uow.orders.history("BTCUSDT", limit=3, offset=0)
        assert [o.client_order_id for o in history] == newest_first[:3]
        history = await uow.orders.history("BTCUSDT", limit=3, offset=6)
        assert [o.client_order_id for o in history] == newest_first[6:]

        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await uow.orders.list(symbol="BTCUSDT", limit=3, cursor=cursor)
            seen += [o.client_order_id for o in page.orders]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == newest_first
        with pytest.raises(ValueError, match="cursor"):
            await uow.orders.list(cursor="not-a-cursor")
        with pytest.raises(ValueError, match="limit"):
            await uow.orders.history("BTCUSDT", limit=0)


async def test_a_second_load_in_one_unit_of_work_returns_the_same_object(
    uow_factory: UowFactory,
) -> None:
    order = make_order()
    await store(uow_factory, order)
    async with uow_factory() as uow:
        a = await uow.orders.get_by_client_id(order.client_order_id)
        a_open = await uow.orders.list_non_terminal()
        assert a is not None
        assert a_open == [a]


async def test_a_concurrent_change_is_detected_not_overwritten(
    migrated_database_url: str, uow_factory: UowFactory
) -> None:
    order = make_order()
    await store(uow_factory, order)
    slow = uow_factory()
    async with slow:
        stale = await slow.orders.get_by_client_id(order.client_order_id)
        assert stale is not None
        await slow.commit()  # ends the read transaction, keeps tracking the loaded version
        async with uow_factory() as fast:
            fresh = await fast.orders.get_by_client_id(order.client_order_id)
            assert fresh is not None
            fresh.acknowledge("e1", T0)
            await fast.commit()
        stale.reject(1, "never received")
        with pytest.raises(ConcurrentOrderUpdate):
            await slow.commit()
    async with uow_factory() as uow:
        final = await uow.orders.get_by_client_id(order.client_order_id)
        assert final is not None
        assert final.status is OrderStatus.NEW
