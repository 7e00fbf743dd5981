"""Placing through the OrderJournal: no connection held in flight, a racing change is merged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.domain.orders import (
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
)
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.ports import Acknowledgement
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import OrderJournal, UnitOfWork, create_engine
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan
from tests.fixtures.recorder import EventRecorder

LATENCY_MS = 300


@pytest.fixture
async def one_connection_engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool has a single connection and gives up waiting for it after 0.2 s."""
    engine = create_engine(migrated_database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    yield engine
    await engine.dispose()


async def place_one(service: ExecutionService) -> Order:
    return await service.place(
        PlaceOrder(
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=D("0.001"),
            price=D("30000"),
        )
    )


async def test_orders_in_flight_hold_no_pooled_connection(
    client: MexcClient, sim: SimServer, one_connection_engine: AsyncEngine
) -> None:
    journal = OrderJournal(one_connection_engine)
    service = ExecutionService(
        MexcExchange(client),
        lambda: UnitOfWork(one_connection_engine),
        events=EventBus(),
        writer=journal,
    )
    await service.refresh_rules(["BTCUSDT"])
    sim.faults.set(FaultPlan(latency_ms=LATENCY_MS, latency_paths=("/api/v3/order",)))
    try:
        started = time.perf_counter()
        placed = await asyncio.gather(*(place_one(service) for _ in range(5)))
        elapsed = time.perf_counter() - started
    finally:
        sim.faults.set(FaultPlan())
        await journal.close()
    assert [o.status for o in placed] == [OrderStatus.NEW] * 5
    assert elapsed < 5 * LATENCY_MS / 1000  # concurrently, not one after another
    async with UnitOfWork(one_connection_engine) as uow:
        stored = await uow.orders.list_open("BTCUSDT")
    assert len(stored) == 5


async def test_the_new_orders_subscribers_run_once_its_request_is_sent(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    steps: list[str] = []

    class RecordingExchange(MexcExchange):
        async def submit(self, request: OrderRequest) -> Acknowledgement:
            steps.append("submit")
            return await super().submit(request)

    events = EventBus()
    events.subscribe(OrderUpdated, lambda event: steps.append(event.kind.value))
    service = ExecutionService(RecordingExchange(client), uow_factory, events=events)
    await service.refresh_rules(["BTCUSDT"])
    order = await place_one(service)
    assert order.status is OrderStatus.NEW
    # the subscribers of the new order did not run between its durable intent and the send
    assert steps == ["submit", "created", "acknowledged"]


async def test_ack_merges_into_a_change_made_while_the_order_was_in_flight(
    service: ExecutionService,
    sim: SimServer,
    events: EventBus,
    recorder: EventRecorder,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    factory = uow_factory
    changed: list[asyncio.Task[None]] = []

    async def mark_unknown_meanwhile(client_order_id: str) -> None:
        async with factory() as uow:
            order = await uow.orders.get_by_client_id(client_order_id, for_update=True)
            assert order is not None
            order.mark_unknown("changed by another writer while in flight")
            await uow.commit()

    def on_update(event: OrderUpdated) -> None:
        if event.kind is OrderUpdateKind.CREATED:
            changed.append(asyncio.create_task(mark_unknown_meanwhile(event.order.client_order_id)))

    events.subscribe(OrderUpdated, on_update)
    sim.faults.set(FaultPlan(latency_ms=LATENCY_MS, latency_paths=("/api/v3/order",)))
    try:
        order = await place_one(service)
    finally:
        sim.faults.set(FaultPlan())
    await changed[0]  # it finished long before the delayed ack

    assert order.status is OrderStatus.NEW
    assert order.exchange_order_id
    assert order.unknown_reason == "changed by another writer while in flight"
    cid = order.client_order_id
    assert recorder.kinds(cid)[0] is OrderUpdateKind.CREATED
    assert recorder.kinds(cid)[-1] is OrderUpdateKind.ACKNOWLEDGED
    async with factory() as uow:
        stored = await uow.orders.get_by_client_id(cid)
    assert stored is not None
    assert stored.status is OrderStatus.NEW
    assert stored.exchange_order_id == order.exchange_order_id


async def test_same_idempotency_key_placed_concurrently_sends_one_order(
    service: ExecutionService, sim: SimServer, client: MexcClient
) -> None:
    sim.faults.set(FaultPlan(latency_ms=LATENCY_MS, latency_paths=("/api/v3/order",)))
    try:
        first, second = await asyncio.gather(
            *(
                service.place(
                    PlaceOrder(
                        symbol="BTCUSDT",
                        side=OrderSide.BUY,
                        type=OrderType.LIMIT,
                        quantity=D("0.001"),
                        price=D("30000"),
                        idempotency_key="rule:9:listing:BTCUSDT",
                    )
                )
                for _ in range(2)
            )
        )
    finally:
        sim.faults.set(FaultPlan())
    assert first.client_order_id == second.client_order_id
    on_exchange = await client.all_orders("BTCUSDT")
    assert [o.client_order_id for o in on_exchange] == [first.client_order_id]
    report = await service.reconcile()
    assert report.discrepancies == 0
