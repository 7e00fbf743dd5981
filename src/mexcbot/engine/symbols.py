"""SymbolCatalog: the one source of symbol rules for placement, market data and the API.

exchangeInfo costs 10 weight of MEXC's budget, so the full list is loaded once and refreshed
every `max_age` seconds (and at once after an order was refused, because rules may have changed).
A symbol missing from a fresh list is looked up on its own at most once per `miss_ttl` seconds,
so a new listing is found quickly, yet a flood of requests for unknown symbols costs the exchange
budget nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection

from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.errors import UnknownSymbol
from mexcbot.engine.ports import Exchange

DEFAULT_MAX_AGE_S = 300.0
DEFAULT_MISS_TTL_S = 10.0
_MAX_MISSES = 10_000


class SymbolCatalog:
    def __init__(
        self,
        exchange: Exchange,
        *,
        max_age: float = DEFAULT_MAX_AGE_S,
        miss_ttl: float = DEFAULT_MISS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._exchange = exchange
        self._max_age = max_age
        self._miss_ttl = miss_ttl
        self._clock = clock
        self._rules: dict[str, tuple[SymbolRules, float]] = {}
        self._listed_at: float | None = None
        self._misses: dict[str, float] = {}
        self._presumed: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def refresh(self, symbols: Collection[str] | None = None) -> None:
        """Reload the rules of `symbols` (every listed symbol when None) from the exchange."""
        wanted = sorted(symbols) if symbols else None
        rules = await self._exchange.symbol_rules(wanted)
        now = self._clock()
        if self._presumed:
            rules = [self._presumed_open(item) for item in rules]
        if wanted is None:
            self._rules = {item.symbol: (item, now) for item in rules}
            self._listed_at = now
            self._misses.clear()
        else:
            self._rules.update((item.symbol, (item, now)) for item in rules)

    async def all(self) -> list[SymbolRules]:
        """Every listed symbol's rules, by symbol."""
        if not self._fresh(self._listed_at):
            async with self._lock:
                if not self._fresh(self._listed_at):
                    await self.refresh()
        return sorted((rules for rules, _ in self._rules.values()), key=lambda r: r.symbol)

    async def get(self, symbol: str) -> SymbolRules:
        """The rules of `symbol`; `UnknownSymbol` when the exchange does not list it."""
        cached = self._rules.get(symbol)
        if cached is not None and self._fresh(cached[1]):
            return cached[0]
        if not self._fresh(self._listed_at):
            await self.all()
            cached = self._rules.get(symbol)
            if cached is not None:
                return cached[0]
        now = self._clock()
        missed_at = self._misses.get(symbol)
        if missed_at is None or now - missed_at >= self._miss_ttl:
            await self.refresh([symbol])
            cached = self._rules.get(symbol)
            if cached is not None and self._fresh(cached[1]):
                return cached[0]
            if len(self._misses) >= _MAX_MISSES:
                self._misses.clear()
            self._misses[symbol] = now
        raise UnknownSymbol(symbol)

    def cached(self, symbol: str) -> SymbolRules | None:
        """The rules held now, without any request (None when not loaded)."""
        cached = self._rules.get(symbol)
        return cached[0] if cached is not None else None

    def presume_open(self, symbol: str, for_s: float = 60.0) -> SymbolRules | None:
        """Treat `symbol` as tradable for the next `for_s` seconds, whatever the exchange's
        rules say of its status, and keep its rules through refusals meanwhile.

        For a listing at its open: until then the exchange lists the symbol as paused, and
        waiting for a rules refresh to say otherwise would cost the first seconds (and one
        exchangeInfo request per 10007). If the exchange still refuses (10007), it refuses
        there, never here. Returns the rules now held (None when none are loaded).
        """
        self._presumed[symbol] = self._clock() + for_s
        cached = self._rules.get(symbol)
        if cached is None:
            return None
        rules = self._presumed_open(cached[0])
        self._rules[symbol] = (rules, cached[1])
        return rules

    def _presumed_open(self, rules: SymbolRules) -> SymbolRules:
        until = self._presumed.get(rules.symbol)
        if until is None or rules.is_tradable:
            return rules
        if until < self._clock():
            del self._presumed[rules.symbol]
            return rules
        return rules.as_open()

    def invalidate(self, symbol: str) -> None:
        """Forget `symbol`'s rules: the next `get` reloads them (after a rules refusal), unless
        it is presumed open (`presume_open`): a 10007 at a listing's open is not news."""
        if self._presumed.get(symbol, 0.0) >= self._clock():
            return
        self._rules.pop(symbol, None)
        self._misses.pop(symbol, None)

    def _fresh(self, loaded_at: float | None) -> bool:
        return loaded_at is not None and self._clock() - loaded_at < self._max_age
