"""Positions round-trip exactly with their fills and exit state; versions catch lost updates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mexcbot.domain.exits import ExitPlan, StopLoss, TakeProfitLevel, TrailingStop
from mexcbot.domain.orders import OrderSide
from mexcbot.domain.positions import PositionStatus
from mexcbot.domain.risk import RiskLimits, StartEquity, TradingState
from mexcbot.store import ConcurrentPositionUpdate, UnitOfWork
from tests.mexcbot.domain.positions_support import D, fill, position

PLAN = ExitPlan(
    stop_loss=StopLoss(percent=D("5")),
    trailing=TrailingStop(callback_percent=D("2.5"), activation_price=D("12.123456789")),
    take_profits=(TakeProfitLevel(fraction=D("0.5"), percent=D("10")),),
    break_even_after_take_profit=True,
)


async def test_a_position_round_trips_with_fills_and_exit_state(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    p = position()
    p.id = None
    p.apply_fill(fill(OrderSide.BUY, "10.000000001", "3.33", fee="0.01", fee_asset="METAL"))
    p.set_exits(PLAN)
    p.observe(D("12.5"))
    async with uow_factory() as uow:
        pid = await uow.positions.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.positions.get(pid)
        assert loaded is not None
        assert loaded.exits == PLAN
        assert (loaded.quantity, loaded.cost, loaded.stop_price, loaded.trailing_peak) == (
            p.quantity,
            p.cost,
            p.stop_price,
            p.trailing_peak,
        )
        assert loaded.fills == p.fills
        loaded.apply_fill(fill(OrderSide.SELL, "11", "3.32", order="mxb-exit"))
        await uow.commit()
    async with uow_factory() as uow:
        closed = await uow.positions.get(pid)
        assert closed is not None
        assert closed.status is PositionStatus.CLOSED
        assert len(closed.fills) == 2
        assert (await uow.positions.list(status=PositionStatus.CLOSED)).total == 1
        assert await uow.positions.list_open() == []


async def test_a_concurrent_change_aborts_the_commit(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    p = position()
    p.id = None
    async with uow_factory() as uow:
        pid = await uow.positions.add(p)
        await uow.commit()
    async with uow_factory() as first:
        a = await first.positions.get(pid)
        assert a is not None
        a.notes = "first"
        await first.commit()
    async with uow_factory() as second:
        b = await second.positions.get(pid)
        assert b is not None
        b.version -= 1  # as if loaded before the first commit
        b.notes = "second"
        with pytest.raises(ConcurrentPositionUpdate):
            await second.commit()


async def test_the_trading_state_defaults_to_active_and_saves_limits(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    limits = RiskLimits(max_open_positions=3, daily_loss_limit=Decimal("12.5"))
    async with uow_factory() as uow:
        stored = await uow.trading_state.get()
        assert stored.state is TradingState.ACTIVE
        assert stored.version == 0
        await uow.trading_state.save(
            state=TradingState.REDUCING, reason="test", limits=limits, changed_by="admin", version=0
        )
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.trading_state.get()
        assert (again.state, again.limits, again.version) == (TradingState.REDUCING, limits, 1)


async def test_the_start_equity_is_kept_with_the_trading_state(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    at = datetime(2026, 5, 1, 0, 1, tzinfo=UTC)
    async with uow_factory() as uow:
        fresh = await uow.trading_state.get()
        version = await uow.trading_state.record_start_equity(
            StartEquity(Decimal("100123.456789"), at), current=fresh
        )
        await uow.commit()
    assert version == 1  # a fresh database: the row is inserted
    limits = RiskLimits(daily_loss_limit_percent=Decimal("2.5"))
    async with uow_factory() as uow:
        stored = await uow.trading_state.get()
        assert stored.start_equity == StartEquity(Decimal("100123.456789"), at)
        await uow.trading_state.save(
            state=TradingState.ACTIVE, reason=None, limits=limits, changed_by="admin", version=1
        )
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.trading_state.get()
        assert again.limits == limits  # the percent round-trips exactly
        # an admin's change keeps the equity
        assert again.start_equity == StartEquity(Decimal("100123.456789"), at)
        later = StartEquity(Decimal(99), at + timedelta(days=1))
        assert await uow.trading_state.record_start_equity(later, current=again) == 2
        await uow.commit()
    async with uow_factory() as uow:
        last = await uow.trading_state.get()
    assert (last.start_equity, last.version) == (later, 2)
