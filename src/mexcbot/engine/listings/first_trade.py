"""FirstTradeWatch: the market stream as a listing source: a listing is TRADING at its first
trade.

From `start_delay_s` after a listing's open (or its first sighting as open, when no time is
known; the delay keeps its connection out of the way of the snipe at the open) a market stream
for that one symbol is followed until it carries a trade. MEXC refuses ("Blocked") a subscription to
a symbol that is not open yet, and a refused subscription stays silent, so a stream that brings
nothing for `quiet_s` is opened again; after `give_up_s` the watch ends (a coin that never
trades is not worth a connection). At most `max_watches` run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from mexcbot.domain.listings import Listing, ListingSighting, ListingSource, ListingStatus
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import ListingChanged
from mexcbot.engine.listings.book import ListingBook
from mexcbot.engine.ports import Exchange, PriceTick

log = logging.getLogger(__name__)


class FirstTradeWatch:
    def __init__(
        self,
        exchange: Exchange,
        book: ListingBook,
        clock: Callable[[], datetime],
        exchange_ms: Callable[[], float],
        *,
        quiet_s: float = 30.0,
        start_delay_s: float = 1.0,
        give_up_s: float = 600.0,
        max_watches: int = 20,
    ) -> None:
        self._exchange = exchange
        self._book = book
        self._clock = clock
        self._exchange_ms = exchange_ms
        self._quiet_s = quiet_s
        self._start_delay_ms = start_delay_s * 1000
        self._give_up_s = give_up_s
        self._slots = asyncio.Semaphore(max_watches)
        self._watching: dict[str, asyncio.Task[None]] = {}
        self._wake: asyncio.Queue[Listing] = asyncio.Queue()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(ListingChanged, lambda event: self._wake.put_nowait(event.listing))

    async def run(self) -> None:
        for listing in self._book.known():
            self._consider(listing)
        try:
            while True:
                self._consider(await self._wake.get())
        finally:
            for task in self._watching.values():
                task.cancel()

    def _consider(self, listing: Listing) -> None:
        if listing.status is ListingStatus.TRADING or listing.symbol in self._watching:
            return
        start_ms = self._start_ms(listing)
        if start_ms is None or start_ms + self._give_up_s * 1000 < self._exchange_ms():
            return
        self._watching[listing.symbol] = asyncio.create_task(
            self._watch(listing, start_ms), name=f"mexcbot-first-trade-{listing.symbol}"
        )

    def _start_ms(self, listing: Listing) -> float | None:
        if listing.open_time is not None:
            return listing.open_time.timestamp() * 1000
        if listing.opened_at is not None:
            return listing.opened_at.timestamp() * 1000
        return None

    async def _watch(self, listing: Listing, start_ms: float) -> None:
        try:
            delay = (start_ms + self._start_delay_ms - self._exchange_ms()) / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._slots:
                await self._follow(listing, start_ms + self._give_up_s * 1000)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("first-trade watch of %s ended: %s", listing.symbol, exc)
        finally:
            self._watching.pop(listing.symbol, None)

    async def _follow(self, listing: Listing, give_up_ms: float) -> None:
        while self._exchange_ms() < give_up_ms:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._quiet_s):
                    async for update in self._exchange.price_updates([listing.symbol]):
                        if isinstance(update, PriceTick) and update.last is not None:
                            await self._book.record(
                                ListingSighting(
                                    base_asset=listing.base_asset,
                                    quote_asset=listing.quote_asset,
                                    source=ListingSource.MARKET_STREAM,
                                    seen_at=self._clock(),
                                    status=ListingStatus.TRADING,
                                )
                            )
                            return
