"""ListingRepository and SnipeRepository: listings as the detector merged them, and the snipes
fired at them.

A listing is one row per (symbol, open time): `latest_for(symbol)` finds the row a new sighting
merges into, `save` writes the merged value back (insert or update by id). A snipe is one row per
(listing, rule): the unique key is what lets a restarted sniper find the snipe it had armed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.domain.autobuy import ExecutionOutcome
from mexcbot.domain.listings import Listing, ListingSource, ListingStatus
from mexcbot.store import tables

MAX_PAGE_SIZE = 500


def _source(value: str | None) -> ListingSource | None:
    return None if value is None else ListingSource(value)


def _listing(row: RowMapping) -> Listing:
    return Listing(
        id=row["id"],
        symbol=row["symbol"],
        base_asset=row["base_asset"],
        quote_asset=row["quote_asset"],
        full_name=row["full_name"],
        status=ListingStatus(row["status"]),
        open_time=row["open_time"],
        source=ListingSource(row["source"]),
        sources=tuple(ListingSource(s) for s in row["sources"].split(",") if s),
        first_seen_at=row["first_seen_at"],
        opened_at=row["opened_at"],
        opened_source=_source(row["opened_source"]),
        trading_at=row["trading_at"],
        trading_source=_source(row["trading_source"]),
    )


class ListingRepository:
    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def latest_for(self, symbol: str) -> Listing | None:
        """The most recent listing of `symbol` (by first sighting), if any."""
        query = (
            select(tables.listings)
            .where(tables.listings.c.symbol == symbol)
            .order_by(tables.listings.c.first_seen_at.desc(), tables.listings.c.id.desc())
            .limit(1)
        )
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else _listing(row)

    async def at(self, symbol: str, open_time: datetime | None) -> Listing | None:
        """The listing of `symbol` opening at `open_time` (one row each), if any."""
        column = tables.listings.c.open_time
        when = column.is_(None) if open_time is None else column == open_time
        query = select(tables.listings).where(tables.listings.c.symbol == symbol).where(when)
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else _listing(row)

    async def get(self, listing_id: int) -> Listing | None:
        query = select(tables.listings).where(tables.listings.c.id == listing_id)
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else _listing(row)

    async def save(self, listing: Listing) -> Listing:
        values = {
            "symbol": listing.symbol,
            "base_asset": listing.base_asset,
            "quote_asset": listing.quote_asset,
            "full_name": listing.full_name,
            "status": listing.status.value,
            "open_time": listing.open_time,
            "source": listing.source.value,
            "sources": ",".join(s.value for s in listing.sources),
            "first_seen_at": listing.first_seen_at,
            "opened_at": listing.opened_at,
            "opened_source": None if listing.opened_source is None else listing.opened_source.value,
            "trading_at": listing.trading_at,
            "trading_source": (
                None if listing.trading_source is None else listing.trading_source.value
            ),
            "updated_at": self._clock(),
        }
        if listing.id is None:
            result = await self._connection.execute(
                insert(tables.listings).values(**values).returning(tables.listings.c.id)
            )
            return replace(listing, id=result.scalar_one())
        await self._connection.execute(
            update(tables.listings).where(tables.listings.c.id == listing.id).values(**values)
        )
        return listing

    async def list(
        self,
        *,
        statuses: Sequence[ListingStatus] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Listing]:
        """Listings newest first (by open time, then first sighting)."""
        query = select(tables.listings)
        if statuses:
            query = query.where(tables.listings.c.status.in_([s.value for s in statuses]))
        if since is not None:
            query = query.where(tables.listings.c.first_seen_at >= since)
        query = query.order_by(
            tables.listings.c.open_time.desc().nulls_last(), tables.listings.c.id.desc()
        ).limit(min(limit, MAX_PAGE_SIZE))
        rows = (await self._connection.execute(query)).mappings().all()
        return [_listing(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Snipe:
    """One NEW_LISTING rule fired at one listing. Times are milliseconds relative to the open."""

    listing_id: int
    rule_id: int
    rule_name: str
    outcome: ExecutionOutcome
    attempts: int = 0
    execution_id: int | None = None
    client_order_id: str | None = None
    position_id: int | None = None
    armed_ms: float | None = None
    fired_ms: float | None = None
    accepted_ms: float | None = None
    filled_ms: float | None = None
    detail: str | None = None
    created_at: datetime | None = None
    id: int | None = None


def _snipe(row: RowMapping) -> Snipe:
    return Snipe(
        id=row["id"],
        listing_id=row["listing_id"],
        rule_id=row["rule_id"],
        rule_name=row["rule_name"],
        execution_id=row["execution_id"],
        outcome=ExecutionOutcome(row["outcome"]),
        client_order_id=row["client_order_id"],
        position_id=row["position_id"],
        armed_ms=row["armed_ms"],
        fired_ms=row["fired_ms"],
        accepted_ms=row["accepted_ms"],
        filled_ms=row["filled_ms"],
        attempts=row["attempts"],
        detail=row["detail"],
        created_at=row["created_at"],
    )


_SNIPE_FIELDS = (
    "rule_name",
    "execution_id",
    "client_order_id",
    "position_id",
    "armed_ms",
    "fired_ms",
    "accepted_ms",
    "filled_ms",
    "attempts",
    "detail",
)


class SnipeRepository:
    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def find(self, listing_id: int, rule_id: int) -> Snipe | None:
        query = select(tables.snipes).where(
            tables.snipes.c.listing_id == listing_id, tables.snipes.c.rule_id == rule_id
        )
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else _snipe(row)

    async def save(self, snipe: Snipe) -> Snipe:
        now = self._clock()
        values: dict[str, object] = {name: getattr(snipe, name) for name in _SNIPE_FIELDS}
        values["outcome"] = snipe.outcome.value
        values["updated_at"] = now
        if snipe.id is None:
            result = await self._connection.execute(
                insert(tables.snipes)
                .values(
                    listing_id=snipe.listing_id, rule_id=snipe.rule_id, created_at=now, **values
                )
                .returning(tables.snipes.c.id)
            )
            return replace(snipe, id=result.scalar_one(), created_at=now)
        await self._connection.execute(
            update(tables.snipes).where(tables.snipes.c.id == snipe.id).values(**values)
        )
        return snipe

    async def for_listings(self, listing_ids: Sequence[int]) -> dict[int, list[Snipe]]:
        if not listing_ids:
            return {}
        query = (
            select(tables.snipes)
            .where(tables.snipes.c.listing_id.in_(list(listing_ids)))
            .order_by(tables.snipes.c.id)
        )
        found: dict[int, list[Snipe]] = {}
        for row in (await self._connection.execute(query)).mappings().all():
            snipe = _snipe(row)
            found.setdefault(snipe.listing_id, []).append(snipe)
        return found
