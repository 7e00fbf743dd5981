"""The exchange's public market data in MEXC's shapes: symbols, book, trades, klines, tickers.

A part of `SimExchange` kept in its own module: reading the market never changes it (only a due
listing opens on the way, as on the real exchange), and the facade stays one concept per module.
A listed symbol whose API has not opened yet answers an empty book, zero tickers and no trades or
candles (`mexcsim.market.pending_data`); only unknown names get -1121. exchangeInfo carries a
per-symbol ``firstOpenTime``: a listing's announced time, `GENESIS_OPEN_MS` for the starting
markets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from mexcsim.market import market_data as public_data
from mexcsim.market import pending_data
from mexcsim.market.discovery import GENESIS_OPEN_MS
from mexcsim.market.listings import ListingSchedule
from mexcsim.market.trading_pair import TradingPair

#: One symbol's view, or every symbol's.
_Views = dict[str, object] | list[dict[str, object]]


class _Exchange(Protocol):
    """What these views need of the facade."""

    _pairs: dict[str, TradingPair]
    _listings: ListingSchedule

    def _now(self) -> int: ...

    def _pair(self, symbol: str) -> TradingPair: ...

    def open_due_listings(self) -> int: ...

    def _each(
        self,
        symbol: str | None,
        view: Callable[[TradingPair], dict[str, object]],
        pending: Callable[[str], dict[str, object]],
    ) -> _Views: ...


def _open_or_pending(ex: _Exchange, symbol: str) -> TradingPair | None:
    """The opened market, or None for a listing whose API has not opened; -1121 otherwise."""
    ex.open_due_listings()
    name = symbol.upper()
    if name not in ex._pairs and ex._listings.is_pending(name):
        return None
    return ex._pair(name)


class PublicMarketView:
    def default_symbols(self: _Exchange) -> dict[str, object]:
        now = self.open_due_listings()
        tradable = [s for s, v in self._pairs.items() if v.spec.tradable]
        return {"code": 0, "data": tradable, "msg": "success", "timestamp": now}

    def exchange_info(self: _Exchange, symbols: Sequence[str] | None) -> dict[str, object]:
        now = self.open_due_listings()
        entries = {s: v.spec.exchange_info_entry() for s, v in self._pairs.items()}
        for listing in self._listings.pending():
            entries[listing.spec.symbol] = listing.spec.exchange_info_entry(status="2")
        for symbol, entry in entries.items():
            listed = self._listings.get(symbol)
            entry["firstOpenTime"] = GENESIS_OPEN_MS if listed is None else listed.open_time_ms
        return public_data.exchange_info(entries, symbols, now)

    def depth(self: _Exchange, symbol: str, limit: int | None) -> dict[str, object]:
        pair = _open_or_pending(self, symbol)
        if pair is None:
            return pending_data.depth(limit, self._now())
        return public_data.depth(pair, limit, self._now())

    def trades(self: _Exchange, symbol: str, limit: int | None) -> list[dict[str, object]]:
        pair = _open_or_pending(self, symbol)
        return pending_data.trades(limit) if pair is None else public_data.trades(pair, limit)

    def agg_trades(
        self: _Exchange,
        symbol: str,
        limit: int | None,
        start_time: int | None,
        end_time: int | None,
    ) -> list[dict[str, object]]:
        pair = _open_or_pending(self, symbol)
        if pair is None:
            return pending_data.trades(limit)
        return public_data.agg_trades(pair, limit, start_time, end_time)

    def klines(
        self: _Exchange,
        symbol: str,
        interval: str,
        start_time: int | None,
        end_time: int | None,
        limit: int | None,
    ) -> list[list[object]]:
        pair = _open_or_pending(self, symbol)
        if pair is None:
            return pending_data.klines(interval, limit)
        return public_data.klines(pair, interval, start_time, end_time, limit)

    def avg_price(self: _Exchange, symbol: str) -> dict[str, object]:
        pair = _open_or_pending(self, symbol)
        if pair is None:
            return pending_data.avg_price()
        return public_data.avg_price(pair, self._now())

    def _each(
        self: _Exchange,
        symbol: str | None,
        view: Callable[[TradingPair], dict[str, object]],
        pending: Callable[[str], dict[str, object]],
    ) -> _Views:
        """One symbol's view (`pending` for a listing not open yet), or every open market's."""
        if symbol is not None:
            pair = _open_or_pending(self, symbol)
            return pending(symbol.upper()) if pair is None else view(pair)
        self.open_due_listings()
        return [view(v) for v in self._pairs.values()]

    def ticker_24hr(self: _Exchange, symbol: str | None) -> _Views:
        now = self._now()
        return self._each(
            symbol,
            lambda v: public_data.ticker_24hr(v, now),
            lambda s: pending_data.ticker_24hr(s, now),
        )

    def ticker_price(self: _Exchange, symbol: str | None) -> _Views:
        return self._each(symbol, public_data.ticker_price, pending_data.ticker_price)

    def book_ticker(self: _Exchange, symbol: str | None) -> _Views:
        return self._each(symbol, public_data.book_ticker, pending_data.book_ticker)
