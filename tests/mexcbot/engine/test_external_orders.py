"""Orders placed outside the bot, on any symbol, are adopted as external (issue 16).

The orders are placed by hand through MEXC's REST API (`MexcClient` on the sim account), on
symbols the bot never traded and was never told about (no `symbols=`): only the account scan
(locked balances -> symbols) can find them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal

from mexcbot.domain.orders import OrderOrigin, OrderSide, OrderStatus, OrderType
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import OrderNotFound
from mexcbot.engine.events import FillRecorded
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan
from tests.fixtures.engine_timing import GRACE_S

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SCAN_GAP_S = 1.05  # account scans closer together than 1 s are skipped (2 account calls/s)


def plain_service(
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    events: EventBus | None = None,
    **options: int,
) -> ExecutionService:
    """A service told about no symbol at all."""
    return ExecutionService(
        MexcExchange(client),
        uow_factory,
        events=events or EventBus(),
        never_received_grace=GRACE_S,
        **options,  # type: ignore[arg-type]
    )


async def test_orders_placed_by_hand_before_start_are_adopted_on_any_symbol(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    sell = await client.place_order(
        "ETHUSDT",
        SELL,
        OrderType.LIMIT,
        quantity=D("0.5"),
        price=D("9000"),
        client_order_id="byhand1",
    )
    buy = await client.place_order(
        "KASUSDT", BUY, OrderType.LIMIT, quantity=D("100"), price=D("0.05")
    )
    service = plain_service(client, uow_factory)
    report = await service.start()
    assert report.imported_external == 2
    assert report.account_scan is not None
    assert {"ETHUSDT", "KASUSDT"} <= set(report.account_scan.symbols)
    assert set(report.account_scan.locked_assets) == {"ETH", "USDT"}
    adopted = await service.get("ETHUSDT", "byhand1")
    assert adopted.is_external
    assert adopted.request.origin is OrderOrigin.EXTERNAL
    assert adopted.status is OrderStatus.NEW
    assert adopted.exchange_order_id == sell.order_id
    by_exchange_id = await service.get("KASUSDT", buy.order_id)
    assert by_exchange_id.is_external
    assert by_exchange_id.status is OrderStatus.NEW
    assert await service.count_open_external() == 2
    assert service.last_account_scan is report.account_scan


async def test_an_order_placed_while_running_appears_within_one_interval(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    interval = 1.2
    service = plain_service(client, uow_factory)
    await service.start()
    loop = asyncio.create_task(service.run_reconciliation_loop(interval))
    try:
        placed = await client.place_order(
            "MXUSDT", SELL, OrderType.LIMIT, quantity=D("10"), price=D("9.5")
        )
        placed_at = asyncio.get_running_loop().time()
        while True:
            try:
                adopted = await service.get("MXUSDT", placed.order_id, refresh=False)
                break
            except OrderNotFound:
                elapsed = asyncio.get_running_loop().time() - placed_at
                assert elapsed < interval + 1.0, "not adopted within one reconciliation interval"
                await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop  # its pass rolls back before the next test's cleanup
    assert adopted.is_external
    assert adopted.status is OrderStatus.NEW


async def test_fills_of_an_external_order_are_recorded_once(
    sim: SimServer, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    events = EventBus()
    fills_published: list[FillRecorded] = []
    events.subscribe(FillRecorded, fills_published.append)
    placed = await client.place_order(
        "ETHUSDT", BUY, OrderType.LIMIT, quantity=D("0.2"), price=D("3100")
    )
    service = plain_service(client, uow_factory, events)
    await service.start()
    adopted = await service.get("ETHUSDT", placed.order_id, refresh=False)
    assert adopted.status is OrderStatus.NEW
    sim.exchange.set_price("ETHUSDT", D("3000"))
    for _ in range(100):
        if (await client.get_order("ETHUSDT", order_id=placed.order_id)).status is (
            OrderStatus.FILLED
        ):
            break
        await asyncio.sleep(0.05)
    first = await service.reconcile()
    await asyncio.sleep(SCAN_GAP_S)  # the second pass scans the account again too
    second = await service.reconcile()
    assert first.fills_recorded >= 1
    assert second.fills_recorded == 0
    assert second.discrepancies == 0
    stored = await service.get("ETHUSDT", placed.order_id, refresh=False)
    assert stored.status is OrderStatus.FILLED
    assert stored.is_external
    async with uow_factory() as uow:
        fills = await uow.fills.list_for_order(stored.client_order_id)
    exchange_trades = await client.my_trades("ETHUSDT", order_id=placed.order_id)
    assert sorted(f.exchange_trade_id for f in fills) == sorted(t.trade_id for t in exchange_trades)
    assert sum(f.qty for f in fills) == D("0.2")
    assert len(fills_published) == len(fills)
    assert await service.count_open_external() == 0


async def test_the_bot_never_cancels_or_changes_an_adopted_order(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    placed = await client.place_order(
        "PEPEUSDT", SELL, OrderType.LIMIT, quantity=D("1000000"), price=D("0.001")
    )
    service = plain_service(client, uow_factory)
    await service.start()
    for _ in range(2):
        await asyncio.sleep(SCAN_GAP_S)
        await service.reconcile()
    on_exchange = await client.get_order("PEPEUSDT", order_id=placed.order_id)
    assert on_exchange.status is OrderStatus.NEW
    assert on_exchange.executed_qty == 0
    stored = await service.get("PEPEUSDT", placed.order_id)
    assert stored.status is OrderStatus.NEW
    assert stored.is_external
    # only a user's request cancels it
    canceled = await service.cancel("PEPEUSDT", placed.order_id)
    assert canceled.status is OrderStatus.CANCELED


async def test_the_scan_asks_at_most_the_bound_and_rotates_through_the_rest(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    """Five buys lock USDT (every sim market is quoted in USDT) and one sell locks METAL: with a
    bound of 2 symbols a pass, the METAL sell is found first and the buys over the next passes."""
    buys = {
        symbol: await client.place_order(symbol, BUY, OrderType.LIMIT, quantity=qty, price=price)
        for symbol, qty, price in (
            ("BTCUSDT", D("0.001"), D("30000")),
            ("ETHUSDT", D("0.01"), D("1000")),
            ("MXUSDT", D("10"), D("1")),
            ("KASUSDT", D("100"), D("0.05")),
            ("PEPEUSDT", D("1000000"), D("0.000005")),
        )
    }
    sell = await client.place_order(
        "METALUSDT", SELL, OrderType.LIMIT, quantity=D("10"), price=D("5")
    )
    service = plain_service(client, uow_factory, account_scan_symbols=2)
    first = await service.start()
    assert first.account_scan is not None
    assert first.account_scan.candidates == 6
    assert first.account_scan.truncated
    assert len(first.account_scan.symbols) == 2
    assert first.account_scan.symbols[0] == "METALUSDT"  # its base asset is locked: a sell
    assert (await service.get("METALUSDT", sell.order_id, refresh=False)).is_external
    passes = 1
    while await service.count_open_external() < 6:
        assert passes < 6, "the rotation did not reach every candidate"
        await asyncio.sleep(SCAN_GAP_S)
        report = await service.reconcile()
        assert report.account_scan is not None
        assert len(report.account_scan.symbols) <= 2
        passes += 1
    for symbol, ack in buys.items():
        assert (await service.get(symbol, ack.order_id, refresh=False)).is_external


async def test_a_failed_account_scan_is_counted_and_the_next_pass_adopts(
    sim: SimServer, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    service = plain_service(client, uow_factory)
    await service.start()
    scanned_before = service.last_account_scan
    assert scanned_before is not None
    placed = await client.place_order(
        "ETHUSDT", SELL, OrderType.LIMIT, quantity=D("0.5"), price=D("9000")
    )
    await asyncio.sleep(SCAN_GAP_S)
    sim.faults.set(FaultPlan(read_error_count=3))  # the account read fails, retries included
    failed = await service.reconcile()
    sim.faults.set(FaultPlan())
    assert failed.errors >= 1
    assert failed.account_scan is None
    assert failed.imported_external == 0
    assert service.last_account_scan is scanned_before  # the status keeps the last good scan
    await asyncio.sleep(SCAN_GAP_S)
    recovered = await service.reconcile()
    assert recovered.imported_external == 1
    assert (await service.get("ETHUSDT", placed.order_id, refresh=False)).is_external
