"""The performance summary: win rate, profit factor and drawdown in closing order, by day."""

from __future__ import annotations

from datetime import timedelta

from mexcbot.domain.orders import OrderSide
from mexcbot.domain.performance import performance
from mexcbot.domain.positions import Position
from tests.mexcbot.domain.positions_support import T0, D, fill, position


def closed(pid: int, buy: str, sell: str, day: int) -> Position:
    p = position()
    p.id = pid
    p.apply_fill(fill(OrderSide.BUY, buy, "1"))
    p.apply_fill(fill(OrderSide.SELL, sell, "1"))
    p.closed_at = T0 + timedelta(days=day)
    return p


def test_summary_of_wins_and_losses() -> None:
    still_open = position()  # not counted
    perf = performance(
        [closed(1, "10", "14", 0), closed(2, "10", "7", 0), closed(3, "10", "8", 1), still_open]
    )
    assert (perf.closed, perf.wins, perf.losses) == (3, 1, 2)
    assert perf.win_rate == D(1) / 3
    assert perf.realised_pnl == D("-1")
    assert perf.profit_factor == D(4) / D(5)
    assert perf.max_drawdown == D(5)  # +4, then -3 and -2
    assert [(d.closed, d.realised_pnl) for d in perf.by_day] == [(2, D(1)), (1, D(-2))]


def test_no_closed_positions_has_no_ratios() -> None:
    perf = performance([])
    assert (perf.win_rate, perf.profit_factor, perf.max_drawdown) == (None, None, D(0))
