"""RealisedLedger: the realised PnL of the last day, by time, and the stop-loss streak.

The daily-loss limit needs what was realised since 00:00 UTC (or over the last 24 hours), not
only by this process: at startup the ledger is rebuilt from the stored positions that sold in
the last 24 hours, by replaying each one's fills in order (the same average-cost accounting as
`Position`, so the amounts are exact) and dating each exit fill's realised PnL by its fill
time. Afterwards the book adds each change as it applies fills.

The stop-loss streak (exits triggered by a stop that sold below the average entry, with no
winning exit between) feeds the risk policy's cooldown; it lives in memory and starts at 0 at
each startup (the triggers are not stored per fill).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from mexcbot.domain.orders import OrderSide
from mexcbot.domain.positions import Position

#: How far back the ledger keeps realised PnL: the rolling window, with an hour to spare.
KEEP = timedelta(hours=25)
WINDOW = timedelta(hours=24)


def realised_by_fill(position: Position, since: datetime) -> list[tuple[datetime, Decimal]]:
    """(fill time, realised PnL) of each exit fill of `position` at or after `since`, by
    replaying its fills on a fresh position."""
    replay = Position(
        symbol=position.symbol,
        base_asset=position.base_asset,
        quote_asset=position.quote_asset,
        type=position.type,
        opened_at=position.opened_at,
        id=position.id,
    )
    out = []
    for fill in position.fills:
        before = replay.realised_pnl
        replay.apply_fill(fill)
        if fill.side is OrderSide.SELL and fill.time >= since:
            out.append((fill.time, replay.realised_pnl - before))
    return out


class RealisedLedger:
    def __init__(self) -> None:
        self._entries: deque[tuple[datetime, Decimal]] = deque()
        self.stop_streak = 0
        self.last_stop_at: datetime | None = None

    def rebuild(self, positions: Iterable[Position], now: datetime) -> None:
        since = now - KEEP
        entries = [e for p in positions for e in realised_by_fill(p, since)]
        self._entries = deque(sorted(entries, key=lambda e: e[0]))

    def add(self, at: datetime, amount: Decimal) -> None:
        if amount == 0:
            return
        self._entries.append((at, amount))
        while self._entries and self._entries[0][0] < at - KEEP:
            self._entries.popleft()

    def since(self, start: datetime) -> Decimal:
        return sum((amount for at, amount in self._entries if at >= start), Decimal(0))

    def exit_finished(self, at: datetime, *, by_stop: bool, lost: bool) -> None:
        """An exit sold something: a stop that lost extends the streak, a win ends it."""
        if by_stop and lost:
            self.stop_streak += 1
            self.last_stop_at = at
        elif not lost:
            self.stop_streak = 0
