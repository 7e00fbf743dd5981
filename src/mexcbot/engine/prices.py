"""PriceBook: the last trade price of each symbol the engine has seen, with its age.

Placement checks MEXC's PERCENT_PRICE_BY_SIDE band locally with it, so an order far outside the
band is refused before anything is stored or sent. Fed by one cheap all-symbols request at start
and with every reconciliation pass, and by every ticker the bot reads (the streams will feed it
live trades). A price older than the caller's bound is treated as unknown: the check is then left
to the exchange.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from mexcbot.engine.ports import Exchange

#: Prices older than this are not used for local checks (the band is x5 / x0.2 wide).
DEFAULT_MAX_AGE_S = 300.0


class PriceBook:
    def __init__(self, exchange: Exchange, clock: Callable[[], float] = time.monotonic) -> None:
        self._exchange = exchange
        self._clock = clock
        self._last: dict[str, tuple[Decimal, float]] = {}

    def update(self, symbol: str, price: Decimal) -> None:
        if price.is_finite() and price > 0:
            self._last[symbol] = (price, self._clock())

    def update_many(self, prices: Mapping[str, Decimal]) -> None:
        for symbol, price in prices.items():
            self.update(symbol, price)

    def last(self, symbol: str, max_age: float = DEFAULT_MAX_AGE_S) -> Decimal | None:
        """The last price of `symbol` if seen within `max_age` seconds, else None."""
        seen = self._last.get(symbol)
        if seen is None or self._clock() - seen[1] > max_age:
            return None
        return seen[0]

    async def refresh(self) -> None:
        """Load every symbol's last price in one request (weight 2 on MEXC)."""
        self.update_many(await self._exchange.last_prices())
