"""MarketInterest: a read watches its symbol once, an idle one is unwatched unless pinned (the price
feed follows it), and the on-demand bound keeps further symbols on REST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mexcbot.domain.market import OrderBook, PublicTrade
from mexcbot.engine.freshness import Fresh
from mexcbot.engine.market_interest import MarketInterest
from mexcbot.engine.ports import LiveMarket, LiveMarketStatus, PriceQuote, PriceUpdate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingLive:
    """A live market that only records what it was asked to watch."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._watched: set[str] = set()

    def watch(self, symbol: str) -> None:
        self.calls.append(("watch", symbol))
        self._watched.add(symbol)

    def unwatch(self, symbol: str) -> None:
        self.calls.append(("unwatch", symbol))
        self._watched.discard(symbol)

    def watched(self) -> frozenset[str]:
        return frozenset(self._watched)

    def book(self, symbol: str, limit: int) -> Fresh[OrderBook] | None:
        return None

    def trades(self, symbol: str, limit: int) -> Fresh[list[PublicTrade]] | None:
        return None

    def quote(self, symbol: str) -> Fresh[PriceQuote] | None:
        return None

    def status(self) -> LiveMarketStatus:
        return LiveMarketStatus(tuple(sorted(self._watched)), (), 0, 0, 0, 3.0)

    async def price_updates(self) -> AsyncIterator[PriceUpdate]:
        none: tuple[PriceUpdate, ...] = ()
        for update in none:
            yield update

    async def close(self) -> None:
        return None


def make(
    pinned: tuple[str, ...] = (), max_symbols: int = 50
) -> tuple[MarketInterest, RecordingLive, Clock]:
    live, clock = RecordingLive(), Clock()
    port: LiveMarket = live
    interest = MarketInterest(
        port, idle_s=60.0, max_symbols=max_symbols, pinned=lambda: pinned, clock=clock
    )
    return interest, live, clock


def test_a_read_watches_once_and_an_idle_symbol_is_unwatched() -> None:
    interest, live, clock = make()
    for _ in range(3):
        interest.read("BTCUSDT")
    assert live.calls == [("watch", "BTCUSDT")]
    clock.now += 59
    interest.read("BTCUSDT")  # read again: its idle time starts over
    clock.now += 59
    assert interest.sweep() == []
    clock.now += 1
    assert interest.sweep() == ["BTCUSDT"]
    assert live.calls[-1] == ("unwatch", "BTCUSDT")
    assert interest.watching == frozenset()
    interest.read("BTCUSDT")
    assert live.calls[-1] == ("watch", "BTCUSDT")


def test_a_pinned_symbol_stays_watched_and_does_not_count_against_the_bound() -> None:
    interest, live, clock = make(pinned=("BTCUSDT",), max_symbols=1)
    interest.read("BTCUSDT")
    interest.read("ETHUSDT")
    interest.read("MXUSDT")  # past the bound: stays on REST
    assert live.watched() == {"BTCUSDT", "ETHUSDT"}
    assert interest.refused == 1
    clock.now += 600
    assert interest.sweep() == ["ETHUSDT"]
    assert live.watched() == {"BTCUSDT"}
    interest.read("MXUSDT")  # room again
    assert live.watched() == {"BTCUSDT", "MXUSDT"}


def test_a_zero_bound_watches_only_pinned_symbols_and_bad_settings_are_refused() -> None:
    interest, live, _ = make(pinned=("BTCUSDT",), max_symbols=0)
    interest.read("ETHUSDT")
    interest.read("BTCUSDT")
    assert live.watched() == {"BTCUSDT"}
    with pytest.raises(ValueError, match="idle_s"):
        MarketInterest(live, idle_s=0)
    with pytest.raises(ValueError, match="max_symbols"):
        MarketInterest(live, max_symbols=-1)
