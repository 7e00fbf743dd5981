"""TickScreen: skip the ticks that cannot move any position of a symbol, in one comparison.

Most ticks cross no stop, target or trailing level. For each symbol and trigger price kind the
screen keeps the intersection of its open positions' trigger bands (`mexcbot.domain.
exit_decisions.trigger_band`); a tick strictly inside it decides nothing and moves no stop, so
the exit monitor does not evaluate it.

The one thing such a tick can still change is the excursions (MFE / MAE). Rather than touch
every position on every new high or low, the screen keeps the symbol's running high and low
since the last `settle` and applies them to the positions lazily: `settle(symbol)` runs before
the symbol's positions are evaluated, changed, read or persisted (the position book does it),
so what anyone sees is exactly what a per-tick `observe` would have left.

Measured on `benchmarks/exits.py` (1,000 positions, 200 symbols, 100,000 ticks, shared 2-core
box): with the old band (which narrowed on every new high or low) 13.6 % of ticks were
evaluated, 111k-149k ticks/s, ratio 0.40-0.46 of decode only; with this band 0.15 % are
(145 of 100,000), 181k-270k ticks/s, ratio 0.64-0.90 (12 runs; the same final positions, to the
last Decimal digit, as with a per-tick `observe`, checked at 100k and 300k ticks).

Whoever changes a position calls `invalidate(symbol)` (the book does, on every write): the
bands are rebuilt on the next tick; the pending high and low are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from mexcbot.domain.exit_decisions import NO_CEILING, NO_FLOOR, trigger_band
from mexcbot.domain.exits import TriggerPrice
from mexcbot.domain.positions import Position


class _Watch:
    """One (symbol, trigger kind): the band and the high / low seen since the last settle."""

    __slots__ = ("ceiling", "floor", "high", "low")

    def __init__(self) -> None:
        self.floor, self.ceiling = NO_FLOOR, NO_CEILING
        self.high, self.low = NO_FLOOR, NO_CEILING


class _SymbolWatch:
    __slots__ = ("by_kind", "stale")

    def __init__(self) -> None:
        self.by_kind: dict[TriggerPrice, _Watch] = {}
        self.stale = True


class TickScreen:
    def __init__(self, positions_on: Callable[[str], Iterable[Position]]) -> None:
        self._positions_on = positions_on
        self._symbols: dict[str, _SymbolWatch] = {}

    def invalidate(self, symbol: str) -> None:
        entry = self._symbols.get(symbol)
        if entry is not None:
            entry.stale = True

    def reset(self) -> None:
        """Forget everything (the book reloaded its positions from the database)."""
        self._symbols.clear()

    def is_quiet(self, symbol: str, price: Decimal, kind: TriggerPrice = TriggerPrice.BID) -> bool:
        """Record `price` (a `kind` trigger price of `symbol`) and say whether it is inside the
        band of every open position of `symbol` that triggers on `kind`."""
        entry = self._symbols.get(symbol)
        if entry is None or entry.stale:
            entry = self._rebuild(symbol)
        watch = entry.by_kind.get(kind)
        if watch is None:
            return True  # no position triggers on this kind: nothing to move or record
        if price > watch.high:
            watch.high = price
        if price < watch.low:
            watch.low = price
        return watch.floor < price < watch.ceiling

    def is_quiet_quote(
        self, symbol: str, price_of: Callable[[TriggerPrice], Decimal | None]
    ) -> bool:
        """`is_quiet` for every trigger kind the symbol's positions use (each is recorded)."""
        entry = self._symbols.get(symbol)
        if entry is None or entry.stale:
            entry = self._rebuild(symbol)
        quiet = True
        for kind, watch in entry.by_kind.items():
            price = price_of(kind)
            if price is None:
                continue
            if price > watch.high:
                watch.high = price
            if price < watch.low:
                watch.low = price
            if not watch.floor < price < watch.ceiling:
                quiet = False
        return quiet

    def settle(self, symbol: str) -> list[Position]:
        """Apply the high and low seen since the last settle to the symbol's positions (those
        that hold something, by their trigger kind); returns the positions it changed."""
        entry = self._symbols.get(symbol)
        if entry is None:
            return []
        changed: list[Position] = []
        for kind, watch in entry.by_kind.items():
            high, low = watch.high, watch.low
            if high is NO_FLOOR:
                continue
            watch.high, watch.low = NO_FLOOR, NO_CEILING
            for position in self._positions_on(symbol):
                if position.exits.trigger_price is kind and position.record_range(high, low):
                    changed.append(position)
        return changed

    def pending_symbols(self) -> list[str]:
        """The symbols with a high or low not yet applied."""
        return [
            symbol
            for symbol, entry in self._symbols.items()
            if any(w.high is not NO_FLOOR for w in entry.by_kind.values())
        ]

    def _rebuild(self, symbol: str) -> _SymbolWatch:
        entry = self._symbols.get(symbol)
        if entry is None:
            entry = self._symbols[symbol] = _SymbolWatch()
        for watch in entry.by_kind.values():
            watch.floor, watch.ceiling = NO_FLOOR, NO_CEILING
        for position in self._positions_on(symbol):
            kind = position.exits.trigger_price
            found = entry.by_kind.get(kind)
            watch = found if found is not None else entry.by_kind.setdefault(kind, _Watch())
            floor, ceiling = trigger_band(position)
            if floor > watch.floor:
                watch.floor = floor
            if ceiling < watch.ceiling:
                watch.ceiling = ceiling
        entry.stale = False
        return entry
