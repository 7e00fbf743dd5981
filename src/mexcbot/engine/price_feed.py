"""PriceFeed: the market stream keeps the `PriceBook` current; REST fills in when it is stale.

Each pushed trade updates the symbol's last price at once (placement's local price-band check reads
it). `PriceChanged` is published at most every `publish_interval_s` per symbol, carrying the newest
last, bid and ask known, because the API websocket and the exit rules want the price, not every
tick (MEXC pushes aggregated trades every 100 ms per symbol). The next published event carries
the newest values of the ticks skipped before it (the PriceBook always has them at once). After
every (re)connect the whole book is reloaded by one REST request, so a gap leaves no stale price
behind; while the stream is down the periodic reconciliation's price refresh keeps the book fed.

Each `PriceChanged` also carries the base quantity traded since the symbol's previous one (the
trades of the pushes it coalesced), which the auto-buy VOLUME_SURGE trigger sums per window.
`follow` adds symbols at run time (an auto-buy rule's; `follow_trading`: an order's, a
position's). Given the shared live market (`live`), the feed watches its symbols there and follows
the live market's one price iteration: a new symbol is one more subscription, nothing is reopened
and no other symbol's prices pause. Without it (tests, a port without live state) the stream is
reopened with the larger set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from decimal import Decimal

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind, PositionChanged, PriceChanged
from mexcbot.engine.ports import (
    Exchange,
    LiveMarket,
    PriceTick,
    PriceUpdate,
    StreamGap,
    StreamResumed,
)
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.stream_health import StreamHealth, follow, utc_now

log = logging.getLogger(__name__)

_TRADED = frozenset(
    {OrderUpdateKind.ACKNOWLEDGED, OrderUpdateKind.EXCHANGE_UPDATE, OrderUpdateKind.IMPORTED}
)
"""Order updates that show the exchange trades the symbol now (the stream will take it)."""

DEFAULT_PUBLISH_INTERVAL_S = 0.25
_ZERO = Decimal(0)


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
        live: LiveMarket | None = None,
    ) -> None:
        self._exchange = exchange
        self._live = live
        self._prices = prices
        self._events = events
        self.symbols = tuple(sorted(set(symbols)))
        self._symbol_set = frozenset(self.symbols)
        self.health = health or StreamHealth("market")
        self._interval = publish_interval_s
        self._clock = clock
        self._latest: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]] = {}
        self._published_at: dict[str, float] = {}
        self._volume: dict[str, Decimal] = {}
        self._followed = asyncio.Event()

    async def run(self) -> None:
        """Follow the stream until cancelled; without symbols there is nothing to follow
        until `follow` adds one. A new symbol reopens the stream with the larger set, unless
        the feed follows the live market (then it is watched there: one more subscription)."""
        live = self._live
        if live is not None:
            while not self.symbols:  # the shared stream's state is the readers' until then
                self._followed.clear()
                log.info("no symbols to follow on the market stream yet")
                await self._followed.wait()
            for symbol in self.symbols:
                live.watch(symbol)
            await follow(live.price_updates, self._handle_followed, self._failed)
            return
        while True:
            self._followed.clear()
            if not self.symbols:
                log.info("no symbols to follow on the market stream yet")
                await self._followed.wait()
                continue
            streaming = asyncio.create_task(self._follow(self.symbols))
            more = asyncio.create_task(self._followed.wait())
            try:
                await asyncio.wait({streaming, more}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (streaming, more):
                    task.cancel()
                await asyncio.gather(streaming, more, return_exceptions=True)
            if streaming.done() and not streaming.cancelled():
                error = streaming.exception()
                if error is not None:
                    raise error
            log.info("market stream reopened to follow %s", ", ".join(self.symbols))

    async def _follow(self, symbols: tuple[str, ...]) -> None:
        await follow(lambda: self._exchange.price_updates(symbols), self.handle, self._failed)

    def follow(self, *symbols: str) -> None:
        """Follow `symbols` too (an auto-buy rule's, a listing's): a new one reopens the
        stream with the larger set; known ones change nothing."""
        new = set(symbols) - set(self.symbols)
        if new:
            self.symbols = tuple(sorted(set(self.symbols) | new))
            self._symbol_set = frozenset(self.symbols)
            self._followed.set()
            if self._live is not None:
                for symbol in sorted(new):
                    self._live.watch(symbol)

    def follow_trading(self, events: EventBus) -> None:
        """Follow every symbol the bot comes to trade while it runs, as it follows those with
        stored orders from the start: an order the exchange acknowledged (or one found on the
        account) and a position that holds something. Without this a symbol first traded after
        the start had no stream prices (its ticker topic stayed silent, its exits waited for the
        REST timer) until a restart. Only accepted orders count: a snipe's order is stored
        before its listing opens, when the stream would refuse the symbol."""
        events.subscribe(OrderUpdated, self._on_order)
        events.subscribe(PositionChanged, self._on_position)

    def _on_order(self, event: OrderUpdated) -> None:
        symbol = event.order.request.symbol
        if symbol not in self._symbol_set and event.kind in _TRADED:
            self.follow(symbol)

    def _on_position(self, event: PositionChanged) -> None:
        position = event.position
        if position.symbol not in self._symbol_set and position.quantity > 0:
            self.follow(position.symbol)

    async def _handle_followed(self, update: PriceUpdate) -> None:
        """The live market carries the symbols being read too: only the followed ones move
        prices and rules."""
        if isinstance(update, PriceTick) and update.symbol not in self._symbol_set:
            return
        await self.handle(update)

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
        volume = self._volume.get(tick.symbol, _ZERO)
        if tick.volume is not None:
            volume += tick.volume
        now = self._clock()
        published = self._published_at.get(tick.symbol)
        if published is not None and now - published < self._interval:
            self._volume[tick.symbol] = volume
            return
        self._published_at[tick.symbol] = now
        self._volume[tick.symbol] = _ZERO
        self._events.publish(PriceChanged(tick.symbol, last, bid, ask, tick.at, volume))

    async def _refresh(self) -> None:
        try:
            await self._prices.refresh()
        except Exception as exc:  # the periodic refresh retries
            log.warning("last prices not reloaded after a market stream (re)connect: %s", exc)

    async def _failed(self, reason: str) -> None:
        if self.health.connected:
            self._events.publish(self.health.lost(reason, utc_now()))
