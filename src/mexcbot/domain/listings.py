"""New listings as pure values: what a discovery source saw, and one listing however many saw it.

A listing moves ANNOUNCED (known, with an expected open time, not yet tradable through the API)
-> OPEN (tradable through the API: in defaultSymbols, orders accepted) -> TRADING (a first trade
was seen). A listing is one row per (symbol, open time) whatever the number of sources that
report it; each step keeps the time it was first seen and the source that saw it.

Pure domain code: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class ListingSource(StrEnum):
    """Where a listing was seen (each is optional and degrades alone)."""

    CALENDAR = "calendar"  # the web new-coin calendar
    WEB_SYMBOLS = "web_symbols"  # the web symbol list (symbolsV2)
    EXCHANGE_INFO = "exchange_info"  # exchangeInfo / defaultSymbols differences
    ANNOUNCEMENT = "announcement"  # the announcements endpoint
    MARKET_STREAM = "market_stream"  # the first trade on the market stream
    MANUAL = "manual"  # entered through the API


class ListingStatus(StrEnum):
    ANNOUNCED = "ANNOUNCED"
    OPEN = "OPEN"
    TRADING = "TRADING"


#: An open time that moves by less than this is the same open, told less precisely.
POSTPONED = timedelta(minutes=1)

_ORDER = {ListingStatus.ANNOUNCED: 0, ListingStatus.OPEN: 1, ListingStatus.TRADING: 2}


@dataclass(frozen=True, slots=True)
class ListingSighting:
    """One source's report of a coin: its symbol when known, the open time when known, and
    whether the source says it is tradable through the API now."""

    base_asset: str
    quote_asset: str
    source: ListingSource
    seen_at: datetime
    open_time: datetime | None = None
    status: ListingStatus = ListingStatus.ANNOUNCED
    full_name: str | None = None

    @property
    def symbol(self) -> str:
        return f"{self.base_asset}{self.quote_asset}"


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str
    base_asset: str
    quote_asset: str
    status: ListingStatus
    source: ListingSource
    """The first source that reported it."""
    first_seen_at: datetime
    open_time: datetime | None = None
    full_name: str | None = None
    opened_at: datetime | None = None
    opened_source: ListingSource | None = None
    trading_at: datetime | None = None
    trading_source: ListingSource | None = None
    sources: tuple[ListingSource, ...] = ()
    id: int | None = None

    @classmethod
    def first_seen(cls, sighting: ListingSighting) -> Listing:
        listing = cls(
            symbol=sighting.symbol,
            base_asset=sighting.base_asset,
            quote_asset=sighting.quote_asset,
            status=ListingStatus.ANNOUNCED,
            source=sighting.source,
            first_seen_at=sighting.seen_at,
            open_time=sighting.open_time,
            full_name=sighting.full_name,
            sources=(sighting.source,),
        )
        return listing.merge(sighting)

    def merge(self, sighting: ListingSighting) -> Listing:
        """This listing with what `sighting` adds: a source, an open time, a later status.

        A status never goes back (a source that lags cannot re-announce an open coin); an open
        time is taken from the first source that gives one, and a later one only replaces it
        when the listing is still ANNOUNCED and the time moved by `POSTPONED` or more (a
        postponed open; a source that gives the time to the minute is not a postponement).
        """
        updated = self
        if sighting.source not in updated.sources:
            updated = replace(updated, sources=(*updated.sources, sighting.source))
        if sighting.full_name and not updated.full_name:
            updated = replace(updated, full_name=sighting.full_name)
        if sighting.open_time is not None and (
            updated.open_time is None
            or (
                updated.status is ListingStatus.ANNOUNCED
                and abs(sighting.open_time - updated.open_time) >= POSTPONED
            )
        ):
            updated = replace(updated, open_time=sighting.open_time)
        if _ORDER[sighting.status] >= _ORDER[ListingStatus.OPEN] and updated.opened_at is None:
            updated = replace(
                updated,
                status=max(updated.status, ListingStatus.OPEN, key=_ORDER.__getitem__),
                opened_at=sighting.seen_at,
                opened_source=sighting.source,
            )
        if sighting.status is ListingStatus.TRADING and updated.trading_at is None:
            updated = replace(
                updated,
                status=ListingStatus.TRADING,
                trading_at=sighting.seen_at,
                trading_source=sighting.source,
            )
        return updated

    @property
    def is_upcoming(self) -> bool:
        return self.status is ListingStatus.ANNOUNCED
