"""A listing merges its sightings: sources add up, the status only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mexcbot.domain.listings import Listing, ListingSighting, ListingSource, ListingStatus

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def sighting(source: ListingSource, **kw: object) -> ListingSighting:
    values: dict[str, object] = {
        "base_asset": "NEW",
        "quote_asset": "USDT",
        "source": source,
        "seen_at": T0 - timedelta(hours=1),
        "open_time": T0,
    }
    values.update(kw)
    return ListingSighting(**values)  # type: ignore[arg-type]


def test_first_sighting_is_announced_with_its_open_time() -> None:
    listing = Listing.first_seen(sighting(ListingSource.CALENDAR))
    assert listing.symbol == "NEWUSDT"
    assert listing.status is ListingStatus.ANNOUNCED
    assert listing.open_time == T0
    assert listing.sources == (ListingSource.CALENDAR,)


def test_second_source_adds_itself_once() -> None:
    listing = Listing.first_seen(sighting(ListingSource.CALENDAR))
    merged = listing.merge(sighting(ListingSource.WEB_SYMBOLS))
    assert merged.sources == (ListingSource.CALENDAR, ListingSource.WEB_SYMBOLS)
    assert merged.merge(sighting(ListingSource.WEB_SYMBOLS)) == merged
    assert merged.source is ListingSource.CALENDAR


def test_open_then_trading_keep_their_time_and_source() -> None:
    listing = Listing.first_seen(sighting(ListingSource.CALENDAR))
    opened = listing.merge(
        sighting(ListingSource.EXCHANGE_INFO, status=ListingStatus.OPEN, seen_at=T0, open_time=None)
    )
    assert opened.status is ListingStatus.OPEN
    assert (opened.opened_at, opened.opened_source) == (T0, ListingSource.EXCHANGE_INFO)
    later = T0 + timedelta(seconds=1)
    trading = opened.merge(
        sighting(ListingSource.MARKET_STREAM, status=ListingStatus.TRADING, seen_at=later)
    )
    assert trading.status is ListingStatus.TRADING
    assert trading.trading_at == later
    assert trading.opened_at == T0


def test_status_never_goes_back_and_open_time_is_fixed_once_open() -> None:
    opened = Listing.first_seen(sighting(ListingSource.EXCHANGE_INFO, status=ListingStatus.OPEN))
    lagging = opened.merge(sighting(ListingSource.CALENDAR, open_time=T0 + timedelta(hours=2)))
    assert lagging.status is ListingStatus.OPEN
    assert lagging.open_time == T0


def test_postponed_open_moves_an_announced_listing() -> None:
    listing = Listing.first_seen(sighting(ListingSource.CALENDAR))
    moved = listing.merge(sighting(ListingSource.ANNOUNCEMENT, open_time=T0 + timedelta(hours=1)))
    assert moved.open_time == T0 + timedelta(hours=1)


def test_a_less_precise_time_is_not_a_postponement() -> None:
    listing = Listing.first_seen(
        sighting(ListingSource.CALENDAR, open_time=T0 + timedelta(seconds=7))
    )
    rounded = listing.merge(sighting(ListingSource.ANNOUNCEMENT, open_time=T0))
    assert rounded.open_time == T0 + timedelta(seconds=7)
    assert rounded.sources == (ListingSource.CALENDAR, ListingSource.ANNOUNCEMENT)
