"""What the listings API returns and accepts: listings with their steps and the snipes fired at
them (with their latency relative to the open)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mexcbot.api.times import UtcInstant
from mexcbot.domain.autobuy import RuleExecution
from mexcbot.domain.listings import Listing, ListingSource, ListingStatus
from mexcbot.store.listings import Snipe


class SnipeOut(BaseModel):
    rule_id: int
    rule_name: str
    outcome: str
    client_order_id: str | None
    position_id: int | None
    armed_ms: float | None = Field(description="Armed, in ms relative to the open (negative).")
    fired_ms: float | None = Field(description="First order sent, ms relative to the open.")
    accepted_ms: float | None = Field(description="First order accepted, ms after the open.")
    filled_ms: float | None = Field(description="Fill known to the bot, ms after the open.")
    attempts: int
    quantity: str | None = None
    average_price: str | None = None
    detail: str | None

    @classmethod
    def of(cls, snipe: Snipe, execution: RuleExecution | None = None) -> SnipeOut:
        return cls(
            rule_id=snipe.rule_id,
            rule_name=snipe.rule_name,
            outcome=snipe.outcome.value,
            client_order_id=snipe.client_order_id,
            position_id=snipe.position_id,
            armed_ms=latency_ms(snipe.armed_ms),
            fired_ms=latency_ms(snipe.fired_ms),
            accepted_ms=latency_ms(snipe.accepted_ms),
            filled_ms=latency_ms(snipe.filled_ms),
            attempts=snipe.attempts,
            quantity=_text(execution.quantity) if execution else None,
            average_price=_text(execution.average_price) if execution else None,
            detail=snipe.detail,
        )


def latency_ms(value: float | None) -> float | None:
    """Milliseconds to a tenth: the clocks behind them are no finer."""
    return None if value is None else round(value, 1)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class ListingOut(BaseModel):
    id: int
    symbol: str
    base_asset: str
    quote_asset: str
    full_name: str | None
    status: ListingStatus
    open_time: datetime | None = Field(description="The announced (or observed) open, UTC.")
    first_seen_at: datetime
    opened_at: datetime | None = Field(description="When the bot saw it tradable via the API.")
    trading_at: datetime | None = Field(description="When the bot saw its first trade.")
    source: ListingSource = Field(description="The first source that reported it.")
    sources: list[ListingSource]
    snipes: list[SnipeOut] = []

    @classmethod
    def of(cls, listing: Listing, snipes: list[SnipeOut] | None = None) -> ListingOut:
        assert listing.id is not None
        return cls(
            id=listing.id,
            symbol=listing.symbol,
            base_asset=listing.base_asset,
            quote_asset=listing.quote_asset,
            full_name=listing.full_name,
            status=listing.status,
            open_time=listing.open_time,
            first_seen_at=listing.first_seen_at,
            opened_at=listing.opened_at,
            trading_at=listing.trading_at,
            source=listing.source,
            sources=list(listing.sources),
            snipes=snipes or [],
        )


class ListingPageOut(BaseModel):
    listings: list[ListingOut]
    server_time: datetime = Field(description="The bot's clock, for countdowns.")


class ListingSourceOut(BaseModel):
    source: ListingSource
    interval_s: float
    healthy: bool
    polls: int
    failures: int
    last_error: str | None
    last_polled_at: datetime | None


class ListingSourcesOut(BaseModel):
    sources: list[ListingSourceOut]
    clock_offset_ms: int = Field(description="Exchange clock minus the bot's, last measured.")


class AnnounceListingBody(BaseModel):
    """A listing the user knows of (an announcement read elsewhere): the bot arms for it."""

    model_config = ConfigDict(extra="forbid")

    base_asset: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}$", examples=["NEWCOIN"])]
    quote_asset: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}$")] = "USDT"
    open_time: UtcInstant = Field(description="When trading opens (ISO 8601 with a zone).")
