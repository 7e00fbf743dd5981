"""Listing routes under ``/api/v1/listings``: upcoming and recent listings with their snipes,
the health of each discovery source, and a listing the user announces by hand.

Reading needs a read token; announcing a listing (which arms the NEW_LISTING rules for it)
needs a trade token and is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from mexcbot.api.context import Ctx, ReadAccess, TradeAccess, audit_target
from mexcbot.api.errors import problem_responses
from mexcbot.api.listing_schemas import (
    AnnounceListingBody,
    ListingOut,
    ListingPageOut,
    ListingSourceOut,
    ListingSourcesOut,
    SnipeOut,
)
from mexcbot.api.numbers import PlainInt
from mexcbot.engine.listings.service import ListingView, ListingWithSnipes

ListingId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The listing's id")]
router = APIRouter(prefix="/api/v1/listings", tags=["listings"])
_COMMON = problem_responses(401, 403, 422, 429)


def _out(found: ListingWithSnipes) -> ListingOut:
    return ListingOut.of(
        found.listing,
        [SnipeOut.of(s, found.executions.get(s.execution_id or 0)) for s in found.snipes],
    )


@router.get(
    "",
    response_model=ListingPageOut,
    responses=_COMMON,
    summary="Upcoming or recent listings, with their snipes and latency",
)
async def list_listings(
    ctx: Ctx,
    caller: ReadAccess,
    view: ListingView = ListingView.UPCOMING,
    limit: Annotated[PlainInt, Query(ge=1, le=500)] = 100,
) -> ListingPageOut:
    found = await ctx.listings.list(view, limit=limit)
    return ListingPageOut(listings=[_out(x) for x in found], server_time=datetime.now(UTC))


@router.get(
    "/sources",
    response_model=ListingSourcesOut,
    responses=_COMMON,
    summary="How each listing source is doing, and the exchange clock offset",
)
async def listing_sources(ctx: Ctx, caller: ReadAccess) -> ListingSourcesOut:
    return ListingSourcesOut(
        sources=[
            ListingSourceOut(
                source=s.source,
                interval_s=s.interval_s,
                healthy=s.healthy,
                polls=s.polls,
                failures=s.failures,
                last_error=s.last_error,
                last_polled_at=s.last_polled_at,
            )
            for s in ctx.listings.sources()
        ],
        clock_offset_ms=ctx.listings.clock_offset_ms,
    )


@router.get(
    "/{listing_id}",
    response_model=ListingOut,
    responses=problem_responses(401, 403, 404, 422, 429),
    summary="One listing with its snipes",
)
async def get_listing(listing_id: ListingId, ctx: Ctx, caller: ReadAccess) -> ListingOut:
    return _out(await ctx.listings.get(listing_id))


@router.post(
    "",
    response_model=ListingOut,
    status_code=201,
    responses=_COMMON,
    summary="Announce a listing by hand (arms the matching NEW_LISTING rules)",
)
async def announce_listing(
    body: AnnounceListingBody, request: Request, ctx: Ctx, caller: TradeAccess
) -> ListingOut:
    audit_target(request, f"{body.base_asset}{body.quote_asset}")
    listing = await ctx.listings.announce(body.base_asset, body.quote_asset, body.open_time)
    return ListingOut.of(listing)
