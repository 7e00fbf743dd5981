"""One trading pair assembled: its rules, matching engine, trade tape and living market."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from mexcsim.market.book import BUY, SELL, Order
from mexcsim.market.liquidity import LivingMarket
from mexcsim.market.matching import MatchingEngine
from mexcsim.market.symbols import SymbolSpec
from mexcsim.market.tape import Candle, PublicTrade, Tape

PERSISTED_TRADES_PER_MARKET = 1000
"""Public trades a snapshot keeps per market: as many as one /trades or /aggTrades call returns."""
PERSISTED_CANDLES_PER_MARKET = 1440
"""1m candles a snapshot keeps per market: one day, the window of the 24 h ticker. The whole tape
(up to 10,000 trades and 7 days of candles per market) would make a save ~150 ms, not ~20 ms."""


@dataclass(frozen=True, slots=True)
class SavedMarket:
    spec: SymbolSpec
    book_version: int
    bids: tuple[str, ...]
    """Resting buy order ids, best first (price-time priority)."""
    asks: tuple[str, ...]
    mid_ticks: int
    rng_state: object
    """`random.Random.getstate()` of the market's random walk."""
    quotes: tuple[str, ...]
    """The liquidity provider's open quotes (withdrawn at its next requote)."""
    last_price: Decimal | None
    trades: tuple[PublicTrade, ...]
    candles: tuple[Candle, ...]
    opening_ramp: tuple[int, int] = (0, 0)
    """(start ms, length ms) of a listing's thin opening book (see `LivingMarket`)."""


@dataclass(slots=True)
class TradingPair:
    spec: SymbolSpec
    engine: MatchingEngine
    tape: Tape
    living: LivingMarket

    def saved(self) -> SavedMarket:
        """This pair's book, random walk and recent tape as a value (orders by id)."""
        book, tape = self.engine.book, self.tape
        candles = list(tape.candles)[-PERSISTED_CANDLES_PER_MARKET:]
        return SavedMarket(
            spec=self.spec,
            book_version=book.version,
            bids=tuple(o.order_id for o in book.bids.orders_in_priority()),
            asks=tuple(o.order_id for o in book.asks.orders_in_priority()),
            mid_ticks=self.living.mid_ticks,
            rng_state=self.living.rng_state(),
            quotes=tuple(o.order_id for o in self.living.quotes() if o.is_open),
            last_price=tape.last_price,
            trades=tuple(tape.recent_trades(PERSISTED_TRADES_PER_MARKET)),
            candles=tuple(dataclasses.replace(c) for c in candles),
            opening_ramp=self.living.opening_ramp,
        )

    def resume(self, saved: SavedMarket, orders: Mapping[str, Order]) -> None:
        """Continue from `saved` on this freshly built (empty) pair; ValueError when an order
        cannot rest in this book."""
        book = self.engine.book
        for ids, side in ((saved.bids, BUY), (saved.asks, SELL)):
            for order_id in ids:
                order = orders[order_id]
                if order.side != side or order.symbol != self.spec.symbol or not order.is_open:
                    raise ValueError(f"order {order_id} cannot rest in {self.spec.symbol} {side}")
                book.side_of(side).add(order)
        book.version = saved.book_version
        self.living.restore(
            saved.rng_state,
            saved.mid_ticks,
            [orders[i] for i in saved.quotes],
            saved.opening_ramp,
        )
        self.tape.last_price = saved.last_price
        self.tape.trades.extend(saved.trades)
        self.tape.candles.extend(dataclasses.replace(c) for c in saved.candles)
