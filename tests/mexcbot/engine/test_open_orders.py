"""Reads served from what the engine keeps (open orders in memory, balances from the user stream)
match the exchange after fills, and cost the exchange and the database nothing per read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mexcbot.domain.market import Balance
from mexcbot.domain.orders import Order, OrderSide, OrderStatus, OrderType
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind, ReconciliationFinished
from mexcbot.engine.market import MarketData
from mexcbot.engine.orders.open_orders import OpenOrders
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.store import OrderJournal, UnitOfWork
from mexcbot.store.orders import OrderRepository
from mexcsim import SimServer
from tests.mexcbot.engine.test_account_feed import (
    QTY,
    SYMBOL,
    Bot,
    connected_and_reconciled,
    eventually,
    place_resting_buy,
    quiet_sim,
    reconciliations,
    running_bot,
    sell_to,
)

__all__ = ["quiet_sim", "reconciliations"]  # fixtures


async def _exchange_view(bot: Bot) -> list[tuple[str | None, OrderStatus | None, str]]:
    reports = await bot.exchange.open_orders(SYMBOL)
    return sorted((r.client_order_id, r.status, str(r.executed_qty)) for r in reports)


async def _served_view(bot: Bot) -> list[tuple[str | None, OrderStatus | None, str]]:
    orders = await bot.service.open_orders(SYMBOL)
    return sorted((o.client_order_id, o.status, str(o.executed_qty)) for o in orders)


def _holdings(balances: list[Balance]) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in balances if b.free or b.locked}


async def test_reads_served_from_stream_state_match_the_exchange_after_fills(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    journal: OrderJournal,
    events: EventBus,
    reconciliations: list[ReconciliationFinished],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_bot(quiet_sim, uow_factory, journal, events) as bot:
        # built before the user stream connects, as app.py does, so its balance book sees it
        market = MarketData(bot.exchange, SymbolCatalog(bot.exchange), PriceBook(bot.exchange))
        market.follow(events)
        await connected_and_reconciled(bot, reconciliations)
        await market.balances()  # the one REST snapshot; the user stream keeps it from here
        first, price = await place_resting_buy(bot.service, qty=2 * QTY)
        await place_resting_buy(bot.service)
        database_reads = 0
        original = OrderRepository.list_open

        async def counted(self: OrderRepository, symbol: str | None = None) -> list[Order]:
            nonlocal database_reads
            database_reads += 1
            return await original(self, symbol)

        monkeypatch.setattr(OrderRepository, "list_open", counted)
        before = len(bot.requests)
        sell_to(quiet_sim, price)  # half of the first order: PARTIALLY_FILLED

        async def partly_filled() -> bool:
            served = await _served_view(bot)
            return (first.client_order_id, OrderStatus.PARTIALLY_FILLED, str(QTY)) in served

        await eventually(partly_filled)
        assert await _served_view(bot) == await _exchange_view(bot)
        sell_to(quiet_sim, price)  # the rest: FILLED, no longer open
        sell_to(quiet_sim, price)  # and the second order, at the same price

        async def both_filled() -> bool:
            return await bot.service.open_orders(SYMBOL) == []

        await eventually(both_filled)
        assert await _exchange_view(bot) == []
        assert [r for r in bot.requests[before:] if r == "GET /api/v3/openOrders"] == [
            "GET /api/v3/openOrders",
            "GET /api/v3/openOrders",
        ]  # the two comparisons' own, none for the reads
        assert database_reads == 0  # every read above came from memory

        async def balances_agree() -> bool:
            served = await market.balances()
            return _holdings(served.value) == _holdings(await bot.exchange.balances())

        await eventually(balances_agree)
        before = len(bot.requests)
        for _ in range(20):
            await market.balances()
        assert "GET /api/v3/account" not in bot.requests[before:]  # the stream's book answered


async def test_a_late_event_never_reopens_a_final_order(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    journal: OrderJournal,
    events: EventBus,
    reconciliations: list[ReconciliationFinished],
) -> None:
    async with running_bot(quiet_sim, uow_factory, journal, events) as bot:
        await connected_and_reconciled(bot, reconciliations)
        order, _ = await place_resting_buy(bot.service)
        acknowledged = await bot.service.get(SYMBOL, order.client_order_id, refresh=False)
        await bot.service.cancel(SYMBOL, order.client_order_id)
        assert await bot.service.open_orders(SYMBOL) == []
        events.publish(OrderUpdated(acknowledged, OrderUpdateKind.ACKNOWLEDGED))  # delivered late
        assert await bot.service.open_orders(SYMBOL) == []
        await bot.service.reconcile()  # and the reload agrees with the database
        assert await bot.service.open_orders(SYMBOL) == []


async def test_the_view_lists_an_order_as_stored_and_keeps_its_own_copy(
    uow_factory: Callable[[], UnitOfWork], events: EventBus
) -> None:
    view = OpenOrders(uow_factory, events)
    await view.load()
    order = Order.place(
        symbol=SYMBOL,
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        created_at=datetime.now(UTC),
        quantity=Decimal("0.001000"),  # as the symbol's rounding leaves them
        price=Decimal("30000.00"),
    )
    order.acknowledge("42", datetime.now(UTC))
    events.publish(OrderUpdated(order, OrderUpdateKind.ACKNOWLEDGED))
    order.fees["USDT"] = Decimal("0.5")  # the publisher's object changes again
    order.exchange_updated_at = datetime.now(UTC)
    [listed] = view.of(SYMBOL)
    assert listed is not order
    assert (str(listed.request.quantity), str(listed.request.price)) == ("0.001", "30000")
    assert listed.fees == {}
    assert listed.exchange_updated_at is None
    assert listed.status is OrderStatus.NEW
    assert listed.exchange_order_id == "42"
    assert view.of(SYMBOL) == [listed]  # the same copy on the next read
