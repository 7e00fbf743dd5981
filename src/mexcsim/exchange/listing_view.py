"""What the exchange tells about its listings: the new-coin calendar, the web symbol list, the
announcements (MEXC's shapes, see `mexcsim.market.listings` and `mexcsim.market.discovery`), and
for the admin API the schedule itself and the acceptance log.

A part of `SimExchange` kept in its own module, like `mexcsim.exchange.market_view`: these are
reads (only a due listing opens on the way).
"""

from __future__ import annotations

from typing import Protocol

from mexcsim.exchange.acceptance_log import AcceptanceLog
from mexcsim.market import discovery
from mexcsim.market.listings import ListingSchedule
from mexcsim.market.trading_pair import TradingPair


class _Exchange(Protocol):
    """What these views need of the facade."""

    _pairs: dict[str, TradingPair]
    _listings: ListingSchedule
    _acceptances: AcceptanceLog

    def open_due_listings(self) -> int: ...


class ListingView:
    def new_coin_calendar(self: _Exchange) -> dict[str, object]:
        return self._listings.calendar(self.open_due_listings())

    def web_symbols(self: _Exchange) -> dict[str, object]:
        """MEXC's web symbol list (``symbolsV2``): every open market and pending listing."""
        self.open_due_listings()
        listings = self._listings
        open_markets = [(pair.spec, listings.get(s)) for s, pair in self._pairs.items()]
        return discovery.web_symbols(open_markets, listings.pending())

    def announcements(self: _Exchange, page: int, page_size: int) -> dict[str, object]:
        """The listing announcements, newest first (one per listing ever scheduled)."""
        self.open_due_listings()
        listings = [*self._listings.pending(), *self._listings.opened()]
        return discovery.announcements(listings, page, page_size)

    def next_listing_open_ms(self: _Exchange) -> int | None:
        """When the next pending listing's API opens (None when none is pending), so a clock can
        wake up for it instead of waiting for its next tick."""
        return self._listings.next_open_ms

    def listings_report(self: _Exchange) -> list[dict[str, object]]:
        """Every listing with its announced time, API-open time and status (pending / open)."""
        self.open_due_listings()
        return self._listings.report()

    def accepted_orders(self: _Exchange, symbol: str) -> dict[str, object]:
        """The acceptance log of `symbol` (see `mexcsim.exchange.acceptance_log`)."""
        return self._acceptances.report(symbol.upper())

    def acceptance_counts(self: _Exchange) -> dict[str, object]:
        return self._acceptances.counts()
