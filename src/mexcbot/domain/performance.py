"""Performance of closed positions: win rate, realised PnL, profit factor, drawdown, by day.

Pure domain code. Drawdown is measured on the equity curve of realised PnL in closing order
(the largest fall from a running peak), so it needs no price history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mexcbot.domain.positions import Position

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DayResult:
    day: date
    closed: int
    realised_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Performance:
    closed: int
    wins: int
    losses: int
    win_rate: Decimal | None  # wins / closed, 0..1
    realised_pnl: Decimal
    gross_profit: Decimal
    gross_loss: Decimal  # a positive amount
    profit_factor: Decimal | None  # gross profit / gross loss; None without a loss
    max_drawdown: Decimal  # a positive amount
    fees_quote: Decimal
    by_day: tuple[DayResult, ...]


def performance(positions: Iterable[Position]) -> Performance:
    closed = sorted(
        (p for p in positions if not p.is_open and p.closed_at is not None and p.spent_quote > 0),
        key=lambda p: (p.closed_at, p.id or 0),
    )
    wins = [p for p in closed if p.realised_pnl > 0]
    losses = [p for p in closed if p.realised_pnl < 0]
    gross_profit = sum((p.realised_pnl for p in wins), _ZERO)
    gross_loss = -sum((p.realised_pnl for p in losses), _ZERO)
    equity = peak = drawdown = _ZERO
    days: dict[date, tuple[int, Decimal]] = {}
    for p in closed:
        equity += p.realised_pnl
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
        assert p.closed_at is not None
        count, pnl = days.get(p.closed_at.date(), (0, _ZERO))
        days[p.closed_at.date()] = (count + 1, pnl + p.realised_pnl)
    return Performance(
        closed=len(closed),
        wins=len(wins),
        losses=len(losses),
        win_rate=Decimal(len(wins)) / len(closed) if closed else None,
        realised_pnl=equity,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=gross_profit / gross_loss if gross_loss > 0 else None,
        max_drawdown=drawdown,
        fees_quote=sum((p.fees_quote for p in closed), _ZERO),
        by_day=tuple(DayResult(d, n, pnl) for d, (n, pnl) in sorted(days.items())),
    )
