"""ListingService: what the API (and remote control) may ask of listing detection and sniping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from mexcbot.domain.autobuy import RuleExecution
from mexcbot.domain.listings import Listing, ListingSighting, ListingSource, ListingStatus
from mexcbot.engine.errors import ListingNotFound
from mexcbot.engine.listings.book import ListingBook
from mexcbot.engine.listings.detector import ListingDetector, SourceStatus
from mexcbot.store import UnitOfWork
from mexcbot.store.listings import Snipe

#: "recent" covers listings first seen in the last few days.
RECENT = timedelta(days=3)


class ListingView(StrEnum):
    UPCOMING = "upcoming"  # announced, not open yet
    RECENT = "recent"  # open or trading, first seen within RECENT
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ListingWithSnipes:
    listing: Listing
    snipes: list[Snipe]
    executions: dict[int, RuleExecution] = field(default_factory=dict)
    """What each snipe bought, by execution id."""


class ListingService:
    def __init__(
        self,
        book: ListingBook,
        detector: ListingDetector,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime],
        clock_offset_ms: Callable[[], int],
    ) -> None:
        self._book = book
        self._detector = detector
        self._uow_factory = uow_factory
        self._clock = clock
        self._offset = clock_offset_ms

    @property
    def clock_offset_ms(self) -> int:
        return self._offset()

    def sources(self) -> list[SourceStatus]:
        return self._detector.status()

    async def list(self, view: ListingView, *, limit: int = 100) -> list[ListingWithSnipes]:
        statuses = {
            ListingView.UPCOMING: [ListingStatus.ANNOUNCED],
            ListingView.RECENT: [ListingStatus.OPEN, ListingStatus.TRADING],
            ListingView.ALL: None,
        }[view]
        since = self._clock() - RECENT if view is ListingView.RECENT else None
        async with self._uow_factory() as uow:
            found = await uow.listings.list(statuses=statuses, since=since, limit=limit)
            snipes = await uow.snipes.for_listings([x.id for x in found if x.id is not None])
            executions = await _executions(uow, [s for group in snipes.values() for s in group])
        if view is ListingView.UPCOMING:
            found.sort(key=lambda x: (x.open_time is None, x.open_time or self._clock()))
        return [ListingWithSnipes(x, snipes.get(x.id or 0, []), executions) for x in found]

    async def get(self, listing_id: int) -> ListingWithSnipes:
        async with self._uow_factory() as uow:
            listing = await uow.listings.get(listing_id)
            if listing is None:
                raise ListingNotFound(listing_id)
            snipes = (await uow.snipes.for_listings([listing_id])).get(listing_id, [])
            executions = await _executions(uow, snipes)
        return ListingWithSnipes(listing, snipes, executions)

    async def announce(self, base_asset: str, quote_asset: str, open_time: datetime) -> Listing:
        """A listing the user knows of: recorded like any source's (the sniper arms for it)."""
        sighting = ListingSighting(
            base_asset=base_asset,
            quote_asset=quote_asset,
            source=ListingSource.MANUAL,
            seen_at=self._clock(),
            open_time=open_time,
        )
        changed = await self._book.record(sighting)
        return changed or self._book.get(sighting.symbol) or Listing.first_seen(sighting)


async def _executions(uow: UnitOfWork, snipes: list[Snipe]) -> dict[int, RuleExecution]:
    found = {}
    for snipe in snipes:
        if snipe.execution_id is not None:
            execution = await uow.autobuy_executions.get(snipe.execution_id)
            if execution is not None:
                found[snipe.execution_id] = execution
    return found
