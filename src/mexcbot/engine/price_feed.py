"""PriceFeed: the market stream keeps the `PriceBook` current; REST fills in when it is stale.

Each pushed trade updates the symbol's last price at once (placement's local price-band check reads
it). `PriceChanged` is published at most every `publish_interval_s` per symbol, carrying the newest
last, bid and ask known, because the API websocket and the exit rules want the price, not every
tick (MEXC pushes aggregated trades every 100 ms per symbol). The next published event carries
the newest values of the ticks skipped before it (the PriceBook always has them at once). After
every (re)connect the whole book is reloaded by one REST request, so a gap leaves no stale price
behind; while the stream is down the periodic reconciliation's price refresh keeps the book fed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from decimal import Decimal

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import PriceChanged
from mexcbot.engine.ports import Exchange, PriceTick, PriceUpdate, StreamGap, StreamResumed
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.stream_health import StreamHealth, follow, utc_now

log = logging.getLogger(__name__)

DEFAULT_PUBLISH_INTERVAL_S = 0.25


class PriceFeed:
    """Follows `exchange.price_updates(symbols)` until cancelled (`run`)."""

    def __init__(
        self,
        exchange: Exchange,
        prices: PriceBook,
        events: EventBus,
        symbols: Collection[str],
        *,
        health: StreamHealth | None = None,
        publish_interval_s: float = DEFAULT_PUBLISH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._exchange = exchange
        self._prices = prices
        self._events = events
        self.symbols = tuple(sorted(set(symbols)))
        self.health = health or StreamHealth("market")
        self._interval = publish_interval_s
        self._clock = clock
        self._latest: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]] = {}
        self._published_at: dict[str, float] = {}

    async def run(self) -> None:
        """Follow the stream; without symbols there is nothing to follow (returns at once)."""
        if not self.symbols:
            log.info("no symbols to follow on the market stream")
            return
        await follow(
            lambda: self._exchange.price_updates(self.symbols), self.handle, self._stream_failed
        )

    async def handle(self, update: PriceUpdate) -> None:
        match update:
            case PriceTick():
                self.health.message()
                self._on_tick(update)
            case StreamGap():
                self._events.publish(self.health.lost(update.reason, update.at))
            case StreamResumed():
                self._events.publish(self.health.resumed(update.at))
                await self._refresh()

    def _on_tick(self, tick: PriceTick) -> None:
        last, bid, ask = self._latest.get(tick.symbol, (None, None, None))
        if tick.last is not None:
            last = tick.last
            self._prices.update(tick.symbol, tick.last)
        if tick.bid is not None or tick.ask is not None:
            bid, ask = tick.bid, tick.ask
        self._latest[tick.symbol] = (last, bid, ask)
        now = self._clock()
        published = self._published_at.get(tick.symbol)
        if published is not None and now - published < self._interval:
            return
        self._published_at[tick.symbol] = now
        self._events.publish(PriceChanged(tick.symbol, last, bid, ask, tick.at))

    async def _refresh(self) -> None:
        try:
            await self._prices.refresh()
        except Exception as exc:  # the periodic refresh retries
            log.warning("last prices not reloaded after a market stream (re)connect: %s", exc)

    async def _stream_failed(self, reason: str) -> None:
        if self.health.connected:
            self._events.publish(self.health.lost(reason, utc_now()))
