"""Submits with an unknown outcome: the simulator fails the way MEXC does; nothing is lost.

After each scenario the database and the exchange agree order by order and no client order id
was placed twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from mexcbot.domain.orders import (
    NEVER_RECEIVED_CODE,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
)
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import OrderNeverReceived
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.models import ExchangeOrder
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan, OrderFault
from tests.fixtures.agreement import compare
from tests.fixtures.engine_timing import GRACE_S, RESOLVE_DELAYS, client_config
from tests.fixtures.recorder import EventRecorder

D = Decimal
ORDER_PATH = "/api/v3/order"


async def place_limit(service: ExecutionService, price: str = "30000") -> Order:
    return await service.place(
        PlaceOrder(
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=D("0.001"),
            price=D(price),
        )
    )


@dataclass
class Books:
    """The exchange (through the test's client) and the store, to be checked against each other."""

    client: MexcClient
    uow_factory: Callable[[], UnitOfWork]

    async def exchange_orders(self, symbol: str = "BTCUSDT") -> list[ExchangeOrder]:
        return await self.client.all_orders(symbol)

    async def assert_agree(self, symbol: str = "BTCUSDT") -> None:
        """The store and the exchange agree order by order on `symbol` (see `compare`)."""
        result = await compare(self.client, self.uow_factory, [symbol])
        assert result.problems == []

    async def assert_one_order_and_agree(self) -> None:
        """The exchange holds exactly one BTCUSDT order, and the store agrees with it."""
        assert len(await self.exchange_orders()) == 1
        await self.assert_agree()


@pytest.fixture
def books(client: MexcClient, uow_factory: Callable[[], UnitOfWork]) -> Books:
    return Books(client, uow_factory)


async def test_5xx_before_acceptance_becomes_rejected_never_received(
    service: ExecutionService, sim: SimServer, recorder: EventRecorder, books: Books
) -> None:
    sim.faults.set(FaultPlan(order_fault=OrderFault.ERROR_BEFORE))
    with pytest.raises(OrderNeverReceived) as failure:
        await place_limit(service)
    order = failure.value.order
    assert order.status is OrderStatus.REJECTED
    assert order.reject_code == NEVER_RECEIVED_CODE
    assert recorder.kinds(order.client_order_id) == [
        OrderUpdateKind.CREATED,
        OrderUpdateKind.UNKNOWN,
        OrderUpdateKind.REJECTED,
    ]
    assert await books.exchange_orders() == []
    await books.assert_agree()


@pytest.mark.parametrize("fault", [OrderFault.ERROR_AFTER, OrderFault.DROP_AFTER])
async def test_accepted_then_failed_response_is_resolved_by_query(
    fault: OrderFault,
    service: ExecutionService,
    sim: SimServer,
    recorder: EventRecorder,
    books: Books,
) -> None:
    sim.faults.set(FaultPlan(order_fault=fault))
    order = await place_limit(service)
    assert order.status is OrderStatus.NEW
    assert order.exchange_order_id
    assert order.unknown_reason  # it went through UNKNOWN
    assert OrderUpdateKind.UNKNOWN in recorder.kinds(order.client_order_id)
    on_exchange = await books.exchange_orders()
    assert [o.client_order_id for o in on_exchange] == [order.client_order_id]
    await books.assert_agree()


async def test_market_order_accepted_then_5xx_records_its_fills(
    service: ExecutionService, sim: SimServer, uow_factory: Callable[[], UnitOfWork], books: Books
) -> None:
    sim.faults.set(FaultPlan(order_fault=OrderFault.ERROR_AFTER, error_status=502))
    order = await service.place(
        PlaceOrder(symbol="ETHUSDT", side=OrderSide.SELL, type=OrderType.MARKET, quantity=D("0.25"))
    )
    assert order.status is OrderStatus.FILLED
    assert order.executed_qty == D("0.25")
    async with uow_factory() as uow:
        fills = await uow.fills.list_for_order(order.client_order_id)
    assert sum(f.qty for f in fills) == D("0.25")
    await books.assert_agree("ETHUSDT")


async def test_latency_past_the_client_timeout_resolves_once_the_exchange_answers(
    service: ExecutionService, sim: SimServer, events: EventBus, books: Books
) -> None:
    """The POST times out (the order exists: latency is added after processing); as soon as the
    order is UNKNOWN the exchange recovers, and the first resolution query finds the order."""
    sim.faults.set(FaultPlan(latency_ms=800, latency_paths=(ORDER_PATH,)))

    def recover(event: OrderUpdated) -> None:
        if event.kind is OrderUpdateKind.UNKNOWN:
            sim.faults.clear()

    events.subscribe(OrderUpdated, recover)
    order = await place_limit(service)
    assert getattr(order, "status", None) is OrderStatus.NEW
    await books.assert_one_order_and_agree()


@pytest.fixture
async def impatient_client(sim: SimServer) -> AsyncIterator[MexcClient]:
    async with MexcClient(client_config(sim.url, read_retries=0, timeout_s=0.3)) as mexc:
        yield mexc


async def test_unresolvable_unknown_stays_unknown_until_reconciliation(
    sim: SimServer,
    impatient_client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    books: Books,
) -> None:
    """The exchange stays slow for submit AND queries: place returns the order UNKNOWN (never
    re-sent, never guessed); the next reconciliation resolves it."""
    service = ExecutionService(
        MexcExchange(impatient_client),
        uow_factory,
        events=EventBus(),
        resolve_delays=RESOLVE_DELAYS[:2],
        never_received_grace=GRACE_S,
    )
    sim.faults.set(FaultPlan(latency_ms=600, latency_paths=(ORDER_PATH,)))
    order = await place_limit(service)
    assert getattr(order, "status", None) is OrderStatus.UNKNOWN
    sim.faults.clear()
    report = await service.reconcile()
    assert report.resolved_unknown == 1
    assert report.unresolved == 0
    stored = await service.get("BTCUSDT", getattr(order, "client_order_id", ""), refresh=False)
    assert stored.status is OrderStatus.NEW
    await books.assert_one_order_and_agree()


async def test_429_burst_is_retried_with_the_same_client_order_id(
    service: ExecutionService, sim: SimServer, books: Books
) -> None:
    sim.faults.set(FaultPlan(rate_limit_burst=1))
    order = await place_limit(service)
    assert getattr(order, "status", None) is OrderStatus.NEW
    await books.assert_one_order_and_agree()


async def test_429_that_persists_rejects_with_the_code(
    client: MexcClient, sim: SimServer, uow_factory: Callable[[], UnitOfWork], books: Books
) -> None:
    from mexcbot.engine.errors import OrderRejectedByExchange

    service = ExecutionService(
        MexcExchange(client), uow_factory, events=EventBus(), throttle_retries=0
    )
    await service.refresh_rules(["BTCUSDT"])
    sim.faults.set(FaultPlan(rate_limit_burst=1))
    with pytest.raises(OrderRejectedByExchange) as error:
        await place_limit(service)
    assert error.value.order.status is OrderStatus.REJECTED
    assert error.value.code == 429
    await books.assert_agree()


async def test_many_faulty_submits_leave_no_duplicates(
    service: ExecutionService, sim: SimServer, books: Books
) -> None:
    faults = [OrderFault.ERROR_BEFORE, OrderFault.ERROR_AFTER, OrderFault.DROP_AFTER]
    for i in range(9):
        sim.faults.set(FaultPlan(order_fault=faults[i % 3]))
        if faults[i % 3] is OrderFault.ERROR_BEFORE:
            with pytest.raises(OrderNeverReceived):
                await place_limit(service, price=str(30000 + i))
        else:
            await place_limit(service, price=str(30000 + i))
    sim.faults.clear()
    report = await service.reconcile()
    assert report.discrepancies == 0
    assert len(await books.exchange_orders()) == 6
    await books.assert_agree()


async def test_a_caller_cancelled_mid_submit_leaves_a_recorded_order(
    service: ExecutionService, sim: SimServer, recorder: EventRecorder, books: Books
) -> None:
    """An API request dropped while its submit is in flight: the placement still finishes and
    records the exchange's answer (the submit runs shielded from the caller's cancellation)."""
    sim.faults.set(FaultPlan(latency_ms=200, latency_paths=(ORDER_PATH,)))
    caller = asyncio.create_task(place_limit(service))
    await asyncio.sleep(0.1)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    for _ in range(50):
        if any(u.kind is OrderUpdateKind.ACKNOWLEDGED for u in recorder.updates):
            break
        await asyncio.sleep(0.02)
    assert await service.open_orders("BTCUSDT") != []
    await books.assert_one_order_and_agree()
