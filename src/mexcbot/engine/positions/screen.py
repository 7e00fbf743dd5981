"""TickScreen: skip the ticks that cannot move any position of a symbol, in one comparison.

Most ticks make no new high or low and cross no stop or target. For each symbol the screen
keeps the intersection of its open positions' quiet bands (`mexcbot.domain.positions.
quiet_band`); a tick strictly inside it changes nothing and decides nothing, so the exit monitor
does not evaluate it. Whoever changes a position calls `invalidate(symbol)` (the position book
does, on every write); the band is rebuilt on the next tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from mexcbot.domain.exit_decisions import quiet_band
from mexcbot.domain.positions import Position

_Band = tuple[Decimal, Decimal] | None


class TickScreen:
    def __init__(self, positions_on: Callable[[str], Iterable[Position]]) -> None:
        self._positions_on = positions_on
        self._bands: dict[str, _Band] = {}

    def invalidate(self, symbol: str) -> None:
        self._bands.pop(symbol, None)

    def is_quiet(self, symbol: str, price: Decimal) -> bool:
        """Whether `price` is inside the band of every open position of `symbol`."""
        try:
            band = self._bands[symbol]
        except KeyError:
            band = self._bands[symbol] = self._band(symbol)
        return band is not None and band[0] < price < band[1]

    def _band(self, symbol: str) -> _Band:
        floor: Decimal | None = None
        ceiling: Decimal | None = None
        for position in self._positions_on(symbol):
            band = quiet_band(position)
            if band is None:
                return None
            floor = band[0] if floor is None else max(floor, band[0])
            ceiling = band[1] if ceiling is None else min(ceiling, band[1])
        if floor is None or ceiling is None or floor >= ceiling:
            return None
        return floor, ceiling
