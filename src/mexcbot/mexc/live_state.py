"""The state `MexcLiveMarket` keeps per watched symbol, and the pure rules it applies: how pushed
trades become public trades, how the REST seed and the pushes merge into one complete list, and
when the top of a book lies within what its snapshot covered."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from mexcbot.domain.market import OrderBook, PriceLevel, PublicTrade
from mexcbot.domain.orders import OrderSide
from mexcbot.engine.freshness import Fresh
from mexcbot.mexc.streams import LocalOrderBook, Trades, channels

#: MEXC's recentTrades maximum: the ring holds as many as one REST call can seed.
TRADE_RING = 1000

_Key = tuple[int, Decimal, Decimal, bool]


def public_trades(trades: Trades) -> list[PublicTrade]:
    return [
        PublicTrade(
            price=t.price,
            qty=t.qty,
            quote_qty=t.price * t.qty,
            time=t.time,
            is_buyer_maker=t.side is OrderSide.SELL,  # the taker sold: the buyer was the maker
            trade_id=t.trade_id,
        )
        for t in trades.trades
    ]


def _key(trade: PublicTrade) -> _Key:
    return (trade.time, trade.price, trade.qty, trade.is_buyer_maker)


def merge_seed(seed: list[PublicTrade], pushed: list[PublicTrade]) -> list[PublicTrade]:
    """The REST seed (a snapshot of the tape) followed by the pushed trades it does not hold.

    REST trades carry no id, so a pushed trade is matched by (time, price, qty, side), as a
    multiset: a pushed trade as old as the seed's newest one that the seed holds is a duplicate;
    one older than the seed's newest that it does not hold fell out of the seed's limit.
    """
    ordered = sorted(seed, key=lambda t: t.time)  # oldest first, whatever the exchange's order
    if not ordered:
        return list(pushed)
    newest = ordered[-1].time
    held = Counter(_key(t) for t in ordered)
    merged = list(ordered)
    for trade in pushed:
        key = _key(trade)
        if trade.time <= newest and held[key] > 0:
            held[key] -= 1
        elif trade.time >= newest:
            merged.append(trade)
    return merged


@dataclass(eq=False)
class SymbolState:
    """One watched symbol: its book, its trade ring (complete once seeded), its best prices."""

    symbol: str
    book: LocalOrderBook
    trades: deque[PublicTrade] = field(default_factory=lambda: deque(maxlen=TRADE_RING))
    pending: list[PublicTrade] | None = field(default_factory=list)
    """Pushed trades buffered until the seed lands; None once the ring is complete."""
    seed_wanted: bool = True
    seeding: asyncio.Task[None] | None = None
    trades_seq: int = 0
    bid: Decimal | None = None
    ask: Decimal | None = None
    quoted: bool = False
    last: Decimal | None = None
    bid_floor: Decimal | None = None
    ask_ceiling: Decimal | None = None
    books: dict[int, tuple[int, Fresh[OrderBook]]] = field(default_factory=dict)
    trade_answers: dict[int, tuple[int, Fresh[list[PublicTrade]]]] = field(default_factory=dict)

    @property
    def channels(self) -> tuple[str, str, str]:
        s = self.symbol
        return (channels.trades(s), channels.depth(s), channels.book_ticker(s))


def complete_side(
    levels: tuple[PriceLevel, ...],
    limit: int,
    edge: Decimal | None,
    within: Callable[[Decimal, Decimal], bool],
) -> bool:
    """Whether the best `limit` levels of a side are all known: the whole side was in the
    snapshot (`edge` None), or the deepest level asked for lies within the snapshot's range."""
    if edge is None:
        return True
    if len(levels) < limit or not levels:
        return False
    return within(levels[-1].price, edge)
