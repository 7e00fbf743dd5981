"""MarketInterest: which symbols the live market watches because someone reads them.

A read of a symbol's book, trades or ticker marks it read now; a symbol not watched yet is
watched at once (on demand), so the next reads come from stream state instead of REST. A symbol
nobody read for ``idle_s`` is unwatched by the sweep, unless it is pinned (the price feed follows
it: a position or a rule needs it, and it will be read again). At most ``max_symbols`` symbols are
watched on demand (pinned ones do not count): past the bound a read keeps the REST cache path, so
a client walking every symbol cannot make the bot hold thousands of subscriptions. Each watched
symbol costs three channels (depth, trades, best prices), so 50 symbols need 5 connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection

from mexcbot.engine.ports import LiveMarket

log = logging.getLogger(__name__)

DEFAULT_IDLE_S = 60.0
DEFAULT_MAX_SYMBOLS = 50


class MarketInterest:
    def __init__(
        self,
        live: LiveMarket,
        *,
        idle_s: float = DEFAULT_IDLE_S,
        max_symbols: int = DEFAULT_MAX_SYMBOLS,
        pinned: Callable[[], Collection[str]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if idle_s <= 0:
            raise ValueError(f"idle_s must be > 0, got {idle_s}")
        if max_symbols < 0:
            raise ValueError(f"max_symbols must be >= 0, got {max_symbols}")
        self.live = live
        self.idle_s = idle_s
        self.max_symbols = max_symbols
        self._pinned = pinned
        self._clock = clock
        self._last_read: dict[str, float] = {}
        self._watching: set[str] = set()
        self.refused = 0
        """Reads of an unwatched symbol left on REST because the on-demand bound was reached."""

    @property
    def watching(self) -> frozenset[str]:
        return frozenset(self._watching)

    def read(self, symbol: str) -> None:
        """Someone reads `symbol` now: watch it if it is not watched yet and the bound allows."""
        self._last_read[symbol] = self._clock()
        if symbol in self._watching:
            return
        pinned = self._pinned()
        if symbol not in pinned and self._on_demand(pinned) >= self.max_symbols:
            self.refused += 1
            return
        self._watching.add(symbol)
        self.live.watch(symbol)

    def sweep(self) -> list[str]:
        """Unwatch the symbols idle for ``idle_s`` that nothing pins; return them."""
        now = self._clock()
        pinned = self._pinned()
        idle = [
            symbol
            for symbol in self._watching
            if symbol not in pinned and now - self._last_read.get(symbol, now) >= self.idle_s
        ]
        for symbol in idle:
            self._watching.discard(symbol)
            self._last_read.pop(symbol, None)
            self.live.unwatch(symbol)
        if idle:
            log.info("live market: unwatched idle %s", ", ".join(sorted(idle)))
        return idle

    async def run(self) -> None:
        """Sweep until cancelled, often enough that a symbol is unwatched within ~1.25 idle
        times (at most every 5 s)."""
        interval = min(5.0, max(0.05, self.idle_s / 4))
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    def _on_demand(self, pinned: Collection[str]) -> int:
        return sum(1 for symbol in self._watching if symbol not in pinned)
