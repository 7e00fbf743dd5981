"""Positions and exits on the real client against the simulator: each exit fires exactly once,
the kill switch blocks entries while exits still sell, and a restart re-arms from the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import pytest

from mexcbot.domain.exit_decisions import decide
from mexcbot.domain.exits import ExitPlan, StopLoss, TakeProfitLevel, TrailingStop
from mexcbot.domain.orders import (
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    client_order_id_for,
)
from mexcbot.domain.positions import Position, PositionStatus
from mexcbot.domain.risk import LossWindow, RiskLimits, TradingState
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import RiskRejected
from mexcbot.engine.events import PositionChangeKind, PriceChanged
from mexcbot.engine.market import MarketData
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.book import PositionBook
from mexcbot.engine.positions.exits import ExitMonitor, Quote
from mexcbot.engine.positions.trading import PositionService
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork
from mexcsim import SimServer
from tests.fixtures.engine_timing import GRACE_S, RESOLVE_DELAYS

D = Decimal
SYMBOL = "ETHUSDT"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Desk:
    execution: ExecutionService
    book: PositionBook
    monitor: ExitMonitor
    positions: PositionService
    risk: RiskLimitsPolicy


async def build_desk(
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    events: EventBus,
    clock: Callable[[], datetime] = now,
    monotonic: Callable[[], float] | None = None,
) -> Desk:
    exchange = MexcExchange(client)
    execution = ExecutionService(
        exchange,
        uow_factory,
        events=events,
        resolve_delays=RESOLVE_DELAYS,
        never_received_grace=GRACE_S,
    )
    risk = (
        RiskLimitsPolicy(uow_factory, events, execution.prices, clock)
        if monotonic is None
        else RiskLimitsPolicy(uow_factory, events, execution.prices, clock, monotonic)
    )
    execution._placement._risk = risk
    await execution.start()
    await risk.load()
    book = PositionBook(uow_factory, events, execution.catalog, execution.prices, clock)
    risk.watch(book)
    monitor = ExitMonitor(
        book,
        execution,
        events=events,
        prices=execution.prices,
        catalog=execution.catalog,
        risk=risk,
        clock=clock,
    )
    await monitor.rearm()
    return Desk(
        execution,
        book,
        monitor,
        PositionService(book, monitor, execution, uow_factory, risk),
        risk,
    )


@pytest.fixture
async def desk(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork], events: EventBus
) -> AsyncIterator[Desk]:
    return await build_desk(client, uow_factory, events)


class NewDesk(Protocol):
    """Builds another desk over the test's exchange client and store: the process after a
    restart. It shares the test's event bus unless given one."""

    async def __call__(
        self,
        *,
        events: EventBus | None = None,
        clock: Callable[[], datetime] = now,
        monotonic: Callable[[], float] | None = None,
    ) -> Desk: ...


@pytest.fixture
def new_desk(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork], events: EventBus
) -> NewDesk:
    shared = events

    async def build(
        *,
        events: EventBus | None = None,
        clock: Callable[[], datetime] = now,
        monotonic: Callable[[], float] | None = None,
    ) -> Desk:
        bus = shared if events is None else events
        return await build_desk(client, uow_factory, bus, clock, monotonic)

    return build


async def tick(desk: Desk, sim: SimServer, price: str) -> list[OrderStatus]:
    sim.exchange.set_price(SYMBOL, D(price))
    placed = await desk.monitor.evaluate(SYMBOL, Quote(D(price), D(price), D(price), "test"))
    return [order.status for order in placed]


async def exit_orders(uow_factory: Callable[[], UnitOfWork], pid: int) -> list[str]:
    async with uow_factory() as uow:
        page = await uow.orders.list(symbol=SYMBOL, limit=100)
    return sorted(
        o.client_order_id
        for o in page.orders
        if o.request.origin is OrderOrigin.POSITION_EXIT
        and o.request.origin_ref == f"position:{pid}"
    )


STOP = ExitPlan(stop_loss=StopLoss(price=D("3000")))


async def open_with_a_stop(desk: Desk, sim: SimServer) -> Position:
    """A 100 USDT market buy at 3200 with the stop loss at 3000: below it, one exit sells all."""
    sim.exchange.set_price(SYMBOL, D("3200"))
    position, _ = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("100"), exits=STOP)
    return position


async def open_stored_with_a_stop(desk: Desk, sim: SimServer) -> tuple[Position, int]:
    """`open_with_a_stop`, and the id the store gave the position (asserted present)."""
    position = await open_with_a_stop(desk, sim)
    pid = position.id
    assert pid is not None
    return position, pid


PLAN = ExitPlan(
    stop_loss=StopLoss(percent=D("10")),
    trailing=TrailingStop(callback_percent=D("5"), activation_percent=D("15")),
    take_profits=(
        TakeProfitLevel(fraction=D("0.3"), percent=D("5")),
        TakeProfitLevel(fraction=D("0.3"), percent=D("10")),
    ),
)


async def test_ladder_then_trailing_each_fire_once_and_the_position_closes(
    desk: Desk, sim: SimServer, uow_factory: Callable[[], UnitOfWork]
) -> None:
    sim.exchange.set_price(SYMBOL, D("3200"))
    position, entry = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("320"), exits=PLAN)
    assert entry.status is OrderStatus.FILLED
    assert position.quantity > 0
    assert position.stop_price is not None
    entry_price = position.average_entry
    assert entry_price is not None
    pid = position.id
    assert pid is not None
    level1 = str((entry_price * D("1.06")).quantize(D("0.01")))
    assert await tick(desk, sim, level1) == [OrderStatus.FILLED]
    assert await tick(desk, sim, level1) == []  # the same price again: nothing more to sell
    assert position.take_profits_done == 1
    level2 = str((entry_price * D("1.11")).quantize(D("0.01")))
    assert await tick(desk, sim, level2) == [OrderStatus.FILLED]
    assert position.take_profits_done == 2
    peak = (entry_price * D("1.30")).quantize(D("0.01"))
    assert await tick(desk, sim, str(peak)) == []
    assert position.stop_price == (peak * D("0.95")).quantize(D("1e-18"))
    assert await tick(desk, sim, str((peak * D("0.94")).quantize(D("0.01")))) == [
        OrderStatus.FILLED
    ]
    assert position.status is PositionStatus.CLOSED
    assert position.realised_pnl > 0
    assert len(await exit_orders(uow_factory, pid)) == 3
    assert await tick(desk, sim, "1000") == []  # closed: the stop cannot sell again
    summary = await desk.positions.summary()
    assert (summary.closed, summary.wins) == (1, 1)
    assert summary.realised_pnl == position.realised_pnl


async def test_kill_switch_blocks_an_entry_while_the_stop_still_sells(
    desk: Desk, sim: SimServer, uow_factory: Callable[[], UnitOfWork]
) -> None:
    position = await open_with_a_stop(desk, sim)
    await desk.risk.change(actor="admin", state=TradingState.REDUCING, reason="test")
    with pytest.raises(RiskRejected, match="REDUCING"):
        await desk.positions.open_with_buy(SYMBOL, quote_amount=D("100"))
    assert await tick(desk, sim, "2990") == [OrderStatus.FILLED]
    assert position.status is PositionStatus.CLOSED
    assert position.realised_pnl < 0


async def test_limits_refuse_entries_naming_the_limit(desk: Desk, sim: SimServer) -> None:
    limits = RiskLimits(max_position_quote=D("50"), max_open_positions=1)
    await desk.risk.change(actor="admin", limits=limits)
    with pytest.raises(RiskRejected, match="max_position_quote"):
        await desk.positions.open_with_buy(SYMBOL, quote_amount=D("100"))
    first, _ = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("40"))
    assert first.quantity > 0
    with pytest.raises(RiskRejected, match="max_open_positions"):
        await desk.positions.open_with_buy(SYMBOL, quote_amount=D("40"))
    assert [p.id for p in desk.positions.open_positions()] == [first.id]


async def test_an_exit_in_flight_at_a_crash_is_resolved_by_its_id_not_sent_again(
    desk: Desk, sim: SimServer, uow_factory: Callable[[], UnitOfWork], new_desk: NewDesk
) -> None:
    position, pid = await open_stored_with_a_stop(desk, sim)
    # the decision is persisted and sent, then the process dies before it learns the outcome
    sim.exchange.set_price(SYMBOL, D("2990"))
    position.observe(D("2990"))
    decision = decide(position, D("2990"), await desk.execution.catalog.get(SYMBOL))
    assert decision is not None
    key = decision.idempotency_key(pid)
    position.begin_exit(decision, client_order_id_for(key))
    async with desk.book.lock:
        await desk.book.persist(position, PositionChangeKind.EXIT_PLACED)
    await desk.execution.place(
        PlaceOrder(
            symbol=SYMBOL,
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            quantity=decision.quantity,
            origin=OrderOrigin.POSITION_EXIT,
            origin_ref=f"position:{pid}",
            idempotency_key=key,
        )
    )
    restarted = await new_desk(events=EventBus())
    async with uow_factory() as uow:
        stored = await uow.positions.get(pid)
    assert stored is not None
    assert stored.status is PositionStatus.CLOSED
    assert await tick(restarted, sim, "2900") == []
    assert len(await exit_orders(uow_factory, pid)) == 1


async def test_a_burst_of_stream_prices_sells_once_at_the_newest_price(
    desk: Desk, sim: SimServer, events: EventBus, uow_factory: Callable[[], UnitOfWork]
) -> None:
    position, pid = await open_stored_with_a_stop(desk, sim)
    worker = asyncio.create_task(desk.monitor.run())
    try:
        sim.exchange.set_price(SYMBOL, D("2990"))
        for n in range(50):  # a backlog of ticks, the same stop hit again and again
            price = D("2990") - n
            events.publish(PriceChanged(SYMBOL, price, price, price + 1, now()))
        for _ in range(200):
            if position.status is PositionStatus.CLOSED:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker  # its pass rolls back before the next test's cleanup
    assert position.status is PositionStatus.CLOSED
    assert desk.monitor.quotes[SYMBOL].source == "stream"
    assert len(await exit_orders(uow_factory, pid)) == 1


async def test_quiet_ticks_keep_the_excursions_for_readers_and_across_a_restart(
    desk: Desk, sim: SimServer, new_desk: NewDesk
) -> None:
    _, pid = await open_stored_with_a_stop(desk, sim)
    for price in ("3210", "3350", "3100", "3250"):  # inside (stop, no target): all quiet
        assert await tick(desk, sim, price) == []
    read = await desk.positions.get(pid)
    assert (read.peak_price, read.trough_price) == (D("3350"), D("3100"))
    assert await tick(desk, sim, "3400") == []
    assert await desk.book.flush_excursions() == 1
    assert await desk.book.flush_excursions() == 0  # nothing new since
    restarted = await new_desk()
    again = restarted.book.cached(pid)
    assert again is not None
    assert (again.peak_price, again.trough_price) == (D("3400"), D("3100"))


async def test_the_daily_loss_is_rebuilt_after_a_restart_in_its_window(
    desk: Desk, sim: SimServer, new_desk: NewDesk
) -> None:
    position = await open_with_a_stop(desk, sim)
    assert await tick(desk, sim, "2900") == [OrderStatus.FILLED]
    loss = position.realised_pnl
    assert loss < 0
    restarted = await new_desk()
    assert restarted.risk.exposure().pnl_today == loss  # earlier runs today count
    await restarted.risk.change(actor="admin", limits=RiskLimits(daily_loss_limit=-loss / 2))
    with pytest.raises(RiskRejected, match="daily_loss_limit"):  # before the switch moved
        await restarted.positions.open_with_buy(SYMBOL, quote_amount=D("50"))
    assert await restarted.risk.check_daily_loss()
    assert restarted.risk.state is TradingState.REDUCING
    # just after the next 00:00 UTC: the UTC day starts afresh, the last 24 h still hold it
    start = now()
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    shift = midnight + timedelta(seconds=5) - start
    tomorrow = await new_desk(clock=lambda: now() + shift)
    assert tomorrow.risk.exposure().pnl_today == 0
    await tomorrow.risk.change(
        actor="admin",
        state=TradingState.ACTIVE,
        limits=RiskLimits(daily_loss_limit=-loss / 2, daily_loss_window=LossWindow.ROLLING_24H),
    )
    assert tomorrow.risk.exposure().pnl_today == loss


async def test_a_stop_loss_streak_cools_entries_down_and_the_rate_limit_counts_entries(
    sim: SimServer, new_desk: NewDesk
) -> None:
    desk = await new_desk(monotonic=lambda: 100.0)
    sim.exchange.set_price(SYMBOL, D("3200"))
    await desk.risk.change(actor="admin", limits=RiskLimits(stop_loss_streak=1))
    position, _ = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("100"), exits=STOP)
    assert await tick(desk, sim, "2900") == [OrderStatus.FILLED]  # the exit is never blocked
    assert position.status is PositionStatus.CLOSED
    with pytest.raises(RiskRejected, match="stop_loss_streak"):
        await desk.positions.open_with_buy(SYMBOL, quote_amount=D("100"))
    # the time stands still: two entries pass in that second, the third is refused
    sim.exchange.set_price(SYMBOL, D("3200"))
    await desk.risk.change(actor="admin", limits=RiskLimits(max_orders_per_second=2))
    held = []
    for _ in range(2):
        opened, _ = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("50"), exits=STOP)
        held.append(opened)
    with pytest.raises(RiskRejected, match="max_orders_per_second"):
        await desk.positions.open_with_buy(SYMBOL, quote_amount=D("50"))
    assert await tick(desk, sim, "2900") == [OrderStatus.FILLED] * 2  # exits are not counted


async def test_a_confirmed_stop_ignores_a_wick_and_sells_on_the_nth_tick_in_a_row(
    desk: Desk, sim: SimServer, uow_factory: Callable[[], UnitOfWork]
) -> None:
    sim.exchange.set_price(SYMBOL, D("3200"))
    plan = ExitPlan(stop_loss=StopLoss(price=D("3000")), stop_confirm_ticks=2)
    position, _ = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("100"), exits=plan)
    assert position.id is not None
    assert await tick(desk, sim, "3100") == []
    assert await tick(desk, sim, "2990") == []  # one tick below: not confirmed
    assert await tick(desk, sim, "3100") == []  # back above: the count starts again
    assert await tick(desk, sim, "2990") == []
    assert await tick(desk, sim, "2980") == [OrderStatus.FILLED]
    assert position.status is PositionStatus.CLOSED
    assert len(await exit_orders(uow_factory, position.id)) == 1


async def test_an_entry_needs_the_minimum_24h_volume(
    client: MexcClient, desk: Desk, sim: SimServer
) -> None:
    desk.risk.watch_volume(
        MarketData(MexcExchange(client), desk.execution.catalog, desk.execution.prices)
    )
    sim.exchange.set_price(SYMBOL, D("3200"))
    await desk.risk.change(actor="admin", limits=RiskLimits(min_volume_24h_quote=D("1e12")))
    with pytest.raises(RiskRejected, match="min_volume_24h_quote"):
        await desk.positions.open_with_buy(SYMBOL, quote_amount=D("50"))
    assert desk.positions.open_positions() == []  # refused before a position was stored
    await desk.risk.change(actor="admin", limits=RiskLimits(min_volume_24h_quote=D("0.01")))
    opened, _ = await desk.positions.open_with_buy(SYMBOL, quote_amount=D("50"))
    assert opened.quantity > 0


async def test_a_clean_stop_of_the_exit_timer_writes_the_pending_excursions(
    desk: Desk, sim: SimServer, new_desk: NewDesk
) -> None:
    position = await open_with_a_stop(desk, sim)
    timer = asyncio.create_task(desk.monitor.run_timer(3600))
    await asyncio.sleep(0)
    assert await tick(desk, sim, "3500") == []
    timer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await timer
    restarted = await new_desk()
    assert position.id is not None
    again = restarted.book.cached(position.id)
    assert again is not None
    assert again.peak_price == D("3500")
