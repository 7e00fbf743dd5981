"""Reconciliation: what a crash, another tool or the market changed is brought into the database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mexcbot.domain.orders import (
    NEVER_RECEIVED_CODE,
    Order,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
)
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import OrderUpdateKind
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork
from mexcsim import SimServer
from tests.fixtures.agreement import compare
from tests.fixtures.engine_timing import GRACE_S, client_config
from tests.fixtures.recorder import EventRecorder
from tests.fixtures.sim import sim_config

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def store_intent(
    uow_factory: Callable[[], UnitOfWork], *, age_s: float = 0.0, **fields: object
) -> Order:
    """Persist a PENDING_NEW order the way `place` does just before it sends (a crash point)."""
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": BUY,
        "type": OrderType.LIMIT,
        "quantity": D("0.001"),
        "price": D("30000"),
    }
    values.update(fields)
    order = Order.place(
        created_at=datetime.now(UTC) - timedelta(seconds=age_s),
        **values,  # type: ignore[arg-type]
    )
    async with uow_factory() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def place_limit_buy(service: ExecutionService, price: Decimal) -> Order:
    """A LIMIT BUY of 0.001 BTCUSDT at `price`, placed through `service`."""
    return await service.place(
        PlaceOrder(
            symbol="BTCUSDT", side=BUY, type=OrderType.LIMIT, quantity=D("0.001"), price=price
        )
    )


def new_service(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork], events: EventBus | None = None
) -> ExecutionService:
    return ExecutionService(
        MexcExchange(client),
        uow_factory,
        events=events or EventBus(),
        never_received_grace=GRACE_S,
        symbols=["BTCUSDT"],
    )


async def test_start_resolves_intents_left_by_a_crash(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork], events: EventBus
) -> None:
    recorder = EventRecorder(events)
    never_sent = await store_intent(uow_factory, age_s=5)
    young_never_sent = await store_intent(uow_factory, price=D("30001"))
    sent = await store_intent(uow_factory, price=D("30002"))
    filled = await store_intent(
        uow_factory, type=OrderType.MARKET, side=SELL, quantity=D("0.01"), price=None
    )
    for order in (sent, filled):  # the crash came after the bytes left, before the ack
        request = order.request
        await client.place_order(
            request.symbol,
            request.side,
            request.type,
            quantity=request.quantity,
            price=request.price,
            client_order_id=order.client_order_id,
        )
    service = new_service(client, uow_factory, events)
    assert not service.ready
    report = await service.start()
    assert service.ready
    assert report.rejected_never_received == 2
    assert report.resolved_unknown == 2
    assert report.unresolved == 0
    assert report.fills_recorded >= 1
    assert recorder.reconciliations[-1].report is report
    by_id = {o.client_order_id: o for o in (await service.list_orders(limit=10)).orders}
    assert by_id[never_sent.client_order_id].reject_code == NEVER_RECEIVED_CODE
    assert by_id[young_never_sent.client_order_id].status is OrderStatus.REJECTED
    assert by_id[sent.client_order_id].status is OrderStatus.NEW
    assert by_id[filled.client_order_id].status is OrderStatus.FILLED
    async with uow_factory() as uow:
        fills = await uow.fills.list_for_order(filled.client_order_id)
        audit = await uow.audit.recent(limit=50)
    assert sum(f.qty for f in fills) == D("0.01")
    assert {e.target for e in audit if e.action == "order.reconcile"} >= {
        never_sent.client_order_id,
        sent.client_order_id,
        filled.client_order_id,
    }
    assert (await compare(client, uow_factory, ["BTCUSDT"])).problems == []
    again = await service.reconcile()
    assert again.discrepancies == 0


async def test_external_orders_are_imported_once(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    resting = await client.place_order(
        "BTCUSDT", BUY, OrderType.LIMIT, quantity=D("0.002"), price=D("31000")
    )
    await client.place_order("BTCUSDT", SELL, OrderType.MARKET, quantity=D("0.003"))
    service = new_service(client, uow_factory)
    report = await service.start()
    assert report.imported_external == 2
    assert report.fills_recorded >= 1
    imported = await service.get("BTCUSDT", resting.order_id)
    assert imported.is_external
    assert imported.request.origin is OrderOrigin.EXTERNAL
    assert imported.status is OrderStatus.NEW
    assert (await compare(client, uow_factory, ["BTCUSDT"])).problems == []
    again = await service.reconcile()
    assert again.imported_external == 0
    assert again.discrepancies == 0
    canceled = await service.cancel("BTCUSDT", resting.order_id)
    assert canceled.status is OrderStatus.CANCELED


async def test_changes_made_behind_the_bots_back_are_corrected(
    service: ExecutionService,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    order = await place_limit_buy(service, D("30000"))
    await client.cancel_order("BTCUSDT", client_order_id=order.client_order_id)
    report = await service.reconcile()
    assert report.status_corrections == 1
    stored = await service.get("BTCUSDT", order.client_order_id, refresh=False)
    assert stored.status is OrderStatus.CANCELED
    assert (await compare(client, uow_factory, ["BTCUSDT"])).problems == []


async def test_a_resting_order_that_fills_gets_its_fills(
    service: ExecutionService,
    sim: SimServer,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    order = await place_limit_buy(service, D("64000"))
    sim.exchange.set_price("BTCUSDT", D("60000"))
    for _ in range(50):
        if (await client.get_order("BTCUSDT", order_id=order.exchange_order_id)).status in (
            OrderStatus.FILLED,
        ):
            break
        await asyncio.sleep(0.05)
    report = await service.reconcile()
    assert report.status_corrections == 1
    stored = await service.get("BTCUSDT", order.client_order_id, refresh=False)
    assert stored.status is OrderStatus.FILLED
    async with uow_factory() as uow:
        fills = await uow.fills.list_for_order(order.client_order_id)
    assert sum(f.qty for f in fills) == D("0.001")
    assert (await compare(client, uow_factory, ["BTCUSDT"])).problems == []


async def test_reconciliation_loop_runs_until_cancelled(
    service: ExecutionService, recorder: EventRecorder
) -> None:
    before = len(recorder.reconciliations)
    loop = asyncio.create_task(service.run_reconciliation_loop(0.05))
    await asyncio.sleep(0.3)
    loop.cancel()
    # Wait for the cancelled pass to roll back: a transaction left open on PostgreSQL held its
    # locks past this test, and the next test's TRUNCATE waited for them forever.
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    assert len(recorder.reconciliations) - before >= 2


class CountingExchange:
    """The real adapter, counting the calls the engine makes (to check the request budget)."""

    def __init__(self, inner: MexcExchange) -> None:
        self._inner = inner
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> object:
        method = getattr(self._inner, name)

        async def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await method(*args, **kwargs)

        return counted


async def test_open_orders_are_checked_with_one_listing_not_one_query_each(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    exchange = CountingExchange(MexcExchange(client))
    service = ExecutionService(exchange, uow_factory, events=EventBus())  # type: ignore[arg-type]
    for i in range(5):
        await place_limit_buy(service, D(30000 + i))
    filled_elsewhere = (await service.open_orders("BTCUSDT"))[0]
    await client.cancel_order("BTCUSDT", client_order_id=filled_elsewhere.client_order_id)
    exchange.calls.clear()
    report = await service.reconcile()
    assert report.orders_checked == 5
    assert report.status_corrections == 1
    assert exchange.calls.get("query", 0) == 1  # only the order that left the open list
    # one listing for BTCUSDT, one for each symbol the account scan asked (the bot's own buys
    # lock USDT, which points at the other USDT markets; BTCUSDT is not asked twice)
    assert report.account_scan is not None
    assert "BTCUSDT" not in report.account_scan.symbols
    assert exchange.calls["open_orders"] == 1 + len(report.account_scan.symbols)


async def test_an_order_the_exchange_forgot_becomes_lost_not_new_forever(
    sim: SimServer, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    """The paper exchange's state is gone (a reset, a lost file): the same account on a fresh
    exchange no longer knows an acknowledged order. Reconciliation marks it LOST, once."""
    service = new_service(client, uow_factory)
    await service.start()
    placed = await place_limit_buy(service, D("30000"))
    assert placed.status is OrderStatus.NEW
    async with SimServer(sim_config()) as fresh, MexcClient(client_config(fresh.url)) as forgetful:
        recorder = EventRecorder(events := EventBus())
        after_reset = new_service(forgetful, uow_factory, events)
        report = await after_reset.start()
        assert report.lost_on_exchange == 1
        stored = await after_reset.get("BTCUSDT", placed.client_order_id)
        assert stored.status is OrderStatus.LOST
        assert stored.is_terminal
        assert await after_reset.count_lost() == 1
        assert recorder.kinds(placed.client_order_id) == [OrderUpdateKind.LOST]
        again = await after_reset.reconcile()
        assert again.lost_on_exchange == 0
        assert again.discrepancies == 0
