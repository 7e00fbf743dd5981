"""ListingBook: every sighting merged into one listing per symbol and open time, stored, and
announced on the bus.

Sightings are merged one at a time (a lock), so two sources reporting the same coin in the same
instant still make one row. A sighting merges into the symbol's latest listing unless both carry
open times more than `RELIST_GAP` apart (a delisted coin listed again is a new listing). Only a
real change is written and published: a source repeating what is known costs one dict lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from mexcbot.domain.listings import Listing, ListingSighting, ListingStatus
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import ListingChanged, ListingChangeKind
from mexcbot.store import UnitOfWork

RELIST_GAP = timedelta(days=7)
#: How far back `load` reads listings into memory.
RECENT = timedelta(days=7)

_KIND = {
    ListingStatus.OPEN: ListingChangeKind.OPEN,
    ListingStatus.TRADING: ListingChangeKind.TRADING,
}


def _same_listing(known: Listing, sighting: ListingSighting) -> bool:
    if known.open_time is None or sighting.open_time is None:
        return True
    return abs(known.open_time - sighting.open_time) < RELIST_GAP


class ListingBook:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        events: EventBus,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow_factory = uow_factory
        self._events = events
        self._clock = clock
        self._by_symbol: dict[str, Listing] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read the recent and upcoming listings into memory (at start)."""
        async with self._uow_factory() as uow:
            found = await uow.listings.list(since=self._clock() - RECENT, limit=500)
        for listing in reversed(found):
            self._by_symbol[listing.symbol] = listing

    def get(self, symbol: str) -> Listing | None:
        """The latest listing of `symbol` held in memory (no I/O)."""
        return self._by_symbol.get(symbol)

    def known(self) -> list[Listing]:
        return list(self._by_symbol.values())

    async def record(self, sighting: ListingSighting) -> Listing | None:
        """Merge `sighting`; returns the listing if it changed (and publishes why), else None."""
        async with self._lock:
            known = self._by_symbol.get(sighting.symbol)
            if known is not None and _same_listing(known, sighting):
                merged = known.merge(sighting)
                if merged == known:
                    return None
            else:
                known = None
                merged = Listing.first_seen(sighting)
            async with self._uow_factory() as uow:
                if merged.open_time != (known.open_time if known is not None else None):
                    # the time moved onto one a stored listing of the symbol already has
                    # (one row per symbol and open time): that listing is the one seen
                    stored = await uow.listings.at(merged.symbol, merged.open_time)
                    if stored is not None and stored.id != merged.id:
                        known, merged = stored, stored.merge(sighting)
                        if merged == stored:
                            self._by_symbol[stored.symbol] = stored
                            return None
                saved = await uow.listings.save(merged)
                await uow.commit()
            self._by_symbol[saved.symbol] = saved
        self._publish(known, saved)
        return saved

    def _publish(self, before: Listing | None, after: Listing) -> None:
        if before is None:
            self._events.publish(ListingChanged(after, ListingChangeKind.DETECTED))
            if after.status is not ListingStatus.ANNOUNCED:
                self._events.publish(ListingChanged(after, _KIND[after.status]))
            return
        if after.status is not before.status:
            self._events.publish(ListingChanged(after, _KIND[after.status]))
        else:
            self._events.publish(ListingChanged(after, ListingChangeKind.UPDATED))
